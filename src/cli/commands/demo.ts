import { existsSync } from "node:fs";
import { readdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import type { CommandModule } from "yargs";
import { evaluate } from "../../eval/evaluate.js";
import { renderText } from "../../eval/report.js";
import { letterDeviation } from "../../eval/variants.js";
import { writeHfCacheModel } from "../../fixtures/hf-cache-model.js";
import { exportGguf } from "../../gguf/export.js";
import { slerpMethod } from "../../methods/slerp.js";
import { loadRecipe, parseRecipe } from "../../recipe/load.js";
import { executeMerge } from "../merge-flags.js";
import { formatBytes, type Io } from "../output.js";
import { quickRecipe, withPortableRefs } from "./quick.js";

/** The stand-ins the demo writes into its own Hugging Face cache, with the real repo ids of the paper's models. */
export const DEMO_MODELS = {
	base: "mistralai/Mistral-7B-v0.1",
	instruct: "mistralai/Mistral-7B-Instruct-v0.1",
	bio: "BioMistral/BioMistral-7B",
} as const;

/** Tiny but Mistral-shaped: 32 layers (so the BioMistral recipes' layer ranges apply unmodified), GQA. */
const DEMO_SHAPE = { layers: 32, hidden: 64, intermediate: 128, heads: 4, kvHeads: 2, vocab: 64, dtype: "BF16" as const };

/** Sample questions the demo scores (3-shot, one seed): enough to show the loop, quick on any machine. */
const DEMO_EVAL_LIMIT = 3;

/** The bundled recipes the demo runs (merges/ in the package). */
export const DEMO_RECIPES = ["biomistral-slerp.yml", "biomistral-ties.yml", "biomistral-dare.yml"];

/** A path as one shell word: single-quoted unless it is plainly safe. */
function shellQuote(p: string): string {
	return /^[\w./-]+$/.test(p) ? p : `'${p.replace(/'/g, "'\\''")}'`;
}

function packageDir(): string {
	return path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
}

async function folderSize(dir: string): Promise<{ files: number; bytes: number }> {
	let files = 0;
	let bytes = 0;
	for (const name of await readdir(dir)) {
		files++;
		bytes += (await stat(path.join(dir, name))).size;
	}
	return { files, bytes };
}

/** Writes the three stand-in models: base → instruct (base + delta) → bio (instruct + delta), like the real lineage. */
export async function writeDemoCache(cache: string): Promise<void> {
	const base = await writeHfCacheModel(cache, DEMO_MODELS.base, { ...DEMO_SHAPE, seed: 1, force: true });
	const instruct = await writeHfCacheModel(cache, DEMO_MODELS.instruct, {
		...DEMO_SHAPE,
		seed: 2,
		base: base.dir,
		delta: 0.004,
		force: true,
	});
	await writeHfCacheModel(cache, DEMO_MODELS.bio, { ...DEMO_SHAPE, seed: 3, base: instruct.dir, delta: 0.004, force: true });
}

export function demoCommand(io: Io): CommandModule<object, { dir: string; quiet?: boolean }> {
	return {
		command: "demo",
		describe:
			"Generate tiny stand-ins for BioMistral-7B and Mistral-7B-Instruct in a local HF cache, merge them, " +
			"and score a merge on tfjs and (as GGUF) on llama.cpp",
		builder: (y) =>
			y
				.option("dir", { type: "string", default: ".demo", description: "Working folder (cache and outputs)" })
				.option("quiet", { type: "boolean" }) as never,
		handler: async (argv) => {
			const root = path.resolve(argv.dir);
			const cache = path.join(root, "hf-cache");
			const outRoot = path.join(root, "merged");
			await rm(cache, { recursive: true, force: true });
			io.err(`writing tiny stand-ins for ${Object.values(DEMO_MODELS).join(", ")} into ${cache}`);
			await writeDemoCache(cache);
			// Model references resolve through this cache exactly as through ~/.cache/huggingface/hub.
			process.env.HF_HUB_CACHE = cache;
			const flags = { force: true, quiet: argv.quiet ?? true };
			const outputs: string[] = [];
			io.err("$ merge slerp --a biomistral --b mistral --t 0.5");
			const { recipe } = quickRecipe(slerpMethod, { a: "biomistral", b: "mistral", t: 0.5 });
			const slerpOut = path.join(outRoot, "slerp-biomistral-mistral-t0.5");
			await executeMerge(io, parseRecipe(stringify(await withPortableRefs(recipe))), { ...flags, out: slerpOut }, "");
			outputs.push(slerpOut);
			for (const file of DEMO_RECIPES) {
				const recipePath = path.join(packageDir(), "merges", file);
				if (!existsSync(recipePath)) throw new Error(`bundled recipe ${recipePath} is missing`);
				const out = path.join(outRoot, file.replace(/\.yml$/, ""));
				io.err(`$ merge run merges/${file} --out ${path.relative(process.cwd(), out)}`);
				await executeMerge(io, await loadRecipe(recipePath), { ...flags, out }, "");
				outputs.push(out);
			}
			io.out("");
			io.out("merged models:");
			for (const out of outputs) {
				const { files, bytes } = await folderSize(out);
				io.out(`  ${path.relative(process.cwd(), out)}  (${files} files, ${formatBytes(bytes)})`);
			}
			// Score the SLERP merge on the bundled sample questions (random tiny weights: expect chance-level scores),
			// first with lm-merge's own tfjs forward pass, then exported to GGUF and scored by llama.cpp.
			const data = path.join(packageDir(), "examples", "data");
			const rel = (p: string) => path.relative(process.cwd(), p);
			const evalArgs =
				`--data ${rel(path.join(data, "medqa-sample.jsonl"))} ` +
				`--shots-from ${rel(path.join(data, "medqa-sample-train.jsonl"))} --limit ${DEMO_EVAL_LIMIT} --seeds 1`;
			const evalOpts = {
				data: path.join(data, "medqa-sample.jsonl"),
				shotsFrom: path.join(data, "medqa-sample-train.jsonl"),
				limit: DEMO_EVAL_LIMIT,
				seeds: 1,
			};
			io.err(`$ merge eval ${rel(slerpOut)} ${evalArgs}`);
			const report = await evaluate({ ...evalOpts, models: [slerpOut] });
			const gguf = `${slerpOut}.f32.gguf`;
			io.err(`$ merge export ${rel(slerpOut)} --type f32 --out ${rel(gguf)}`);
			await exportGguf(slerpOut, { type: "f32", out: gguf, force: true });
			io.err(`$ merge eval ${rel(gguf)} --tokenizer ${rel(slerpOut)} --backend llama ${evalArgs}`);
			const llama = await evaluate({
				...evalOpts,
				models: [gguf],
				tokenizer: slerpOut,
				modelNames: [path.basename(gguf)],
				backend: "llama",
			});
			io.out("");
			io.out(renderText(report).trimEnd());
			io.out("");
			io.out(renderText(llama).trimEnd());
			const dev = letterDeviation(llama, report);
			io.out("");
			io.out(
				`llama.cpp (f32, exact mode) vs tfjs on the same ${dev.prompts} prompts: ` +
					`letter probabilities differ by at most ${dev.max_abs.toExponential(1)}`,
			);
			io.out("");
			// The stand-ins live in this cache, not in the user's: the README's examples need it exported.
			io.out(`next: export HF_HUB_CACHE=${shellQuote(cache)}   # then the README's examples run against these stand-ins`);
			io.out(`      merge inspect ${rel(outputs[0]!)}`);
		},
	};
}
