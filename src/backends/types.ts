import type { MergeContext, MergeInput, MergeMethod } from "../methods/types.js";

/** Where kernels run. The CPU backend calls the method's own kernel; others may substitute their own. */
export interface Backend {
	readonly name: "cpu" | "tfjs";
	/** A human-readable description for logs (e.g. "tfjs (wasm)"). */
	readonly description: string;
	/** Merges one tensor with `method` (same contract as `method.merge`, asynchronous). */
	run<P, M>(method: MergeMethod<P, M>, input: MergeInput<P, M>, ctx: MergeContext): Promise<Float32Array>;
	/** Releases what the backend holds (tensors, engines); optional. */
	dispose?(): Promise<void>;
}
