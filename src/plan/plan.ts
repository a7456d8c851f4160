import os from "node:os";
import { PlanError } from "../errors.js";
import { dtypeBytes, type FloatDtype, isFloatDtype } from "../io/dtypes.js";
import { BUILTIN_METHODS, createRegistry, type MethodRegistry } from "../methods/registry.js";
import type { MergeMethod } from "../methods/types.js";
import { configJsonOf } from "../model/model-source.js";
import { filtersOf, layerT } from "../recipe/params.js";
import type { Recipe } from "../recipe/schema.js";
import { suggestName } from "../suggest.js";
import { formatShape, numel, shapeEquals } from "../tensor/tensor.js";
import { checkChatTemplate } from "./chat-template.js";
import { checkSettingValues, paramTables } from "./check-settings.js";
import { type CompatMode, type CompatPlan, checkCompatDtype, checkCompatMethod, compatJob, compatWarnings } from "./compat.js";
import { estimatePeakMemory } from "./memory.js";
import { type OpenModelsOptions, openRecipeModels } from "./open-models.js";
import { architectureWarnings, outputConfig } from "./output-config.js";
import { resolveJobParams } from "./resolve-params.js";
import { normalizeSlices, type OutputTensor, outputTensors, type PlanSlice } from "./slices.js";
import { planTokenizerDir } from "./tokenizer-source.js";
import type { JobInput, MergePlan, PlannedModel, TensorJob } from "./types.js";
import { attachVocab } from "./vocab-jobs.js";
import { vocabularyFor } from "./vocab-source.js";

/** How {@link buildPlan} resolves a recipe: overrides of the recipe's settings, the method registry, model lookup. */
export interface PlanOptions extends OpenModelsOptions {
	registry?: MethodRegistry;
	/** Overrides the recipe's out_dtype/dtype. */
	dtype?: FloatDtype;
	/** Overrides the recipe's seed. */
	seed?: number;
	/** Allow mergekit's truncation of embeddings to the common sub-matrix (also `truncate_vocab: true`). */
	truncateVocab?: boolean;
	/** Allow models whose config.json names different architectures (mergekit's --allow-crimes). */
	allowArchitectureMismatch?: boolean;
	/** Worker threads the merge will use (for the memory estimate; default: the number of cores). */
	threads?: number;
	/** Overrides the recipe's `compat` ("mergekit": mergekit's arithmetic in the recipe dtype; see plan/compat.ts). */
	compat?: CompatMode;
}

/** Unknown parameter names: an error when no method knows the name (a typo), a warning when this one ignores it. */
function checkParamNames(recipe: Recipe, method: MergeMethod, registry: MethodRegistry, warnings: string[]): void {
	const mine = new Set([...Object.keys(method.params), ...Object.keys(method.modelParams)]);
	const known = new Set<string>();
	for (const m of registry.list()) for (const k of [...Object.keys(m.params), ...Object.keys(m.modelParams)]) known.add(k);
	const warned = new Set<string>();
	for (const table of paramTables(recipe)) {
		for (const [name, entry] of Object.entries(table)) {
			if (method.ignoredModelParams?.includes(name)) {
				if (!warned.has(name)) {
					warned.add(name);
					warnings.push(`${entry.path}: ${method.name} ignores "${name}" (as mergekit does); the value has no effect`);
				}
				continue;
			}
			if (mine.has(name)) continue;
			if (!known.has(name)) {
				const all = [...mine];
				const guess = suggestName(name, all);
				const hint =
					`${guess !== undefined ? ` (did you mean "${guess}"?)` : ""}` +
					`${all.length > 0 ? ` (${method.name} takes: ${all.join(", ")})` : ""}`;
				throw new PlanError("InvalidParameter", `${entry.path}: unknown parameter "${name}"${hint}`);
			}
			if (!warned.has(name)) {
				warned.add(name);
				warnings.push(`${entry.path}: "${name}" is not a parameter of ${method.name}; it is ignored`);
			}
		}
	}
}

/** A `filter:` that matches no output tensor is almost always a typo ("self_atn"): refuse it. */
function checkFilters(recipe: Recipe, names: string[]): void {
	for (const table of paramTables(recipe)) {
		for (const entry of Object.values(table)) {
			for (const { filter: f, path: where } of filtersOf(entry.setting, entry.path)) {
				if (!names.some((n) => n.includes(f))) {
					throw new PlanError(
						"FilterMatchesNothing",
						`${where}: filter "${f}" matches no tensor of the output (names look like "${names[Math.min(1, names.length - 1)] ?? ""}")`,
					);
				}
			}
		}
	}
}

function checkArchitectures(models: PlannedModel[]): void {
	const archOf = (m: PlannedModel) => {
		const raw = configJsonOf(m.source);
		const a = raw?.architectures;
		return Array.isArray(a) && typeof a[0] === "string" ? a[0] : undefined;
	};
	const first = models.find((m) => archOf(m) !== undefined);
	if (first === undefined) return;
	for (const m of models) {
		const a = archOf(m);
		if (a !== undefined && a !== archOf(first)) {
			throw new PlanError(
				"ArchitectureMismatch",
				`${m.ref} is a ${a} but ${first.ref} is a ${archOf(first)}; ` +
					`mixing architectures needs --allow-crimes (mergekit's flag; allowArchitectureMismatch in code)`,
			);
		}
	}
}

