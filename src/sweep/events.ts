/** Progress of one trial: which part runs, and how far it got (tensors merged, prompts scored). */
export type TrialEvent =
	| { event: "phase"; key: string; phase: "merge" | "eval" }
	| { event: "progress"; key: string; phase: "merge" | "eval"; done: number; total: number }
	| { event: "warning"; key: string; message: string };

/** Progress of a sweep, yielded by the local and queue runners; the CLI renders it. */
export type SweepEvent =
	| { event: "start"; sweep: string; store: string; strategy: "grid" | "random" | "search"; planned: number; queue?: string }
	| { event: "batch"; index: number; trials: number; reused: number }
	| { event: "trialStart"; key: string; params: Record<string, unknown>; worker: string; attempt: number }
	| TrialEvent
	| {
			event: "trialDone";
			key: string;
			params: Record<string, unknown>;
			objective: number;
			seconds: number;
			worker: string;
			reused: boolean;
	  }
	| { event: "trialFailed"; key: string; params: Record<string, unknown>; error: string; worker?: string }
	| { event: "enqueued"; jobs: number; queue: string }
	| { event: "detached"; queued: number }
	| { event: "done"; done: number; failed: number; seconds: number };
