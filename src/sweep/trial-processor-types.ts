/** What a worker reports through BullMQ's job progress while it runs a trial. */
export type TrialProgress =
	| { phase: "start"; worker: string; startedAt: string; attempt: number }
	| { phase: "merge" | "eval"; done: number; total: number }
	| { phase: "done" };

/** Environment variables through which `merge worker` configures its sandboxed trial processes. */
export const PROCESSOR_ENV = {
	worker: "LM_MERGE_WORKER_ID",
	workDir: "LM_MERGE_WORK_DIR",
	keepDir: "LM_MERGE_KEEP_DIR",
} as const;
