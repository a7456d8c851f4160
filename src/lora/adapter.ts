/**
 * A PEFT LoRA adapter folder: `adapter_config.json` and `adapter_model.safetensors` (or `adapter_model.bin`, read by
 * the restricted `.bin` reader). Weight names follow PEFT's saved layout: `base_model.model.<module>.lora_A.weight` /
 * `lora_B.weight` for linear layers, `base_model.model.<module>.lora_embedding_A` / `_B` for embeddings, and any other
 * `base_model.model.<tensor>` (modules_to_save, biases) as a full replacement of that tensor.
 */
import { stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { LoraError } from "../errors.js";
import { openSafetensors } from "../io/reader.js";
import { openTorchBin } from "../io/torch-bin/torch-bin-file.js";
import type { TensorSource } from "../io/types.js";
import { type AdapterConfig, moduleScaling, readAdapterConfig } from "./adapter-config.js";

/** PEFT's prefix of every saved LoRA weight (PeftModel → LoraModel → the transformers model). */
export const PEFT_PREFIX = "base_model.model.";

/** Weight files PEFT writes, in the order it prefers them. */
const ADAPTER_WEIGHT_FILES = ["adapter_model.safetensors", "adapter_model.bin"] as const;

/** One adapted module: the names of its two factors in the adapter file, its rank and PEFT's scale for it. */
export interface LoraModule {
	/** Module name inside the model (`model.layers.0.self_attn.q_proj`); the adapted tensor is `<module>.weight`. */
	module: string;
	kind: "linear" | "embedding";
	/** A: (r, in) for linear layers, (r, num_embeddings) for embeddings. */
	a: string;
	/** B: (out, r) for linear layers, (embedding_dim, r) for embeddings. */
	b: string;
	rank: number;
	/** α / r, or α / √r with use_rslora. */
	scale: number;
}

export interface LoraAdapter {
	/** Absolute path of the adapter folder. */
	dir: string;
	config: AdapterConfig;
	/** The adapter's weights. */
	source: TensorSource;
	/** The weight file (for messages and resume fingerprints). */
	files: string[];
	/** Adapted modules, by the model tensor they change (`<module>.weight`). */
	modules: Map<string, LoraModule>;
	/** Model tensor → adapter tensor that replaces it whole (modules_to_save, biases). */
	replacements: Map<string, string>;
	close(): Promise<void>;
}

const FACTOR_RE = /^(.+)\.(lora_A|lora_B)\.weight$|^(.+)\.(lora_embedding_A|lora_embedding_B)$/;

/** Opens an adapter folder and checks its tensors against its config. Throws LoraError. */
export async function openAdapter(path: string): Promise<LoraAdapter> {
	const dir = resolve(path);
	const config = await readAdapterConfig(dir);
	let weights: string | undefined;
	for (const name of ADAPTER_WEIGHT_FILES) {
		if (
			await stat(join(dir, name)).then(
				(s) => s.isFile(),
				() => false,
			)
		) {
			weights = join(dir, name);
			break;
		}
	}
	if (weights === undefined) throw new LoraError("MissingWeights", dir, `no ${ADAPTER_WEIGHT_FILES.join(" or ")}`);
	const source = weights.endsWith(".bin") ? await openTorchBin(weights) : await openSafetensors(weights);
	try {
		const { modules, replacements } = indexTensors(dir, config, source);
		return { dir, config, source, files: [weights], modules, replacements, close: () => source.close() };
	} catch (err) {
		await source.close();
		throw err;
	}
}

/** Groups the adapter's tensors into modules (A + B) and replacements; checks ranks against the config. */
function indexTensors(dir: string, config: AdapterConfig, source: TensorSource): Pick<LoraAdapter, "modules" | "replacements"> {
	const factors = new Map<string, { kind: "linear" | "embedding"; a?: string; b?: string }>();
	const replacements = new Map<string, string>();
	for (const name of source.names()) {
		if (!name.startsWith(PEFT_PREFIX))
			throw new LoraError("InvalidWeights", dir, `tensor "${name}" does not start with "${PEFT_PREFIX}" (not a PEFT adapter file)`);
		const inner = name.slice(PEFT_PREFIX.length);
		const m = FACTOR_RE.exec(inner);
		if (m !== null) {
			const module = m[1] ?? m[3]!;
			const part = m[2] ?? m[4]!;
			const kind = part.startsWith("lora_embedding") ? "embedding" : "linear";
			const entry = factors.get(module) ?? { kind };
			if (entry.kind !== kind) throw new LoraError("InvalidWeights", dir, `module "${module}" has both linear and embedding LoRA factors`);
			if (part.endsWith("A")) entry.a = name;
			else entry.b = name;
			factors.set(module, entry);
			continue;
		}
		if (inner.split(".").some((s) => s.startsWith("lora_"))) {
			throw new LoraError(
				"Unsupported",
				dir,
				`tensor "${name}" is not a LoRA A/B factor lm-merge can apply (DoRA magnitudes and other variants are not supported)`,
			);
		}
		// modules_to_save and biases: PEFT saves `<module>.base_layer.bias` for a wrapped layer, older versions
		// `<module>.modules_to_save.weight`; the model tensor has neither segment.
		const target = inner
			.split(".")
			.filter((s) => s !== "base_layer" && s !== "modules_to_save")
			.join(".");
		replacements.set(target, name);
	}
	const modules = new Map<string, LoraModule>();
	for (const [module, f] of factors) {
		if (f.a === undefined || f.b === undefined) {
			throw new LoraError(
				"MissingWeights",
				dir,
				`module "${module}" has ${f.a !== undefined ? "lora_A but no lora_B" : "lora_B but no lora_A"}`,
			);
		}
		const a = source.info(f.a).shape;
		const b = source.info(f.b).shape;
		if (a.length !== 2 || b.length !== 2 || a[0] !== b[1]) {
			throw new LoraError(
				"InvalidWeights",
				dir,
				`module "${module}": A is [${a.join(", ")}] and B is [${b.join(", ")}]; expected A (r, in) and B (out, r)`,
			);
		}
		const { rank, scale } = moduleScaling(config, module);
		if (a[0] !== rank) {
			throw new LoraError(
				"InvalidWeights",
				dir,
				`module "${module}" has rank ${a[0]} in its weights but ${rank} in ${"adapter_config.json"} (r / rank_pattern)`,
			);
		}
		modules.set(`${module}.weight`, { module, kind: f.kind, a: f.a, b: f.b, rank, scale });
	}
	if (modules.size === 0 && replacements.size === 0) throw new LoraError("MissingWeights", dir, "the adapter holds no tensors");
	return { modules, replacements };
}
