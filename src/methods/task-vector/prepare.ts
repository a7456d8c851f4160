/**
 * DELLA's term for the generic combine (combine.ts). DELLA ranks magnitudes within each row, so it
 * stores δ = f32(x − b) (in the model's own array when the caller allows, else in a new one), prunes it with
 * dellaDrop and hands the pruned δ over as a dense term; the other sparsifiers run through TaskVectorKernel.
 * Results equal dellaMagprune in sparsify.ts.
 */
import { DEBUG_ASSERTS, debugAssertNoProblem } from "../../debug-assert.js";
import type { RngKey } from "../../tensor/rng.js";
import { modelSettingsProblem } from "./declaration.js";
import { dellaDrop, l1RescaleFactor } from "./sparsify.js";
import { MASK_ZERO, makeTerm, SCALE_DIV, SCALE_MUL, type Term } from "./term.js";
import type { Rescale, SparsifyWhere } from "./types.js";

/** What DELLA's term needs to know about its model. */
interface DellaSpec {
	density: number;
	epsilon: number;
	rescale: Rescale;
	key: () => RngKey;
	offset: number;
	shape: readonly number[];
	where: SparsifyWhere;
	/** Store δ in the model's own array (the caller gave it up). */
	inPlace: boolean;
}

/** Writes δ = f32(x − b) into `out` (which may be `x`) and returns ‖δ‖₁ in index order. */
function storeDelta(x: Float32Array, base: Float32Array, out: Float32Array): number {
	let l1 = 0;
	for (let i = 0; i < out.length; i++) {
		out[i] = x[i]! - base[i]!;
		l1 += Math.abs(out[i]!);
	}
	return l1;
}

/** Σ |x[i]| in index order. */
function l1Of(x: Float32Array): number {
	let s = 0;
	for (let i = 0; i < x.length; i++) s += Math.abs(x[i]!);
	return s;
}

/**
 * Model `x`'s DELLA term. Its settings were checked against the declaration (the keep band in (0, 1): the planner or
 * the entry did; LM_MERGE_DEBUG=1 asserts it); the random stream is checked first.
 */
export function prepareDellaTerm(x: Float32Array, base: Float32Array, weight: number, spec: DellaSpec): Term {
	const { density, rescale, where } = spec;
	const key = spec.key();
	if (density >= 1) return makeTerm(weight, x);
	if (density <= 0) return makeTerm(weight, x, { mask: MASK_ZERO });
	if (DEBUG_ASSERTS) {
		debugAssertNoProblem(() => {
			const why = modelSettingsProblem("della_magprune", { weight: 1, density, epsilon: spec.epsilon }, base.length);
			return why !== undefined ? `${where.method} tensor "${where.tensorName}": ${why}` : undefined;
		});
	}
	const delta = spec.inPlace ? x : new Float32Array(base.length);
	const l1Before = storeDelta(x, base, delta);
	dellaDrop(delta, spec.shape, density, spec.epsilon, key, spec.offset, where);
	const t = makeTerm(weight, x, { delta });
	if (rescale === "inverse_density") {
		t.scale = SCALE_DIV;
		t.scaleValue = density;
	} else if (rescale) {
		const factor = l1RescaleFactor(l1Before, l1Of(delta));
		if (factor !== undefined) {
			t.scale = SCALE_MUL;
			t.scaleValue = factor;
		}
	}
	return t;
}
