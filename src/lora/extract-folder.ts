/**
 * `merge extract-lora` as a library call: resolves and opens the two models (any model reference, `model+adapter`
 * included), extracts the adapter (extract.ts) and writes the PEFT folder atomically: adapter_model.safetensors,
 * adapter_config.json and a README.md holding the per-module error table.
 */
import { open } from "node:fs/promises";
import { OutputFolder } from "../io/output-folder.js";
import { assertNoOverlap } from "../io/output-guard.js";
import { writeAt } from "../io/writer.js";
import { resolveModelWithAdapter } from "../model/adapter-ref.js";
import type { ModelSource } from "../model/model-source.js";
import type { ResolveOptions } from "../model/refs.js";
import { type ExtractEvent, type ExtractedAdapter, type ExtractedModule, type ExtractOptions, extractLora } from "./extract.js";
import { openModelWithAdapter } from "./open.js";

/** Options of {@link extractLoraAdapter}: rank and precision of the adapter, where to write it, how models resolve. */
interface ExtractLoraOptions extends ExtractOptions, Pick<ResolveOptions, "cwd" | "env" | "aliasesFile"> {
	/** The adapter folder; it appears only when complete. */
	out: string;
	force?: boolean;
}

/** What {@link extractLoraAdapter} wrote, and how well the adapter reproduces the difference between the models. */
export interface ExtractLoraResult {
	out: string;
	files: string[];
	rank: number;
	modules: ExtractedModule[];
	skipped: Array<{ tensor: string; reason: string }>;
	/** Mean and largest relative reconstruction error over the modules, and the module with the largest. */
	meanError: number;
	maxError: number;
	worst: string;
	seconds: number;
}

/** Progress of an extraction: each module as it is factorized, skipped tensors, the end. */
type ExtractLoraEvent = ExtractEvent | { event: "done"; out: string; seconds: number };

/** The adapter's weights file, as PEFT names it. */
const ADAPTER_WEIGHTS_FILE = "adapter_model.safetensors";

async function openRef(ref: string, opts: ExtractLoraOptions): Promise<{ source: ModelSource; name: string }> {
	const r = await resolveModelWithAdapter(ref, opts);
	// --force replaces the output folder: it must never be (or contain, or sit in) an input, by real path and inode.
	await assertNoOverlap(opts.out, [
		{ path: r.model.path, label: ref },
		...(r.adapter !== undefined ? [{ path: r.adapter.path, label: `the adapter of ${ref}` }] : []),
	]);
	const source = await openModelWithAdapter({ path: r.model.path, ...(r.adapter !== undefined ? { adapter: r.adapter.path } : {}) });
	return { source, name: r.model.repoId ?? ref };
}

/** Extracts a rank-`opts.rank` adapter turning `baseRef` into (approximately) `modelRef`. */
export async function* extractLoraIter(
	baseRef: string,
	modelRef: string,
	opts: ExtractLoraOptions,
): AsyncGenerator<ExtractLoraEvent, ExtractLoraResult> {
	const started = performance.now();
	const base = await openRef(baseRef, opts);
	try {
		const model = await openRef(modelRef, opts);
		try {
			const adapter = yield* extractLora(base.source, model.source, { ...opts, baseName: opts.baseName ?? base.name });
			const files = await writeAdapterFolder(opts.out, adapter, opts.force ?? false, readme(baseRef, modelRef, opts.rank, adapter));
			const seconds = (performance.now() - started) / 1000;
			yield { event: "done", out: opts.out, seconds };
			const errors = adapter.modules.map((m) => m.error);
			const worst = adapter.modules.reduce((a, m) => (m.error > a.error ? m : a));
			return {
				out: opts.out,
				files,
				rank: opts.rank,
				modules: adapter.modules,
				skipped: adapter.skipped,
				meanError: errors.reduce((a, e) => a + e, 0) / errors.length,
				maxError: worst.error,
				worst: worst.module,
				seconds,
			};
		} finally {
			await model.source.close();
		}
	} finally {
		await base.source.close();
	}
}

/** Runs an extraction to completion; `onEvent` sees every event. */
export async function extractLoraAdapter(
	baseRef: string,
	modelRef: string,
	opts: ExtractLoraOptions & { onEvent?: (e: ExtractLoraEvent) => void },
): Promise<ExtractLoraResult> {
	const gen = extractLoraIter(baseRef, modelRef, opts);
	for (;;) {
		const r = await gen.next();
		if (r.done === true) return r.value;
		opts.onEvent?.(r.value);
	}
}

/** Writes the adapter folder (one safetensors file, the config, the card); returns the file names. */
async function writeAdapterFolder(out: string, adapter: ExtractedAdapter, force: boolean, card: string): Promise<string[]> {
	const folder = await OutputFolder.create(
		out,
		adapter.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape })),
		{
			maxShardBytes: Number.MAX_SAFE_INTEGER,
			singleFileName: ADAPTER_WEIGHTS_FILE,
			force,
		},
	);
	let committed = false;
	try {
		const file = folder.target(adapter.tensors[0]!.name).file;
		const handle = await open(file, "r+");
		try {
			for (const t of adapter.tensors) await writeAt(handle, t.data, folder.target(t.name).position, file);
		} finally {
			await handle.close();
		}
		for (const t of adapter.tensors) await folder.tensorWritten(t.name);
		await folder.writeFile("adapter_config.json", `${JSON.stringify(adapter.config, null, 2)}\n`);
		await folder.writeFile("README.md", card);
		await folder.commit();
		committed = true;
		return folder.files;
	} finally {
		if (!committed) await folder.close(false);
	}
}

function readme(baseRef: string, modelRef: string, rank: number, adapter: ExtractedAdapter): string {
	const rows = adapter.modules.map((m) => `| \`${m.module}\` | ${m.kind} | ${m.rank} | ${m.error.toExponential(3)} |`);
	const skipped = adapter.skipped.filter((s) => s.reason !== "unchanged").map((s) => `- \`${s.tensor}\`: ${s.reason}`);
	return [
		"---",
		"library_name: peft",
		"tags:",
		"- lm-merge",
		"- lora",
		"---",
		`# LoRA extracted from \`${modelRef}\``,
		"",
		`A rank-${rank} LoRA adapter for \`${baseRef}\`, extracted with lm-merge (\`merge extract-lora\`): a truncated SVD of`,
		"each weight's difference, split as B = U·√S, A = √S·Vᵀ, with lora_alpha = r (scale 1).",
		"",
		"| module | kind | rank | relative error ‖Δ − BA‖ / ‖Δ‖ |",
		"|---|---|---|---|",
		...rows,
		"",
		...(skipped.length > 0 ? ["Not captured by the adapter:", "", ...skipped, ""] : []),
	].join("\n");
}
