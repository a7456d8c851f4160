import { layerIndexOf, renameLayer } from "../arch/detect.js";
import { PlanError } from "../errors.js";
import type { MergeMethod } from "../methods/types.js";
import type { ParamTable, Recipe } from "../recipe/schema.js";
import type { PlannedModel } from "./types.js";

/** One source of a slice, with model indices resolved. */
export interface PlanSource {
	model: number;
	layerStart: number;
	layerEnd: number;
	params: ParamTable;
	/** YAML path of the source ("models[1]", "slices[0].sources[1]"), or "base_model" when appended. */
	path: string;
}

export interface PlanSlice {
	sources: PlanSource[];
	/** Index of the base source within `sources`, when the method uses a base. */
	baseSource: number | undefined;
	params: ParamTable;
	path: string;
}

/** One output tensor before parameter resolution. */
export interface OutputTensor {
	name: string;
	/** Input tensor name per source of its slice (same order). */
	inputNames: string[];
	slice: PlanSlice;
	/** Position in the layer gradient: layerT(k, sliceLength) for layer tensors, 0 otherwise. */
	layer: { index: number; count: number } | undefined;
}

/**
 * Number of transformer layers of a model: config.json's (under its family's keys: `num_hidden_layers`, GPT-2's
 * `n_layer`, EXAONE's `num_layers`, ...), else the highest layer index in its tensor names + 1.
 */
export function layerCount(model: PlannedModel): number {
	return model.arch.layerCount;
}

/**
 * mergekit's normalisation: `models:` becomes one slice spanning every layer; the base model, when the method
 * uses one and it is not listed, is appended as one more source without parameters.
 */
export function normalizeSlices(recipe: Recipe, method: MergeMethod, models: PlannedModel[], indexOf: Map<string, number>): PlanSlice[] {
	const idx = (ref: string) => indexOf.get(ref) as number;
	const usesBase = method.base !== "none";
	const raw: { sources: PlanSource[]; baseRef: string | undefined; params: ParamTable; path: string }[] = [];
	if (recipe.models !== undefined) {
		const sources = recipe.models.map((m) => {
			const model = idx(m.model);
			const n = layerCount(models[model]!);
			return { model, layerStart: 0, layerEnd: n, params: m.parameters, path: m.path };
		});
		raw.push({ sources, baseRef: recipe.baseModel, params: {}, path: "models" });
	} else {
		(recipe.slices ?? []).forEach((s, i) => {
			const sources = s.sources.map((src, j) => ({
				model: idx(src.model),
				layerStart: src.layerRange[0],
				layerEnd: src.layerRange[1],
				params: src.parameters,
				path: `slices[${i}].sources[${j}]`,
			}));
			raw.push({ sources, baseRef: s.baseModel ?? recipe.baseModel, params: s.parameters, path: `slices[${i}]` });
		});
	}
	return raw.map((s) => {
		const sources = [...s.sources];
		for (const src of sources) {
			const n = layerCount(models[src.model]!);
			// `models:` spans [0, n), which is empty for a checkpoint without layers (e.g. embeddings only): allowed.
			const empty = src.layerStart >= src.layerEnd && !(s.path === "models" && n === 0);
			if (src.layerStart < 0 || src.layerEnd > n || empty) {
				throw new PlanError(
					"LayerRange",
					`${src.path}.layer_range: [${src.layerStart}, ${src.layerEnd}] ` +
						`is not a valid range for ${models[src.model]!.ref}, which has ${n} layers ` +
						`(a range is [start, end) with 0 <= start < end <= ${n})`,
				);
			}
		}
		const len = sources[0]!.layerEnd - sources[0]!.layerStart;
		for (const src of sources) {
			if (src.layerEnd - src.layerStart !== len) {
				throw new PlanError(
					"LayerRange",
					`${s.path}: all sources must span the same number of layers, ` +
						`but ${models[sources[0]!.model]!.ref} has ${len} and ${models[src.model]!.ref} has ${src.layerEnd - src.layerStart}`,
				);
			}
		}
		let baseSource: number | undefined;
		if (usesBase && s.baseRef !== undefined) {
			const b = idx(s.baseRef);
			baseSource = sources.findIndex((src) => src.model === b);
			if (baseSource < 0) {
				const first = sources[0]!;
				sources.push({ model: b, layerStart: first.layerStart, layerEnd: first.layerEnd, params: {}, path: "base_model" });
				baseSource = sources.length - 1;
			}
		}
		return { sources, baseSource, params: s.params, path: s.path };
	});
}

