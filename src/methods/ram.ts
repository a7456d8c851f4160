import { DEBUG_ASSERTS, debugAssert } from "../debug-assert.js";
import { MethodError } from "../errors.js";
import { assertInputs } from "../tensor/vector-ops.js";
import { defineMethod } from "./define.js";
import { checkParamValue, paramValueProblem } from "./param-check.js";
import type { NumberParamDef } from "./types.js";

/** mergekit's default threshold: task-vector entries with |τ| ≤ 1e-5 count as "not changed" by that model. */
const RAM_DEFAULT_EPSILON = 1e-5;
/** mergekit's default boost rate for unique entries in ramplus_tl. */
const RAMPLUS_DEFAULT_R = 0.1;
/** mergekit's default cap on the shared/unique ratio in ramplus_tl. */
const RAMPLUS_DEFAULT_ALPHA = 0.2;

/** Options of {@link ram}: the magnitude under which a task-vector entry counts as unchanged. */
interface RamOptions {
	/** |τ| above this counts as a contribution (default 1e-5). */
	epsilon?: number;
	/** Used in error messages. */
	tensorName?: string;
}

interface RamplusOptions extends RamOptions {
	/** Boost rate (default 0.1). */
	r?: number;
	/** Cap on the shared/unique ratio ρ (default 0.2). */
	alpha?: number;
}

/** The declarations of RAM's parameters, which ram() and ramplusTl() check their options against. */
const EPSILON = {
	type: "number",
	default: RAM_DEFAULT_EPSILON,
	min: 0,
	description: "|task vector| above this counts as a change",
} as const satisfies NumberParamDef;
const R = { type: "number", default: RAMPLUS_DEFAULT_R, description: "Boost rate for unique entries" } as const satisfies NumberParamDef;
const ALPHA = {
	type: "number",
	default: RAMPLUS_DEFAULT_ALPHA,
	min: 0,
	description: "Cap on the shared/unique ratio",
} as const satisfies NumberParamDef;

/**
 * Writes b + Σᵢ λᵢ·τᵢ where exactly one model changes an entry, and b + mean of the changing τᵢ where several
 * do; entries no model changes (|τᵢ| ≤ ε for all i) stay at the base. τᵢ is rounded to float32, as mergekit
 * forms it. `lambdas` all 1 is plain RAM. ε was checked (LM_MERGE_DEBUG=1 asserts it).
 */
function ramInto(base: Float32Array, models: readonly Float32Array[], epsilon: number, lambdas: readonly number[]): Float32Array {
	if (DEBUG_ASSERTS) debugAssert(paramValueProblem(EPSILON, epsilon) === undefined, () => `ram: epsilon = ${epsilon} is outside [0, inf)`);
	const out = new Float32Array(base.length);
	for (let k = 0; k < base.length; k++) {
		const b = base[k]!;
		let count = 0;
		let sum = 0;
		let unique = 0;
		for (let i = 0; i < models.length; i++) {
			const tau = Math.fround(models[i]![k]! - b);
			if (Math.abs(tau) > epsilon) {
				count++;
				sum += tau;
				unique = lambdas[i]! * tau;
			}
		}
		out[k] = count === 0 ? b : count === 1 ? b + unique : b + sum / count;
	}
	return out;
}

/** The inputs' lengths (MethodError "InvalidInput"), then ε against its declaration ("InvalidParameter"); returns ε. */
function check(method: string, base: Float32Array, models: readonly Float32Array[], opts: RamOptions): number {
	const name = opts.tensorName ?? "<input>";
	assertInputs(method, name, base, models);
	checkParamValue(method, name, "epsilon", EPSILON, opts.epsilon);
	return opts.epsilon ?? RAM_DEFAULT_EPSILON;
}

/**
 * RAM: entries changed by one model keep that model's change; entries changed by several get the mean change.
 * `epsilon` must be ≥ 0 and finite, as in a recipe (MethodError "InvalidParameter").
 */
export function ram(base: Float32Array, models: readonly Float32Array[], opts: RamOptions = {}): Float32Array {
	return ramInto(base, models, check("ram", base, models, opts), new Array<number>(models.length).fill(1));
}

/**
 * The per-model boost of ramplus_tl: ρᵢ = (#entries model i shares with others) / max(#entries only model i
 * changes, ε) and λᵢ = 1 + r·clamp(ρᵢ, 0, α). Counts run over the whole tensor.
 */
