import type { MergePlan } from "../plan/types.js";
import { formatBytes, type Io } from "./output.js";
import { printable } from "./printable.js";

function fmt(v: unknown): string {
	if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
	return String(v);
}

/** The donor's architecture: its family's name, or what config.json declares when lm-merge has no definition for it. */
function describeArchitecture(plan: MergePlan): string {
	const a = plan.models[plan.donor]!.arch;
	return a.spec.known ? a.spec.name : `${a.declared} (no definition: inferred from tensor names)`;
}

/** The `arithmetic` line: which numerics run (compat: mergekit names its compute dtypes). */
function describeCompat(plan: MergePlan): string {
	if (plan.compat !== "mergekit") return "float32 (float32 math, rounded once to the output dtype)";
	const dtypes = [...new Set(plan.jobs.flatMap((j) => (j.compat !== undefined ? [TORCH_NAMES[j.compat.dtype]] : [])))];
	return `mergekit (compat: each op rounded to ${dtypes.join("/") || "the compute dtype"} as mergekit computes it through torch)`;
}

const TORCH_NAMES: Record<string, string> = { BF16: "bfloat16", F16: "float16", F32: "float32" };

/**
 * Prints what a merge would do: models and where they resolved, method, output size, memory estimate,
 * warnings, and every output tensor with its resolved parameters (the answer to "what t does layer 7 get?").
 */
export function describePlan(io: Io, plan: MergePlan, opts: { json: boolean; out?: string; shardSize?: number | undefined }): void {
	const jobs = plan.jobs.map((j) => ({
		name: j.output.name,
		dtype: j.output.dtype,
		shape: j.output.shape,
		t: j.t,
		...(j.copyRaw === true ? { copy: true } : {}),
		...(j.truncate !== undefined ? { truncate: j.truncate } : {}),
		...(j.compat !== undefined ? { compute_dtype: j.compat.dtype } : {}),
		params: j.params,
		model_params: j.modelParams,
		inputs: [...(j.base !== undefined ? [{ ...j.base, base: true }] : []), ...j.inputs].map((i) => ({
			model: plan.models[i.model]!.ref,
			tensor: i.tensor,
			...("base" in i ? { base: true } : {}),
		})),
	}));
	const summary = {
		method: plan.method.name,
		models: plan.models.map((m) => ({ ref: m.ref, path: m.path, via: m.via })),
		base_model: plan.baseModel !== undefined ? plan.models[plan.baseModel]!.ref : null,
		out: opts.out ?? null,
		out_dtype: plan.outDtype ?? null,
		compat: plan.compat ?? "float32",
		seed: plan.seed,
		layers: plan.numLayers ?? null,
		architecture: describeArchitecture(plan),
		vocabulary:
			plan.vocab !== undefined
				? {
						source: plan.vocab.mode,
						tokens: plan.vocab.tokens,
						rows: plan.vocab.rows,
						added: plan.vocab.added.length,
						rebuilt_files: [...(plan.vocab.files?.keys() ?? [])],
					}
				: null,
		tensors: plan.jobs.length,
		output_bytes: plan.totalBytes,
		peak_memory_estimate_bytes: plan.peakMemoryEstimate,
		warnings: plan.warnings,
		jobs,
	};
	if (opts.json) {
		io.out(JSON.stringify(summary, null, 2));
		return;
	}
	io.out(`method      ${plan.method.prettyName} (${plan.method.name})`);
	for (const m of plan.models) {
		const role = plan.baseModel !== undefined && plan.models[plan.baseModel] === m ? " [base]" : "";
		io.out(`model       ${printable(m.ref)}${role} → ${printable(m.path)} (${m.via})`);
	}
	if (opts.out !== undefined) io.out(`output      ${printable(opts.out)}`);
	io.out(`dtype       ${plan.outDtype ?? "as the inputs"}; seed ${plan.seed}; ${plan.numLayers ?? "?"} layers`);
	io.out(`arithmetic  ${describeCompat(plan)}`);
	io.out(`arch        ${describeArchitecture(plan)}`);
	if (plan.vocab !== undefined) {
		const v = plan.vocab;
		const added = v.added.length > 0 ? ` (${v.added.length} added)` : "";
		io.out(
			`vocabulary  ${v.mode}: ${v.tokens} tokens${added}, ${v.rows} embedding rows${v.files !== undefined ? "; tokenizer files rebuilt" : ""}`,
		);
	}
	io.out(`size        ${plan.jobs.length} tensors, ${formatBytes(plan.totalBytes)}`);
	io.out(`memory      about ${formatBytes(plan.peakMemoryEstimate)} peak (largest tensor's inputs and intermediates)`);
	for (const w of plan.warnings) io.out(`warning     ${printable(w)}`);
	io.out("");
	for (const j of jobs) {
		const g = Object.entries(j.params)
			.filter(([, v]) => v !== undefined)
			.map(([k, v]) => `${k}=${fmt(v)}`);
		const per = j.model_params.map((mp) =>
			Object.entries(mp)
				.filter(([, v]) => v !== undefined)
				.map(([k, v]) => `${k}=${fmt(v)}`)
				.join(","),
		);
		const parts = [...g, ...(per.some((p) => p.length > 0) ? [`models: ${per.map((p) => `{${p}}`).join(" ")}`] : [])];
		io.out(
			`${printable(j.name)} ${j.dtype}[${j.shape.join(",")}]${j.copy === true ? " copy" : ""}` +
				`${parts.length > 0 ? `  ${parts.join(" ")}` : ""}`,
		);
	}
}
