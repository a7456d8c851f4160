import { EvaluationError } from "../errors.js";
import { argmaxLetter, expectedCalibrationError, meanStd, sumLetterProbs } from "./score.js";
import type { ItemReport, McqaItem, SeedStat, ShotSource, TaskReport } from "./types.js";

export { renderMarkdown, renderText } from "./render.js";

/** One scored prompt (one item under one seed), before it becomes an ItemReport. */
export interface ScoredPrompt {
	item: McqaItem;
	seed: number;
	shotIds: string[];
	/** Index in the run's prompt plan (results arrive in any order; reports list them in plan order). */
	index: number;
	/** Prompt length in tokens. */
	tokens: number;
	/** Probability per option letter (ensemble: summed over models). */
	letterProbs: Record<string, number>;
	top1Id: number | null;
	top1Text: string | null;
	/** Paper accuracy: the top-1 token decodes to the gold letter (harness: best log-likelihood). */
	correct: boolean;
	/** Arg-max over the letter probabilities only. */
	correctLetters: boolean;
	/** The top-1 token is not one of the item's letters. */
	nonLetterTop1: boolean;
	/** Harness: best log-likelihood per byte. */
	correctNorm?: boolean;
}

/** Figures keep full precision in the JSON; only the tables round (a reader can always round, never un-round). */
function seedStat(perSeed: number[]): SeedStat {
	const { mean, std } = meanStd(perSeed);
	return { mean, std, per_seed: perSeed };
}

function percent(part: number, all: number): number {
	return all === 0 ? 0 : (100 * part) / all;
}

/**
 * Per-task figures from its scored prompts: accuracies per seed in percent with mean and population
 * std, the non-letter top-1 fraction over all prompts, and ECE (5 bins, percent) per seed and their
 * mean. `probScale` divides letter probabilities before calibration (1 / models for an ensemble,
 * whose summed probabilities would otherwise exceed 1).
 */
export function summarizeTask(
	scored: readonly ScoredPrompt[],
	seeds: readonly number[],
	shotSource: ShotSource,
	opts: { harness?: boolean; probScale?: number } = {},
): TaskReport {
	const scale = opts.probScale ?? 1;
	const bySeed = seeds.map((seed) => scored.filter((s) => s.seed === seed));
	const count = (list: readonly ScoredPrompt[], pick: (s: ScoredPrompt) => boolean | undefined): number =>
		list.reduce((a, s) => a + (pick(s) === true ? 1 : 0), 0);
	const ecePerSeed = bySeed.map(
		(list) =>
			100 *
			expectedCalibrationError(
				list.map((s) => ({
					probs: s.item.options.map((o) => (s.letterProbs[o.letter] ?? 0) * scale),
					gold: s.item.options.findIndex((o) => o.letter === s.item.gold),
				})),
			),
	);
	const report: TaskReport = {
		n: bySeed[0]?.length ?? 0,
		acc: seedStat(
			bySeed.map((l) =>
				percent(
					count(l, (s) => s.correct),
					l.length,
				),
			),
		),
		acc_letters: seedStat(
			bySeed.map((l) =>
				percent(
					count(l, (s) => s.correctLetters),
					l.length,
				),
			),
		),
		non_letter_top1: scored.length === 0 ? 0 : count(scored, (s) => s.nonLetterTop1) / scored.length,
		ece: meanStd(ecePerSeed).mean,
		ece_per_seed: ecePerSeed,
		shot_source: shotSource,
	};
	if (opts.harness === true)
		report.acc_norm = seedStat(
			bySeed.map((l) =>
				percent(
					count(l, (s) => s.correctNorm),
					l.length,
				),
			),
		);
	return report;
}

/** The JSON form of one scored prompt (spec keys, snake_case). */
export function toItemReport(s: ScoredPrompt): ItemReport {
	return {
		task: s.item.task,
		id: s.item.id,
		seed: s.seed,
		gold: s.item.gold,
		shot_ids: s.shotIds,
		tokens: s.tokens,
		letter_probs: s.letterProbs,
		top1_id: s.top1Id,
		top1_text: s.top1Text,
		correct: s.correct,
		correct_letters: s.correctLetters,
	};
}

/**
 * The paper's ensemble of several models' scored prompts: per item and seed, letter probabilities
 * are summed (not renormalised) and the arg-max letter is the prediction, so `correct` and
 * `correct_letters` agree; prompt ids and top-1 come from the first model. Items must align (same
 * task, id, seed and gold, in the same order), else EvaluationError "Mismatch".
 */
export function ensembleScored(perModel: readonly (readonly ScoredPrompt[])[]): ScoredPrompt[] {
	const first = perModel[0];
	if (first === undefined) return [];
	for (const [m, list] of perModel.entries()) {
		if (list.length !== first.length) {
			throw new EvaluationError("Mismatch", `ensemble: model ${m} scored ${list.length} prompts, model 0 scored ${first.length}`);
		}
	}
	return first.map((base, i) => {
		const members = perModel.map((list) => list[i] as ScoredPrompt);
		for (const s of members) {
			if (
				s.index !== base.index ||
				s.item.task !== base.item.task ||
				s.item.id !== base.item.id ||
				s.seed !== base.seed ||
				s.item.gold !== base.item.gold
			) {
				const describe = (p: ScoredPrompt): string => `${p.item.task}/${p.item.id} seed ${p.seed} gold ${p.item.gold}`;
				throw new EvaluationError("Mismatch", `ensemble: prompt ${i} is ${describe(s)} in one model, ${describe(base)} in another`);
			}
		}
		const letters = base.item.options.map((o) => o.letter);
		const summed = sumLetterProbs(members.map((s) => s.letterProbs));
		const right = argmaxLetter(summed, letters) === base.item.gold;
		return {
			item: base.item,
			seed: base.seed,
			shotIds: base.shotIds,
			index: base.index,
			tokens: base.tokens,
			letterProbs: summed,
			top1Id: base.top1Id,
			top1Text: base.top1Text,
			correct: right,
			correctLetters: right,
			nonLetterTop1: false,
		};
	});
}
