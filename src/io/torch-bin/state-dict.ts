/**
 * Turns a `torch.save` pickle into a list of tensor layouts: name, dtype, shape, strides and element offset into a
 * named storage. The pickle runs in the restricted unpickler with the torch allow-list; the result must be a mapping
 * of names to tensors (a state dict), and every number is checked before it is used in index arithmetic.
 */
import { TorchBinError } from "../../errors.js";
import { type Dtype, dtypeBytes } from "../dtypes.js";
import { MAX_TENSOR_RANK, MAX_TENSORS } from "./limits.js";
import { type StorageRef, StorageType, type TensorRef, torchGlobal } from "./torch-globals.js";
import { PyDict, PyTuple, unpickle } from "./unpickler.js";

/** Where one tensor's elements are: `offset + Σ index[d] · stride[d]` elements into storage `storageKey`. */
export interface TensorLayout {
	name: string;
	dtype: Dtype;
	shape: number[];
	stride: number[];
	/** In elements of `dtype`, from the start of the storage. */
	offset: number;
	storageKey: string;
	numel: number;
	/** Elements from the storage start to one past the last element the view reaches (offset for an empty tensor). */
	extent: number;
	/** Row-major contiguous: its bytes are one run of the storage. */
	contiguous: boolean;
}

/** How storages are named in persistent ids: the zip format's 5-tuple, or the legacy format's 6-tuple with a view slot. */
type PidFormat = "zip" | "legacy";

/** A storage key becomes part of a record name (`data/<key>`): plain characters only. */
const STORAGE_KEY_RE = /^[A-Za-z0-9_.-]{1,64}$/;

export interface StateDict {
	tensors: TensorLayout[];
	/** Every storage the pickle referenced, by key. */
	storages: Map<string, StorageRef>;
	/** Offset after the pickle's STOP. */
	end: number;
}

/** Runs the pickle at `start` and returns the state dict it describes; throws TorchBinError naming `where`. */
export function readStateDict(bytes: Uint8Array, start: number, format: PidFormat, where: { file: string; entry: string }): StateDict {
	const storages = new Map<string, StorageRef>();
	const bad = (kind: "InvalidPickle" | "UnsupportedFormat" | "InvalidTensor" | "LimitExceeded", message: string): never => {
		throw new TorchBinError(kind, where.file, message, where.entry);
	};
	const persistentLoad = (pid: unknown): StorageRef => {
		const items = pid instanceof PyTuple ? pid.items : [];
		const arity = format === "zip" ? 5 : 6;
		if (items[0] !== "storage" || items.length !== arity)
			bad("InvalidPickle", `a persistent id that is not a ${arity}-item ("storage", ...) tuple`);
		const [, type, key, location, numel, view] = items;
		if (!(type instanceof StorageType)) return bad("InvalidPickle", "a storage reference without a storage type");
		if (typeof key !== "string" || !STORAGE_KEY_RE.test(key))
			return bad("InvalidPickle", `storage key ${JSON.stringify(key)} is not a plain name`);
		if (typeof location !== "string") return bad("InvalidPickle", `storage ${key}: the location is not a string`);
		if (typeof numel !== "number" || !Number.isSafeInteger(numel) || numel < 0)
			return bad("LimitExceeded", `storage ${key}: declared size ${String(numel)} is not a size`);
		if (format === "legacy" && view !== null)
			bad("UnsupportedFormat", `storage ${key} is a storage view (written by PyTorch < 1.0), which is not supported`);
		const known = storages.get(key);
		if (known !== undefined) {
			if (known.dtype !== type.dtype || known.numel !== numel)
				bad("InvalidPickle", `storage ${key} is referenced as both ${known.dtype}×${known.numel} and ${type.dtype}×${numel}`);
			return known;
		}
		const ref: StorageRef = { key, dtype: type.dtype, numel };
		storages.set(key, ref);
		return ref;
	};
	const { value, end } = unpickle(bytes, start, { global: torchGlobal, persistentLoad }, where);
	if (!(value instanceof PyDict)) {
		return bad("InvalidPickle", "the checkpoint is not a state dict (a mapping of tensor names to tensors)");
	}
	if (value.map.size > MAX_TENSORS) bad("LimitExceeded", `${value.map.size} tensors (at most ${MAX_TENSORS})`);
	const tensors: TensorLayout[] = [];
	for (const [name, t] of value.map) {
		if (typeof name !== "string") return bad("InvalidPickle", `a state dict key that is not a string: ${String(name)}`);
		if (t instanceof PyDict)
			bad("InvalidPickle", `"${name}" holds a nested dict: this is a training checkpoint (e.g. {"state_dict": ...}), not a weights file`);
		if (!isTensorRef(t)) return bad("InvalidPickle", `"${name}" is not a tensor`);
		tensors.push(
			layoutOf(
				name,
				t,
				(m) => bad("InvalidTensor", `tensor "${name}": ${m}`),
				(m) => bad("LimitExceeded", `tensor "${name}": ${m}`),
			),
		);
	}
	return { tensors, storages, end };
}

function isTensorRef(v: unknown): v is TensorRef {
	return typeof v === "object" && v !== null && "storage" in v && "shape" in v && "stride" in v;
}

function sizes(v: unknown): number[] | undefined {
	if (!(v instanceof PyTuple) || v.items.length > MAX_TENSOR_RANK) return undefined;
	return v.items.every((x) => typeof x === "number" && Number.isSafeInteger(x) && x >= 0) ? (v.items as number[]) : undefined;
}

/** Checks the view's numbers and computes how far into its storage it reaches. */
function layoutOf(name: string, t: TensorRef, invalid: (m: string) => never, limit: (m: string) => never): TensorLayout {
	const shape = sizes(t.shape);
	const stride = sizes(t.stride);
	if (shape === undefined) {
		if (t.shape instanceof PyTuple && t.shape.items.length > MAX_TENSOR_RANK)
			limit(`${t.shape.items.length} dimensions (at most ${MAX_TENSOR_RANK})`);
		return invalid("the size is not a tuple of non-negative integers");
	}
	if (stride === undefined || stride.length !== shape.length) return invalid("the strides are not one non-negative integer per dimension");
	if (typeof t.offset !== "number" || !Number.isSafeInteger(t.offset) || t.offset < 0)
		return invalid(`storage offset ${String(t.offset)} is not a non-negative integer`);
	const bytes = dtypeBytes(t.dtype);
	// Sizes multiply in float64: past 2^53 / bytes the byte count is no longer exact, so refuse before that.
	const cap = Number.MAX_SAFE_INTEGER / bytes;
	let numel = 1;
	for (const d of shape) {
		numel *= d;
		if (numel > cap) limit(`shape [${shape.join(", ")}] declares more than 2^53 bytes`);
	}
	let last = t.offset;
	if (numel > 0) {
		for (let d = 0; d < shape.length; d++) {
			last += (shape[d]! - 1) * stride[d]!;
			if (last > cap) limit(`shape [${shape.join(", ")}] with strides [${stride.join(", ")}] reaches past 2^53 bytes`);
		}
	}
	let expect = 1;
	let contiguous = true;
	for (let d = shape.length - 1; d >= 0; d--) {
		if (shape[d]! !== 1 && stride[d]! !== expect) contiguous = false;
		expect *= shape[d]!;
	}
	return {
		name,
		dtype: t.dtype,
		shape,
		stride,
		offset: t.offset,
		storageKey: t.storage.key,
		numel,
		extent: numel > 0 ? last + 1 : t.offset,
		contiguous,
	};
}