/** The name of `name` in model `m`, following a head to the embeddings when the model ties them (its family's rule). */
export function findTensor(model: PlannedModel, name: string): string | undefined {
	if (model.source.has(name)) return name;
	const tied = model.arch.tied.get(name);
	if (tied !== undefined && model.source.has(tied)) return tied;
	return undefined;
}

/**
 * The output tensors in write order: embeddings (from the first slice), every slice's layers renumbered
 * consecutively, then the final norm and lm_head (from the last slice). Missing inputs are reported here.
 */
export function outputTensors(slices: PlanSlice[], models: PlannedModel[]): OutputTensor[] {
	const out: OutputTensor[] = [];
	const donorOf = (s: PlanSlice) => s.sources[s.baseSource ?? 0]!;
	const nonLayer = (s: PlanSlice) => {
		const names = new Set<string>();
		for (const src of s.sources) {
			for (const n of models[src.model]!.source.names()) if (layerIndexOf(n) === undefined) names.add(n);
		}
		// Order: the donor's own order first, then names only other sources have.
		const donorNames = models[donorOf(s).model]!.source.names().filter((n) => names.has(n));
		return [...donorNames, ...[...names].filter((n) => !donorNames.includes(n))];
	};
	const inputsFor = (s: PlanSlice, nameIn: (src: PlanSource) => string, outName: string) =>
		s.sources.map((src) => {
			const wanted = nameIn(src);
			const found = findTensor(models[src.model]!, wanted);
			if (found === undefined) {
				throw new PlanError(
					"MissingTensor",
					`tensor "${wanted}" (for output "${outName}") is missing from ${models[src.model]!.ref} (${models[src.model]!.path})`,
					outName,
				);
			}
			return found;
		});
	const first = slices[0]!;
	const last = slices[slices.length - 1]!;
	const firstNonLayer = nonLayer(first);
	const isPre = (s: PlanSlice, n: string) => s.sources.some((src) => models[src.model]!.arch.preNames.has(n));
	const pre = firstNonLayer.filter((n) => isPre(first, n));
	for (const name of pre) out.push({ name, inputNames: inputsFor(first, () => name, name), slice: first, layer: undefined });
	let offset = 0;
	for (const s of slices) {
		const donor = donorOf(s);
		const templates = models[donor.model]!.source.names().filter((n) => layerIndexOf(n) === donor.layerStart);
		const len = donor.layerEnd - donor.layerStart;
		for (let k = 0; k < len; k++) {
			for (const tpl of templates) {
				const name = renameLayer(tpl, offset + k);
				const inputNames = inputsFor(s, (src) => renameLayer(tpl, src.layerStart + k), name);
				out.push({ name, inputNames, slice: s, layer: { index: k, count: len } });
			}
		}
		offset += len;
	}
	const post = nonLayer(last).filter((n) => !isPre(last, n) && !pre.includes(n));
	for (const name of post) {
		// A tied head present in only some inputs: keep it when any input has it separately.
		const tiedHead = last.sources.some((src) => models[src.model]!.arch.tied.has(name));
		if (tiedHead && !last.sources.some((src) => models[src.model]!.source.has(name))) continue;
		out.push({ name, inputNames: inputsFor(last, () => name, name), slice: last, layer: undefined });
	}
	return out;
}
