import { EvaluationError } from "../errors.js";
import { harnessRequest, type PlannedPrompt } from "./prompt.js";
import type { Tokenizer } from "./tokenizer.js";

/** One prompt's token ids: the whole prompt (biomistral), or context + continuation per choice (harness). */
export interface TokenizedPrompt {
	ids: number[];
	harness?: { context: number[]; continuation: number[] }[];
	/** The longest sequence the forward pass sees for this prompt. */
	count: number;
}

/** How long prompts may be, and what to do with longer ones. */
interface LengthLimit {
	/** The longest sequence accepted, in tokens. */
	maxTokens: number;
	/** Where the limit comes from, for messages ("max_position_embeddings", "--max-tokens"). */
	source: string;
	/** Skip an over-long prompt with a warning instead of refusing the run. */
	skip: boolean;
}

/**
 * The token ids of a run's prompts. The constructor tokenizes every prompt once to measure it (so an
 * over-long prompt stops the run before anything is scored, and the ETA can count tokens); ids are then
 * re-made on demand per chunk rather than kept, since a paper-scale run holds ~25M prompt tokens.
 */
export class PromptTokens {
	/** Plan indices skipped as too long. */
	readonly skipped = new Set<number>();
	readonly warnings: string[] = [];
	/** Tokens of every prompt not skipped: the forward pass's total work. */
	readonly totalTokens: number;
	private readonly counts: Int32Array;
	private readonly cache = new Map<number, TokenizedPrompt>();

	constructor(
		private readonly tok: Tokenizer,
		private readonly plan: readonly PlannedPrompt[],
		private readonly addBos: boolean,
		limit: LengthLimit,
		/** Called with every prompt measured (for --save-prompts). */
		onPrompt?: (index: number, p: PlannedPrompt, t: TokenizedPrompt) => void,
	) {
		this.counts = new Int32Array(plan.length);
		let total = 0;
		plan.forEach((p, i) => {
			const t = this.tokenize(i);
			this.counts[i] = t.count;
			onPrompt?.(i, p, t);
			if (t.count <= limit.maxTokens) {
				total += t.count;
				return;
			}
			const what =
				`${p.item.task} item ${p.item.id} (seed ${p.seed}): ` +
				`the prompt is ${t.count} tokens, more than the ${limit.maxTokens} allowed by ${limit.source}`;
			if (!limit.skip) throw new EvaluationError("Data", `${what}; pass --skip-bad to skip over-long prompts, or --max-tokens N`);
			this.skipped.add(i);
			this.warnings.push(`${what}: skipped`);
		});
		this.totalTokens = total;
	}

	private tokenize(i: number): TokenizedPrompt {
		const p = this.plan[i]!;
		if (p.harness === undefined) {
			const ids = this.tok.encode(p.prompt, { addBos: this.addBos });
			return { ids, count: ids.length };
		}
		const harness = p.harness.choices.map((c) => harnessRequest(this.tok, p.prompt, ` ${c}`, this.addBos));
		const count = Math.max(...harness.map((r) => r.context.length + r.continuation.length));
		return { ids: harness[0]?.context ?? [], harness, count };
	}

	/** Prompt i's tokens (kept until release(i)). */
	get(i: number): TokenizedPrompt {
		let t = this.cache.get(i);
		if (t === undefined) {
			t = this.tokenize(i);
			this.cache.set(i, t);
		}
		return t;
	}

	release(i: number): void {
		this.cache.delete(i);
	}

	/** Prompt i's measured length. */
	count(i: number): number {
		return this.counts[i] ?? 0;
	}
}
