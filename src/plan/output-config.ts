import { setConfigValue } from "../arch/config-values.js";
import { listNames } from "../arch/resolve.js";
import { type FloatDtype, torchDtypeName } from "../io/dtypes.js";
import { configJsonOf } from "../model/model-source.js";
import type { PlannedModel } from "./types.js";

/**
 * config.json of the output: the donor's, with `torch_dtype` set to the output dtype, every key of its family that
 * holds the layer count (GPT-2's `n_layer`, Falcon's `num_hidden_layers` and legacy `n_layer`, ...) set to the merged
 * count, and, when the vocabulary changed (a built tokenizer, padding, truncation), every vocabulary-size key.
 */
export function outputConfig(
	donor: PlannedModel,
	outDtype: FloatDtype | undefined,
	numLayers: number,
	vocabRows: number | undefined,
): Record<string, unknown> | undefined {
	const raw = configJsonOf(donor.source);
	if (raw === undefined) return undefined;
	const config: Record<string, unknown> = structuredClone(raw);
	if (outDtype !== undefined) config.torch_dtype = torchDtypeName(outDtype);
	for (const key of donor.arch.layerCountKeys) setConfigValue(config, key, numLayers);
	if (vocabRows !== undefined) for (const key of donor.arch.vocabSizeKeys) setConfigValue(config, key, vocabRows);
	return config;
}

/**
 * What the architecture check found, as warnings: an unknown family (inferred from tensor names, and which config
 * keys will hold the layer count), and a known family's checkpoint that lacks tensors its definition lists or holds
 * tensors it does not list (merged by name either way).
 */
export function architectureWarnings(models: readonly PlannedModel[]): string[] {
	const out: string[] = [];
	for (const m of models) {
		const a = m.arch;
		if (!a.spec.known) {
			const keys =
				a.layerCountKeys.length > 0
					? `config.json's ${a.layerCountKeys.join(", ")} will hold the merged layer count`
					: "config.json holds no layer count lm-merge recognises";
			out.push(
				`${m.ref}: unknown architecture "${a.declared}": layers, embeddings and the lm_head tie are inferred from tensor names; ${keys}`,
			);
			continue;
		}
		if (a.missing.length > 0)
			out.push(
				`${m.ref} (${a.spec.name}) lacks ${a.missing.length} tensor(s) its definition lists: ` +
					`${listNames(a.missing)}; tensors are merged by name`,
			);
		if (a.unexpected.length > 0)
			out.push(
				`${m.ref} (${a.spec.name}) holds ${a.unexpected.length} tensor(s) its definition does not list: ` +
					`${listNames(a.unexpected)}; they are merged by name`,
			);
	}
	return out;
}
