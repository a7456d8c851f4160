import path from "node:path";
import { UsageError } from "../errors.js";
import { type ExportGgufResult, exportGgufIter } from "../gguf/export.js";
import { GGUF_EXPORT_TYPES, type GgufExportType, isGgufExportType } from "../gguf/mix.js";
import type { Io } from "./output.js";
import { createExportRenderer } from "./render-export.js";

/** Parses `--type q8_0,q4_k_m` (also repeated flags), lower-cased, without duplicates. */
export function parseGgufTypes(raw: string | string[] | undefined, flag: string): GgufExportType[] {
	const items = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw])
		.flatMap((s) => String(s).split(","))
		.map((s) => s.trim().toLowerCase())
		.filter((s) => s !== "");
	if (items.length === 0) throw new UsageError(`${flag}: name at least one type (${GGUF_EXPORT_TYPES.join(", ")})`);
	for (const t of items) {
		if (!isGgufExportType(t)) throw new UsageError(`${flag} ${t}: expected one of ${GGUF_EXPORT_TYPES.join(", ")}`);
	}
	return [...new Set(items)] as GgufExportType[];
}

/**
 * Where each type goes: `--out x.gguf` names the file (one type only); any other `--out` is a folder that
 * receives `<name>-<type>.gguf`; without `--out`, `defaultDir`.
 */
export function ggufOutputs(
	types: readonly GgufExportType[],
	name: string,
	out: string | undefined,
	defaultDir: string,
): Array<{ type: GgufExportType; out: string }> {
	if (out?.toLowerCase().endsWith(".gguf")) {
		if (types.length > 1) throw new UsageError(`--out ${out}: several types (${types.join(", ")}) need a folder, not a file name`);
		return [{ type: types[0]!, out }];
	}
	return types.map((type) => ({ type, out: path.join(out ?? defaultDir, `${name}-${type}.gguf`) }));
}

/**
 * Runs exports one after another with progress rendering; Ctrl-C stops the current one (its temporary
 * file is removed) and a second Ctrl-C quits at once.
 */
export async function runExports(
	io: Io,
	model: string,
	jobs: ReadonlyArray<{ type: GgufExportType; out: string }>,
	opts: { force: boolean; quiet: boolean; name?: string; threads?: number },
): Promise<ExportGgufResult[]> {
	const controller = new AbortController();
	let interrupts = 0;
	const onSigint = () => {
		interrupts++;
		if (interrupts > 1) process.exit(130);
		io.err("interrupt: stopping and removing the unfinished GGUF file (Ctrl-C again to quit now)");
		controller.abort();
	};
	process.on("SIGINT", onSigint);
	const results: ExportGgufResult[] = [];
	try {
		for (const job of jobs) {
			const renderer = createExportRenderer(io, opts.quiet);
			try {
				const gen = exportGgufIter(model, {
					type: job.type,
					out: job.out,
					force: opts.force,
					signal: controller.signal,
					...(opts.name !== undefined ? { name: opts.name } : {}),
					...(opts.threads !== undefined ? { threads: opts.threads } : {}),
				});
				for (;;) {
					const r = await gen.next();
					if (r.done === true) {
						results.push(r.value);
						break;
					}
					renderer.onEvent(r.value);
				}
			} finally {
				renderer.stop();
			}
		}
	} finally {
		process.off("SIGINT", onSigint);
	}
	return results;
}