/** Builds a job for one output tensor: shapes, dtypes, truncation, parameters. Reads no tensor data. */
function planJob(
	o: OutputTensor,
	method: MergeMethod,
	recipe: Recipe,
	models: PlannedModel[],
	outDtype: FloatDtype | undefined,
	truncateVocab: boolean,
	warnings: string[],
	vocabRows: number | undefined,
	compat?: CompatPlan,
): TensorJob {
	const s: PlanSlice = o.slice;
	const inputs: JobInput[] = s.sources.map((src, i) => ({ model: src.model, tensor: o.inputNames[i]! }));
	const infos = inputs.map((inp) => models[inp.model]!.source.info(inp.tensor));
	const base = s.baseSource !== undefined ? inputs[s.baseSource] : undefined;
	const nonBaseIdx = s.sources.map((_, i) => i).filter((i) => i !== s.baseSource);
	const donorInfo = infos[s.baseSource ?? 0]!;
	const isEmbed = s.sources.some((src) => models[src.model]!.arch.embedNames.has(o.name));
	// With a tokenizer source, every model's vocabulary rows are rebuilt to the output's: only the widths must agree.
	const remap = isEmbed && vocabRows !== undefined;
	const rowsAs = (sh: readonly number[]) => (remap ? [vocabRows, ...sh.slice(1)] : [...sh]);
	let shape = rowsAs(donorInfo.shape);
	let truncate: TensorJob["truncate"];
	for (let i = 0; i < infos.length; i++) {
		if (shapeEquals(rowsAs(infos[i]!.shape), shape)) continue;
		const what =
			`${o.name}: ${models[inputs[i]!.model]!.ref} has shape ${formatShape(infos[i]!.shape)} ` +
			`but ${models[inputs[s.baseSource ?? 0]!.model]!.ref} has ${formatShape(donorInfo.shape)}`;
		if (!isEmbed || remap || infos[i]!.shape.length !== shape.length) throw new PlanError("ShapeMismatch", what, o.name);
		if (!truncateVocab) {
			throw new PlanError(
				"VocabMismatch",
				`${what} (different vocabularies; set truncate_vocab: true or --truncate-vocab to merge the common sub-matrix, as mergekit does)`,
				o.name,
			);
		}
		shape = shape.map((d, k) => Math.min(d, infos[i]!.shape[k]!));
		truncate = { rows: shape[0]!, cols: shape[1] ?? 1 };
	}
	const floatInputs = infos.every((inf) => isFloatDtype(inf.dtype));
	const outType = floatInputs ? (outDtype ?? donorInfo.dtype) : donorInfo.dtype;
	const job: TensorJob = {
		output: { name: o.name, dtype: outType, shape, byteLength: numel(shape) * dtypeBytes(outType) },
		method,
		base: method.base === "none" ? undefined : base,
		inputs: method.base === "none" ? inputs : nonBaseIdx.map((i) => inputs[i]!),
		params: {},
		modelParams: [],
		t: 0,
		sources: { params: {}, modelParams: [] },
		inputBytes: infos.reduce((sum, inf) => sum + inf.byteLength, 0),
		...(truncate !== undefined ? { truncate } : {}),
	};
	if (!floatInputs) {
		warnings.push(`${o.name}: ${donorInfo.dtype} tensor copied unchanged from ${models[job.base?.model ?? inputs[0]!.model]!.ref}`);
		return { ...job, copyRaw: true };
	}
	const nonBase = method.base === "none" ? s.sources : nonBaseIdx.map((i) => s.sources[i]!);
	// The float32 kernels' constraints across models and with the tensor's size; compat kernels keep their own.
	const size = compat === undefined ? { numel: numel(shape), shape } : undefined;
	const r = resolveJobParams(method, o, recipe.parameters, nonBase, models, size);
	const t = o.layer === undefined ? 0 : layerT(o.layer.index, o.layer.count);
	const planned = { ...job, params: r.params, modelParams: r.modelParams, sources: r.sources, t };
	return compat !== undefined
		? compatJob(
				planned,
				compat,
				infos.map((inf) => inf.dtype),
			)
		: planned;
}

/**
 * Plans a merge from the recipe and the model headers alone: resolves and opens every model, normalises
 * models/slices, lists the output tensors with their inputs and resolved parameters, and checks everything
 * checkable (method, base, model counts, parameters, missing tensors, shapes, layer ranges, filters) before
 * any tensor data is read. The caller owns the returned plan's open sources (closePlan()).
 */