export function ramplusLambdas(base: Float32Array, models: readonly Float32Array[], r: number, alpha: number, epsilon: number): number[] {
	const shared = new Array<number>(models.length).fill(0);
	const unique = new Array<number>(models.length).fill(0);
	for (let k = 0; k < base.length; k++) {
		const b = base[k]!;
		let count = 0;
		for (const m of models) if (Math.abs(Math.fround(m[k]! - b)) > epsilon) count++;
		if (count === 0) continue;
		const tally = count === 1 ? unique : shared;
		for (let i = 0; i < models.length; i++) {
			if (Math.abs(Math.fround(models[i]![k]! - b)) > epsilon) tally[i]!++;
		}
	}
	return shared.map((s, i) => 1 + r * Math.min(alpha, Math.max(0, s / Math.max(unique[i]!, epsilon))));
}

/**
 * RAM+ (tensor-local): RAM with each model's unique changes scaled up by λᵢ (see ramplusLambdas). The options are
 * checked against the declaration, as in a recipe: `r` finite, `alpha` and `epsilon` ≥ 0 ("InvalidParameter").
 */
export function ramplusTl(base: Float32Array, models: readonly Float32Array[], opts: RamplusOptions = {}): Float32Array {
	const epsilon = check("ramplus_tl", base, models, opts);
	const name = opts.tensorName ?? "<input>";
	checkParamValue("ramplus_tl", name, "r", R, opts.r);
	checkParamValue("ramplus_tl", name, "alpha", ALPHA, opts.alpha);
	return ramplusInto(base, models, opts.r ?? RAMPLUS_DEFAULT_R, opts.alpha ?? RAMPLUS_DEFAULT_ALPHA, epsilon);
}

/** {@link ramplusTl} on checked options. */
function ramplusInto(base: Float32Array, models: readonly Float32Array[], r: number, alpha: number, epsilon: number): Float32Array {
	return ramInto(base, models, epsilon, ramplusLambdas(base, models, r, alpha, epsilon));
}

const REFERENCE = "https://arxiv.org/abs/2601.13572";

function requireBase(method: string, tensorName: string, base: Float32Array | undefined): Float32Array {
	if (base === undefined) {
		throw new MethodError("InvalidInput", method, `tensor "${tensorName}": a base model is required`);
	}
	return base;
}

/** Reinforced Agent Merging: unique task-vector entries are summed, shared ones averaged. */
export const ramMethod = defineMethod({
	name: "ram",
	prettyName: "Reinforced Agent Merging",
	referenceUrl: REFERENCE,
	description:
		"Per entry: if exactly one model's task vector is non-negligible (|τ| > epsilon) it is added to the base as " +
		"is; if several are, their mean is added.",
	base: "required",
	minModels: 1,
	params: { epsilon: EPSILON },
	modelParams: {},
	elementwise: () => true,
	merge({ tensorName, base, models, params }) {
		const b = requireBase("ram", tensorName, base);
		assertInputs("ram", tensorName, b, models);
		return ramInto(b, models, params.epsilon ?? RAM_DEFAULT_EPSILON, new Array<number>(models.length).fill(1));
	},
});

/** RAM+ tensor-local: RAM with a per-model, per-tensor boost of the unique entries. */
export const ramplusTlMethod = defineMethod({
	name: "ramplus_tl",
	prettyName: "Reinforced Agent Merging Plus (Tensor-Local)",
	referenceUrl: REFERENCE,
	description:
		"RAM where each model's unique entries are multiplied by 1 + r·clamp(shared/unique, 0, alpha), the counts " + "taken over the tensor.",
	base: "required",
	minModels: 1,
	params: { r: R, alpha: ALPHA, epsilon: EPSILON },
	modelParams: {},
	merge({ tensorName, base, models, params }) {
		const b = requireBase("ramplus_tl", tensorName, base);
		assertInputs("ramplus_tl", tensorName, b, models);
		const { r = RAMPLUS_DEFAULT_R, alpha = RAMPLUS_DEFAULT_ALPHA, epsilon = RAM_DEFAULT_EPSILON } = params;
		return ramplusInto(b, models, r, alpha, epsilon);
	},
});
