import seedrandom from "seedrandom";
import { SweepError } from "../errors.js";
import { CmaEs } from "./cmaes.js";
import type { ChoiceParam, RangeParam, SweepStrategySpec } from "./spec.js";

/** The varied values of one trial: recipe path → value. */
export type ParamSet = Record<string, unknown>;

/**
 * Candidates outside the search box are scored at the nearest point of the box, minus this much per
 * unit of squared distance (box sides are 1): enough to pull the mean back in, small next to the
 * percent-scale differences between trials. (Boundary handling by repair and penalty, Hansen's tutorial.)
 */
const BOX_PENALTY = 100;

/** Searched and drawn values keep 6 significant digits: recipes stay readable and keys stable. */
function tidy(v: number): number {
	return Number(v.toPrecision(6));
}

/** A point u ∈ [0, 1] of a range's normalised axis → the recipe value (log scale, step, integers). */
export function fromUnit(p: RangeParam, u: number): number {
	const t = Math.min(1, Math.max(0, u));
	let v = p.log ? Math.exp(Math.log(p.min) + t * (Math.log(p.max) - Math.log(p.min))) : p.min + t * (p.max - p.min);
	if (p.step !== undefined) v = Math.min(p.max, p.min + Math.round((v - p.min) / p.step) * p.step);
	if (p.int) v = Math.round(v);
	return tidy(v);
}

function isChoice(p: RangeParam | ChoiceParam): p is ChoiceParam {
	return "choices" in p;
}

/** Every combination of the grid's values, the first axis varying slowest. */
export function gridPoints(axes: ReadonlyArray<{ path: string; values: readonly unknown[] }>): ParamSet[] {
	let points: ParamSet[] = [{}];
	for (const axis of axes) points = points.flatMap((p) => axis.values.map((v) => ({ ...p, [axis.path]: v })));
	return points;
}

/** `n` independent draws, reproducible from `seed`: uniform (or log-uniform) in ranges, uniform among choices. */
export function randomPoints(space: ReadonlyArray<RangeParam | ChoiceParam>, n: number, seed: number): ParamSet[] {
	const rng = seedrandom(`random/${seed}`);
	return Array.from({ length: n }, () =>
		Object.fromEntries(
			space.map((p) => [
				p.path,
				isChoice(p) ? p.choices[Math.min(p.choices.length - 1, Math.floor(rng() * p.choices.length))] : fromUnit(p, rng()),
			]),
		),
	);
}

/**
 * The trials of a sweep, batch by batch: a grid or random sweep is one batch; a search yields one CMA-ES
 * generation at a time and receives, for each, the trials' objectives (NaN for a failed trial) in order.
 */
export function* sweepBatches(strategy: SweepStrategySpec, file?: string): Generator<ParamSet[], void, readonly number[]> {
	if (strategy.kind === "grid") {
		yield gridPoints(strategy.axes);
		return;
	}
	if (strategy.kind === "random") {
		yield randomPoints(strategy.space, strategy.n, strategy.seed);
		return;
	}
	const es = new CmaEs({
		dim: strategy.space.length,
		sigma: strategy.sigma,
		seed: strategy.seed,
		...(strategy.population !== undefined ? { population: strategy.population } : {}),
	});
	const lambda = es.params.lambda;
	if (strategy.budget < lambda) {
		throw new SweepError(
			"Spec",
			`search.budget ${strategy.budget} is below one CMA-ES generation (population ${lambda}); raise it or set search.population`,
			file,
		);
	}
	for (let used = 0; used + lambda <= strategy.budget; used += lambda) {
		const candidates = es.ask();
		const points = candidates.map((x) => Object.fromEntries(strategy.space.map((p, i) => [p.path, fromUnit(p, x[i] as number)])));
		const objectives = yield points;
		if (objectives.every((o) => Number.isNaN(o)))
			throw new SweepError("Trial", `every trial of search generation ${es.generation + 1} failed; stopping the search`, file);
		const fitness = candidates.map((x, i) => {
			const outside = x.reduce((a, u) => a + (u < 0 ? u * u : u > 1 ? (u - 1) ** 2 : 0), 0);
			return (objectives[i] ?? Number.NaN) - BOX_PENALTY * outside;
		});
		es.tell(candidates, fitness);
	}
}