export async function buildPlan(recipe: Recipe, opts: PlanOptions = {}): Promise<MergePlan> {
	const registry = opts.registry ?? createRegistry(BUILTIN_METHODS);
	const method = registry.get(recipe.mergeMethod);
	const warnings: string[] = [];
	const hasBase = recipe.baseModel !== undefined || (recipe.slices ?? []).some((s) => s.baseModel !== undefined);
	if (method.base === "required" && !hasBase) {
		throw new PlanError("BaseRequired", `${method.name} needs a base_model (the model the others are measured against)`);
	}
	if (method.base === "none" && recipe.baseModel !== undefined) {
		warnings.push(`${method.name} does not use base_model; ${recipe.baseModel} only donates config.json and the tokenizer`);
	}
	const compatMode: CompatMode = opts.compat ?? recipe.compat ?? "float32";
	if (compatMode === "mergekit") {
		checkCompatMethod(method);
		checkCompatDtype(recipe.dtype);
	}
	if (recipe.tokenizerSource === "base" && recipe.baseModel === undefined) {
		throw new PlanError("BaseRequired", `tokenizer_source: base needs a base_model; name the model whose tokenizer to copy instead`);
	}
	checkParamNames(recipe, method, registry, warnings);
	checkSettingValues(recipe, method);
	const { models, indexOf } = await openRecipeModels(recipe, opts);
	try {
		if (opts.allowArchitectureMismatch !== true) checkArchitectures(models);
		warnings.push(...architectureWarnings(models));
		const slices = normalizeSlices(recipe, method, models, indexOf);
		for (const s of slices) {
			const n = s.sources.length - (s.baseSource !== undefined && method.base !== "none" ? 1 : 0);
			if (n < method.minModels || n > method.maxModels) {
				const want =
					method.minModels === method.maxModels
						? `exactly ${method.minModels}`
						: method.maxModels === Infinity
							? `at least ${method.minModels}`
							: `${method.minModels} to ${method.maxModels}`;
				throw new PlanError(
					"ModelCount",
					`${s.path}: ${method.name} merges ${want} model(s)${method.base === "none" ? "" : " besides the base"}, ` +
						`but ${n} ${n === 1 ? "is" : "are"} given`,
				);
			}
		}
		const outputs = outputTensors(slices, models);
		checkFilters(
			recipe,
			outputs.map((o) => o.name),
		);
		const outDtype = opts.dtype ?? recipe.outDtype ?? recipe.dtype;
		const truncateVocab = opts.truncateVocab ?? recipe.allowVocabTruncation ?? false;
		const compat: CompatPlan | undefined =
			compatMode === "mergekit" ? { dtype: recipe.dtype, outDtype: opts.dtype ?? recipe.outDtype } : undefined;
		const baseIndex = recipe.baseModel !== undefined ? indexOf.get(recipe.baseModel) : undefined;
		const baseModel = method.base !== "none" ? baseIndex : undefined;
		// The config/tokenizer donor: the base model, else the first listed model (deterministic, unlike mergekit).
		const donor = baseIndex ?? slices[0]!.sources[0]!.model;
		const tokenizerDir = await planTokenizerDir(recipe, models, indexOf, donor, opts, warnings);
		await checkChatTemplate(recipe, tokenizerDir, warnings);
		const vocab = await vocabularyFor(recipe, models, indexOf, donor, baseIndex, tokenizerDir, warnings);
		const jobs = outputs.map((o) => planJob(o, method, recipe, models, outDtype, truncateVocab, warnings, vocab?.rows, compat));
		if (vocab !== undefined) attachVocab(jobs, models, vocab);
		if (compat !== undefined) warnings.push(...compatWarnings(method, jobs, compat));
		const numLayers = slices.reduce((n, s) => n + (s.sources[0]!.layerEnd - s.sources[0]!.layerStart), 0);
		const donorArch = models[donor]!.arch;
		const embedJob = jobs.find((j) => donorArch.preNames.has(j.output.name) && donorArch.embedNames.has(j.output.name));
		const config = outputConfig(models[donor]!, outDtype, numLayers, vocab?.rows ?? embedJob?.truncate?.rows);
		const totalBytes = jobs.reduce((n, j) => n + j.output.byteLength, 0);
		return {
			recipe,
			method,
			models,
			baseModel,
			donor,
			tokenizerDir,
			...(vocab !== undefined
				? { vocab: { mode: vocab.mode, rows: vocab.rows, tokens: vocab.tokens, added: vocab.added, files: vocab.files, omit: vocab.omit } }
				: {}),
			jobs,
			outDtype,
			numLayers,
			config,
			seed: opts.seed ?? recipe.seed ?? 0,
			totalBytes,
			peakMemoryEstimate: estimatePeakMemory(jobs, opts.threads ?? os.availableParallelism()),
			warnings,
			compat: compatMode,
		};
	} catch (err) {
		await Promise.all(models.map((m) => m.source.close()));
		throw err;
	}
}

/** Closes every model a plan opened. */
export async function closePlan(plan: MergePlan): Promise<void> {
	await Promise.all(plan.models.map((m) => m.source.close()));
}
