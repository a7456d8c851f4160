/**
 * The chunked (streaming) form of the task-vector kernel, for every sparsifier except DELLA (whose ranks are per
 * row): the executor's blocks go straight to TaskVectorKernel (kernel.ts), the same kernel
 * mergeTaskVectors runs over whole arrays, so the output is bit-identical to the whole-tensor kernel for any
 * blocking. Rank sparsifiers need 2 scan passes (3 with the L1 rescale) unless a rank bracket misses; `scanPasses`
 * starts at the worst case and shrinks after each pass.
 */
import { DEBUG_ASSERTS, debugAssert } from "../../debug-assert.js";
import { MethodError } from "../../errors.js";
import type { Chunk, ChunkedForm, ChunkedKernel } from "../types.js";
import type { TaskParamValues } from "./declaration.js";
import { TaskVectorKernel } from "./kernel.js";
import { combineOptions, modelSettings, readTaskParams } from "./params.js";
import { planModel } from "./plan.js";
import { RNG_PURPOSE_SPARSIFY, type SparsifyWhere, type TaskArithmeticConfig } from "./types.js";

/** Adapts the executor's chunks (element 0 at global index chunk.offset) to the kernel's ranges. */
class ChunkedTaskVectors implements ChunkedKernel {
	constructor(
		private readonly kernel: TaskVectorKernel,
		private readonly count: number,
		private readonly where: SparsifyWhere,
	) {}

	get scanPasses(): number {
		return this.kernel.scanPasses;
	}

	private checked(chunk: Chunk): Float32Array {
		const { base, models } = chunk;
		const { method, tensorName } = this.where;
		if (base === undefined) throw new MethodError("InvalidInput", method, `tensor "${tensorName}": a base model is required`);
		if (models.length !== this.count) {
			throw new MethodError("InvalidInput", method, `tensor "${tensorName}": ${models.length} model chunks for ${this.count} models`);
		}
		for (let m = 0; m < models.length; m++) {
			if (models[m]!.length !== base.length) {
				const why = `chunk at ${chunk.offset}: model ${m} has ${models[m]!.length} elements, base has ${base.length}`;
				throw new MethodError("InvalidInput", method, `tensor "${tensorName}": ${why}`);
			}
		}
		return base;
	}

	scan(pass: number, chunk: Chunk): void {
		const base = this.checked(chunk);
		this.kernel.scanRange(pass, chunk.models, base, 0, base.length, chunk.offset);
	}

	emit(chunk: Chunk): Float32Array {
		const base = this.checked(chunk);
		// With the compiled kernels (blocks in the WebAssembly arena), results go to the arena's output slot.
		const out = this.kernel.kernelsFor(chunk.models, base).outputBlock(base.length) ?? base;
		this.kernel.emitRange(chunk.models, base, out, 0, base.length, chunk.offset);
		return out;
	}
}

/**
 * The chunked form of a task-arithmetic variant: bit-identical to its whole-tensor kernel for every chunking
 * (blocks in index order). Supports every sparsifier but DELLA. The parameters are checked before `create` runs
 * (by the method's entry, define.ts, or by the planner), so it trusts them; the chunks are checked as they come.
 */
export function taskVectorChunked(config: TaskArithmeticConfig): ChunkedForm<TaskParamValues, TaskParamValues> {
	return {
		supports: () => config.sparsify !== "della_magprune",
		create(input, ctx) {
			const where: SparsifyWhere = { method: config.name, tensorName: input.tensorName };
			const p = readTaskParams(config, input.params, input.modelParams);
			// One plan per model: a chunk with another model count is refused by `checked`.
			if (DEBUG_ASSERTS) {
				const why = () => `${where.method} tensor "${where.tensorName}": ${p.weights.length} weights for ${input.models} models`;
				debugAssert(p.weights.length === input.models, why);
			}
			const weights = p.weights;
			const key = (m: number) => () => ctx.rngKey(m, RNG_PURPOSE_SPARSIFY);
			const settings = (m: number) => modelSettings(config.sparsify, p, m);
			const plans = weights.map((w, m) => planModel(config.sparsify, w, settings(m), p.rescale, input.numel, key(m), where));
			const kernel = new TaskVectorKernel(plans, combineOptions(weights, config.consensus, p.normalize, p.lambda), where, input.numel, 0);
			return new ChunkedTaskVectors(kernel, plans.length, where);
		},
	};
}
