import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import type { Backend } from "../backends/types.js";
import { ExecError } from "../errors.js";
import { directIoEnabled } from "../io/aligned.js";
import { Checksum } from "../io/checksum.js";
import type { FloatDtype } from "../io/dtypes.js";
import type { TensorSource } from "../io/types.js";
import { type OnNonFinite, type SliceBuffers, writeTensorData } from "../io/writer.js";
import { chunkedFormOf } from "../methods/chunked.js";
import { runCompat } from "../methods/compat/registry.js";
import type { MergeContext, MergeInput, MergeMethod } from "../methods/types.js";
import { CHUNKED_ABOVE_ELEMENTS, HOLD_BYTES } from "../plan/memory.js";
import type { JobVocab, TensorJob } from "../plan/types.js";
import { rngKey } from "../tensor/rng.js";
import { numel } from "../tensor/tensor.js";
import { BufferPool, POOL_KEEP_BYTES } from "./buffer-pool.js";
import { copyChunked, runChunked } from "./chunked-job.js";
import { FiniteGuard } from "./finite-guard.js";
import { readRemapped } from "./vocab-rows.js";

/**
 * Everything needed to produce one output tensor, as plain data: it crosses to worker threads with
 * postMessage, so it names the method and the models instead of holding them.
 */
export interface JobSpec {
	index: number;
	name: string;
	shape: number[];
	method: string;
	base: { model: number; tensor: string } | undefined;
	inputs: { model: number; tensor: string }[];
	params: Record<string, unknown>;
	modelParams: Record<string, unknown>[];
	truncate?: { rows: number; cols: number };
	/** Rebuild the inputs' rows to the output vocabulary (see TensorJob.vocab). */
	vocab?: JobVocab;
	copyRaw?: boolean;
	/** `compat: mergekit`: run the method's mergekit arithmetic in this dtype (whole tensor, CPU). */
	compat?: "BF16" | "F16" | "F32";
	seed: number;
	/** Where the bytes go: a shard file of the partial output folder and the absolute offset. */
	target: { file: string; position: number; dtype: string; byteLength: number };
	/** Compute a checksum of the written bytes (resume). */
	hash: boolean;
}

export interface JobResult {
	index: number;
	name: string;
	hash: string | undefined;
	warnings: string[];
}

/** What executing a job needs: the open models and a way to find a method by name. */
export interface JobEnv {
	models: TensorSource[];
	method(name: string): MergeMethod;
	/** Open shard handles (one per file, reused across jobs), and reusable encode buffers. */
	handles: Map<string, Promise<FileHandle>>;
	/** Shard handles for direct writes of streamed tensors (one per file; null where refused). */
	direct: Map<string, Promise<{ handle: FileHandle | null }>>;
	/** Free encode buffers: a job takes one pair while it writes (jobs in one thread may overlap). */
	slices?: SliceBuffers[];
	/** Runs kernels on another backend (tfjs) instead of calling method.merge directly. */
	backend?: Backend;
	/**
	 * Chunk size for chunked kernels (tests use small ones): tensors above it are streamed in chunks and blocks of
	 * this many elements; by default tensors above CHUNKED_ABOVE_ELEMENTS stream in STREAM_CHUNK_ELEMENTS chunks.
	 */
	chunkElements?: number;
	/** Reusable buffers of streamed jobs (one pool per thread; created on first use). */
	pool?: BufferPool;
	/** Bytes of input chunks this thread's multi-pass jobs may keep between passes (default HOLD_BYTES). */
	holdBytes?: number;
}

export function toJobSpec(job: TensorJob, index: number, seed: number, target: JobSpec["target"], hash: boolean): JobSpec {
	return {
		index,
		name: job.output.name,
		shape: job.output.shape,
		method: job.method.name,
		base: job.base,
		inputs: job.inputs,
		params: job.params,
		modelParams: job.modelParams,
		...(job.truncate !== undefined ? { truncate: job.truncate } : {}),
		...(job.vocab !== undefined ? { vocab: job.vocab } : {}),
		...(job.copyRaw === true ? { copyRaw: true } : {}),
		...(job.compat !== undefined ? { compat: job.compat.dtype } : {}),
		seed,
		target,
		hash,
	};
}

