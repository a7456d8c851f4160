import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { UsageError } from "../errors.js";
import { defaultStorePath } from "../sweep/report-source.js";

/** The store and sweep name `merge sweep status|best` read: --store, else SWEEP.sqlite beside the sweep file. */
export function storeAndSweep(file: string | undefined, store: string | undefined): { store: string; sweep?: string } {
	if (file === undefined && store === undefined) throw new UsageError("name the sweep file or its --store");
	if (file === undefined) return { store: path.resolve(store as string) };
	let name = path.basename(file).replace(/\.ya?ml$/i, "");
	try {
		const doc = parse(readFileSync(file, "utf8")) as { name?: unknown } | null;
		if (typeof doc?.name === "string") name = doc.name;
	} catch {
		// A missing or broken sweep file still names its default store.
	}
	return { store: path.resolve(store ?? defaultStorePath(file)), sweep: name };
}
