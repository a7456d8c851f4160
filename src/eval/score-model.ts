import type { ForwardBackend, ForwardRequest } from "./backends/types.js";
import { type CheckpointRecord, checkpointKey, type EvalCheckpoint } from "./checkpoint.js";
import type { HarnessPrompt, PlannedPrompt } from "./prompt.js";
import type { PromptTokens } from "./prompt-tokens.js";
import { pump } from "./pump.js";
import type { ScoredPrompt } from "./report.js";
import { argmaxLetter, harnessPredictions, scoreLogits } from "./score.js";
import type { Tokenizer } from "./tokenizer.js";

/**
 * Prompts handed to the backend per call. Results stream back one prompt at a time, so this only bounds the
 * requests built ahead (their token lists) and sets how many prompts a backend may batch together.
 */
const PROMPTS_PER_CALL = 64;

/** What scoring one model needs. */
interface ScoreJob {
	backend: ForwardBackend;
	tok: Tokenizer;
	letterIds: Record<string, number[]>;
	plan: readonly PlannedPrompt[];
	/** Token ids of every prompt (tokenized on demand) and which prompts are skipped as too long. */
	tokens: PromptTokens;
	/** This model's index in the run (ensemble member), for checkpoint records. */
	model: number;
	sharedPrefix: readonly number[];
	checkpoint?: EvalCheckpoint;
	signal?: AbortSignal;
}

/** One prompt scored (or taken from the checkpoint), as the scoring loop reports it. */
interface ScoredEvent {
	scored: ScoredPrompt;
	/** True when the result was computed in this run (false: read back from the checkpoint). */
	fresh: boolean;
}

/** A checkpoint record back into a ScoredPrompt of the plan. */
function fromRecord(p: PlannedPrompt, index: number, r: CheckpointRecord): ScoredPrompt {
	return {
		item: p.item,
		seed: p.seed,
		shotIds: p.shotIds,
		index,
		tokens: r.tokens,
		letterProbs: r.letter_probs,
		top1Id: r.top1_id,
		top1Text: r.top1_text,
		correct: r.correct,
		correctLetters: r.correct_letters,
		nonLetterTop1: r.non_letter_top1,
		...(r.correct_norm !== undefined ? { correctNorm: r.correct_norm } : {}),
	};
}

function toRecord(model: number, s: ScoredPrompt): CheckpointRecord {
	return {
		model,
		index: s.index,
		task: s.item.task,
		id: s.item.id,
		seed: s.seed,
		letter_probs: s.letterProbs,
		top1_id: s.top1Id,
		top1_text: s.top1Text,
		correct: s.correct,
		correct_letters: s.correctLetters,
		non_letter_top1: s.nonLetterTop1,
		...(s.correctNorm !== undefined ? { correct_norm: s.correctNorm } : {}),
		tokens: s.tokens,
	};
}

/** Biomistral scoring of one prompt from its last-position log-probabilities. */
function scoreNextToken(job: ScoreJob, p: PlannedPrompt, index: number, tokens: number, row: Float32Array): ScoredPrompt {
	const letters = p.item.options.map((o) => o.letter);
	const s = scoreLogits(row, job.letterIds, letters);
	const top1Text = job.tok.decode([s.top1Id]);
	return {
		item: p.item,
		seed: p.seed,
		shotIds: p.shotIds,
		index,
		tokens,
		letterProbs: s.letterProbs,
		top1Id: s.top1Id,
		top1Text,
		correct: top1Text === p.item.gold,
		correctLetters: argmaxLetter(s.letterProbs, letters) === p.item.gold,
		nonLetterTop1: !letters.includes(top1Text),
	};
}

/** Harness scoring of one prompt from its choices' log-likelihoods. */
function scoreChoices(p: PlannedPrompt, index: number, tokens: number, lps: number[]): ScoredPrompt {
	const h = p.harness as HarnessPrompt;
	const { pred, predNorm } = harnessPredictions(lps, h.choices);
	const right = pred === h.goldIndex;
	return {
		item: p.item,
		seed: p.seed,
		shotIds: p.shotIds,
		index,
		tokens,
		letterProbs: Object.fromEntries(p.item.options.map((o, i) => [o.letter, Math.exp(lps[i] ?? -Infinity)])),
		top1Id: null,
		top1Text: null,
		correct: right,
		correctLetters: right,
		nonLetterTop1: false,
		correctNorm: predNorm === h.goldIndex,
	};
}

/** The forward requests of one prompt: its whole token list, or one per harness choice (context + continuation). */
function requestsOf(job: ScoreJob, index: number): ForwardRequest[] {
	const t = job.tokens.get(index);
	if (t.harness === undefined) return [{ tokens: t.ids, positions: [t.ids.length - 1] }];
	return t.harness.map((r) => {
		const tokens = [...r.context, ...r.continuation];
		return { tokens, positions: r.continuation.map((_, k) => r.context.length - 1 + k) };
	});
}

/**
 * Scores every prompt of the plan with one backend, yielding each result as it completes. Prompts found in the
 * checkpoint are yielded first (not recomputed); prompts skipped as too long yield nothing. Stops early, with
 * what it has, when `signal` aborts.
 */
export async function* scoreModel(job: ScoreJob): AsyncGenerator<ScoredEvent, void> {
	const todo: number[] = [];
	for (let i = 0; i < job.plan.length; i++) {
		if (job.tokens.skipped.has(i)) continue;
		const rec = job.checkpoint?.done.get(checkpointKey(job.model, i));
		if (rec !== undefined) yield { scored: fromRecord(job.plan[i]!, i, rec), fresh: false };
		else todo.push(i);
	}
	for (let start = 0; start < todo.length && job.signal?.aborted !== true; start += PROMPTS_PER_CALL) {
		const chunk = todo.slice(start, start + PROMPTS_PER_CALL);
		// Flatten the chunk's prompts into requests; `owner[r]` is the prompt request r belongs to.
		const reqs: ForwardRequest[] = [];
		const owner: number[] = [];
		for (const index of chunk) {
			for (const r of requestsOf(job, index)) {
				reqs.push(r);
				owner.push(index);
			}
		}
		const pending = new Map<number, { left: number; lps: number[] }>();
		for (const index of chunk) pending.set(index, { left: job.plan[index]!.harness?.choices.length ?? 1, lps: [] });
		yield* pump<ScoredEvent, void>((emit) =>
			job.backend.logprobs(reqs, {
				sharedPrefix: job.sharedPrefix,
				...(job.signal !== undefined ? { signal: job.signal } : {}),
				onResult: (r, rows) => {
					const index = owner[r]!;
					const p = job.plan[index]!;
					const n = job.tokens.get(index).count;
					let scored: ScoredPrompt;
					if (p.harness === undefined) {
						scored = scoreNextToken(job, p, index, n, rows[0]!);
					} else {
						const slot = pending.get(index)!;
						const first = owner.indexOf(index);
						const cont = reqs[r]!.tokens.slice(reqs[r]!.positions[0]! + 1);
						slot.lps[r - first] = rows.reduce((a, row, k) => a + row[cont[k]!]!, 0);
						if (--slot.left > 0) return;
						scored = scoreChoices(p, index, n, slot.lps);
					}
					job.checkpoint?.append(toRecord(job.model, scored));
					emit({ scored, fresh: true });
				},
			}),
		);
		for (const index of chunk) job.tokens.release(index);
	}
}