/** Reads one input as float32, cutting an embedding to the planned common sub-matrix if asked. */
async function readInput(source: TensorSource, tensor: string, truncate: JobSpec["truncate"]): Promise<Float32Array> {
	if (truncate === undefined) return (await source.read(tensor)).data;
	const { rows, cols } = truncate;
	const t = await source.readRows(tensor, 0, rows);
	const have = t.shape.length > 1 ? t.shape[1]! : 1;
	if (have === cols) return t.data;
	const out = new Float32Array(rows * cols);
	for (let r = 0; r < rows; r++) out.set(t.data.subarray(r * have, r * have + cols), r * cols);
	return out;
}

/** A vocabulary job's inputs, rows rebuilt to the output vocabulary: [base or undefined, ...inputs]. */
async function readVocabInputs(env: JobEnv, spec: JobSpec, vocab: JobVocab): Promise<Array<Float32Array | undefined>> {
	const slots = [...(spec.base !== undefined ? [spec.base] : []), ...spec.inputs];
	const rebuilt = await readRemapped(env.models, slots, vocab, spec.shape);
	return spec.base !== undefined ? rebuilt : [undefined, ...rebuilt];
}

/** The shard's handle for direct writes, opened once per file; its handle is null where direct I/O is off or refused. */
function directFor(env: JobEnv, file: string): Promise<{ handle: FileHandle | null }> {
	let h = env.direct.get(file);
	if (h === undefined) {
		h = directIoEnabled()
			? open(file, constants.O_WRONLY | constants.O_DIRECT).then(
					(handle) => ({ handle }),
					() => ({ handle: null }),
				)
			: Promise.resolve({ handle: null });
		env.direct.set(file, h);
	}
	return h;
}

function handleFor(env: JobEnv, file: string): Promise<FileHandle> {
	let h = env.handles.get(file);
	if (h === undefined) {
		h = open(file, "r+");
		env.handles.set(file, h);
	}
	return h;
}

