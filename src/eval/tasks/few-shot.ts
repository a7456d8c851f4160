import seedrandom from "seedrandom";
import { EvaluationError } from "../../errors.js";
import type { McqaItem } from "../types.js";

/**
 * The seedrandom seed string for one item's draw. It holds the seed, the task and the item id, so
 * draws are reproducible item by item, independent of the order, the limit and the other tasks.
 */
export function shotSeed(seed: number, item: McqaItem): string {
	return `${seed}/${item.task}/${item.id}`;
}

/**
 * Draws `k` distinct shots for `query` from `pool` with seedrandom seeded by shotSeed(seed, query):
 * a partial Fisher–Yates shuffle (sparse, so a 10k-item pool costs O(k) per draw) that skips the
 * query itself (same id when the pool is the scored file) and any item with the query's exact
 * question text. Throws EvaluationError "Data" when the pool has fewer than k usable items.
 */
export function drawShots(query: McqaItem, pool: readonly McqaItem[], k: number, seed: number, poolIsEvalFile: boolean): McqaItem[] {
	if (k <= 0) return [];
	const rng = seedrandom(shotSeed(seed, query));
	const n = pool.length;
	const moved = new Map<number, number>();
	const out: McqaItem[] = [];
	for (let i = 0; i < n && out.length < k; i++) {
		const j = i + Math.floor(rng() * (n - i));
		const picked = moved.get(j) ?? j;
		moved.set(j, moved.get(i) ?? i);
		const cand = pool[picked];
		if (cand === undefined) continue;
		if (poolIsEvalFile && cand.id === query.id) continue;
		if (cand.question === query.question) continue;
		out.push(cand);
	}
	if (out.length < k) {
		throw new EvaluationError(
			"Data",
			`${query.task}: the shot pool has only ${out.length} usable items for item ${query.id}, ${k} shots needed`,
		);
	}
	return out;
}

/** The paper's precomputed shots of `item` for `seed` (seed s → BioInstructQA `few_shot_samples[s+1]`). */
export function paperShots(item: McqaItem, seed: number): McqaItem[] {
	const shots = item.fewShot?.[seed];
	if (shots === undefined) {
		throw new EvaluationError(
			"Config",
			`${item.source.file}:${item.source.line}: item ${item.id} ` +
				`has paper shots for seeds 0..${(item.fewShot?.length ?? 0) - 1} only, seed ${seed} asked`,
		);
	}
	return shots;
}