/** Reads the inputs of one job, runs its kernel and writes the encoded result at its final offset. */
export async function executeJob(spec: JobSpec, env: JobEnv): Promise<JobResult> {
	const warnings: string[] = [];
	const hash = spec.hash ? new Checksum() : undefined;
	let result: Float32Array | Uint8Array;
	// Set for computed tensors (not byte copies): what to do when the output holds NaN or ±Inf.
	let onNonFinite: OnNonFinite | undefined;
	const output = async () => ({
		handle: await handleFor(env, spec.target.file),
		direct: await directFor(env, spec.target.file),
		file: spec.target.file,
		name: spec.name,
		dtype: spec.target.dtype as FloatDtype,
		position: spec.target.position,
	});
	env.pool ??= new BufferPool(POOL_KEEP_BYTES, env.holdBytes ?? HOLD_BYTES);
	if (spec.copyRaw === true) {
		const from = spec.base ?? spec.inputs[0]!;
		const source = env.models[from.model]!;
		const byteLength = source.info(from.tensor).byteLength;
		if (byteLength !== spec.target.byteLength) {
			throw new ExecError("Io", `${spec.name}: ${byteLength} bytes in the input, ${spec.target.byteLength} planned in the output`);
		}
		await copyChunked({
			source,
			tensor: from.tensor,
			byteLength,
			out: await output(),
			pool: env.pool,
			...(hash !== undefined ? { hash } : {}),
		});
		return { index: spec.index, name: spec.name, hash: hash?.digest(), warnings };
	} else {
		const method = env.method(spec.method);
		const ctx: MergeContext = {
			seed: spec.seed,
			rngKey: (modelIndex, purpose = 0) => rngKey(spec.seed, spec.name, modelIndex, purpose),
			warn: (message) => {
				if (!warnings.includes(message)) warnings.push(message);
			},
		};
		const n = numel(spec.shape);
		const guard = new FiniteGuard({
			tensor: spec.name,
			method: spec.method,
			dtype: spec.target.dtype as FloatDtype,
			inputs: [...(spec.base !== undefined ? [spec.base] : []), ...spec.inputs].map((i) => ({
				source: env.models[i.model]!,
				tensor: i.tensor,
			})),
			warn: ctx.warn,
		});
		onNonFinite = guard.onNonFinite;
		const form =
			env.backend === undefined &&
			spec.truncate === undefined &&
			spec.vocab === undefined &&
			spec.compat === undefined &&
			n > (env.chunkElements ?? CHUNKED_ABOVE_ELEMENTS)
				? chunkedFormOf(method, spec.params, spec.modelParams)
				: undefined;
		if (form !== undefined) {
			// Large tensor, chunkable method: stream it in bounded memory.
			// The planner checked the parameters (paramsChecked): the kernel does not check them again.
			const kernel = form.create(
				{
					tensorName: spec.name,
					shape: spec.shape,
					numel: n,
					params: spec.params,
					modelParams: spec.modelParams,
					models: spec.inputs.length,
					paramsChecked: true,
				},
				ctx,
			);
			await runChunked({
				kernel,
				numel: n,
				base: spec.base !== undefined ? { source: env.models[spec.base.model]!, tensor: spec.base.tensor } : undefined,
				models: spec.inputs.map((i) => ({ source: env.models[i.model]!, tensor: i.tensor })),
				out: await output(),
				pool: env.pool,
				onNonFinite,
				...(hash !== undefined ? { hash } : {}),
				...(env.chunkElements !== undefined ? { chunkElements: env.chunkElements, blockElements: env.chunkElements } : {}),
			});
			return { index: spec.index, name: spec.name, hash: hash?.digest(), warnings };
		}
		const [base, ...models] =
			spec.vocab !== undefined
				? await readVocabInputs(env, spec, spec.vocab)
				: await Promise.all([
						spec.base !== undefined ? readInput(env.models[spec.base.model]!, spec.base.tensor, spec.truncate) : Promise.resolve(undefined),
						...spec.inputs.map((i) => readInput(env.models[i.model]!, i.tensor, spec.truncate)),
					]);
		const input: MergeInput<unknown, unknown> = {
			tensorName: spec.name,
			shape: spec.shape,
			base,
			models: models as Float32Array[],
			params: spec.params,
			modelParams: spec.modelParams,
			elementOffset: 0,
			inPlace: true,
			paramsChecked: true,
		};
		if (spec.compat !== undefined) {
			// compat: mergekit always runs the plain TypeScript arithmetic (any backend is bypassed).
			result = runCompat(
				spec.method,
				{
					tensorName: spec.name,
					shape: spec.shape,
					base,
					models: models as Float32Array[],
					params: spec.params,
					modelParams: spec.modelParams,
				},
				spec.compat,
				ctx,
			);
		} else {
			result = env.backend !== undefined ? await env.backend.run(method, input, ctx) : method.merge(input, ctx);
		}
		if (result.length !== numel(spec.shape)) {
			throw new ExecError("Backend", `${spec.method} returned ${result.length} values for ${spec.name}, expected ${numel(spec.shape)}`);
		}
	}
	const handle = await handleFor(env, spec.target.file);
	env.slices ??= [];
	const mine = env.slices.pop();
	const used = await writeTensorData(
		handle,
		spec.target.file,
		{ name: spec.name, dtype: spec.target.dtype as FloatDtype, byteLength: spec.target.byteLength },
		spec.target.position,
		result,
		{
			...(hash !== undefined ? { hash } : {}),
			...(mine !== undefined ? { slices: mine } : {}),
			...(onNonFinite !== undefined ? { onNonFinite } : {}),
		},
	);
	const keep = used ?? mine;
	if (keep !== undefined) env.slices.push(keep);
	return { index: spec.index, name: spec.name, hash: hash?.digest(), warnings };
}

/** Closes the shard handles a JobEnv opened. */
export async function closeJobEnv(env: JobEnv): Promise<void> {
	env.pool?.dispose();
	const handles = [...env.handles.values()];
	const direct = [...env.direct.values()];
	env.handles.clear();
	env.direct.clear();
	await Promise.all(handles.map(async (h) => (await h.catch(() => undefined))?.close()));
	await Promise.all(direct.map(async (h) => (await h).handle?.close()));
}
