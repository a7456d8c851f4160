/**
 * The allow-list of the `.bin` unpickler: exactly the globals `torch.save(model.state_dict())` writes, each mapped to
 * a plain description instead of the Python object (a storage type is its dtype, `_rebuild_tensor_v2` records where a
 * tensor's elements are). Anything else is refused by the unpickler before it is used.
 */
import type { Dtype } from "../dtypes.js";
import { type PickleCallable, PyDict } from "./unpickler.js";

/** A storage type global (`torch.FloatStorage`, ...): the dtype of its elements. */
export class StorageType {
	constructor(
		readonly name: string,
		readonly dtype: Dtype,
	) {}
}

/** A dtype global (`torch.bfloat16`, ...), passed to `_rebuild_tensor_v3`. */
class TorchDtype {
	constructor(
		readonly name: string,
		readonly dtype: Dtype,
	) {}
}

/** A storage a persistent id names: its key (the record `data/<key>`), element dtype and declared element count. */
export interface StorageRef {
	readonly key: string;
	readonly dtype: Dtype;
	readonly numel: number;
}

/** What `_rebuild_tensor_v2` describes: a strided view of a storage. Sizes are checked later, against the storage. */
export interface TensorRef {
	readonly storage: StorageRef;
	/** The tensor's dtype (the storage's, except for `_rebuild_tensor_v3` over an untyped storage). */
	readonly dtype: Dtype;
	/** In elements of `dtype`. */
	readonly offset: unknown;
	readonly shape: unknown;
	readonly stride: unknown;
}

/** Legacy typed storage classes → element dtype (torch/storage.py `_LegacyStorage` subclasses). */
const STORAGE_TYPES: Record<string, Dtype> = {
	DoubleStorage: "F64",
	FloatStorage: "F32",
	HalfStorage: "F16",
	BFloat16Storage: "BF16",
	LongStorage: "I64",
	IntStorage: "I32",
	ShortStorage: "I16",
	CharStorage: "I8",
	ByteStorage: "U8",
	BoolStorage: "BOOL",
	// Untyped storages hold bytes; the tensor's dtype then comes from _rebuild_tensor_v3.
	UntypedStorage: "U8",
};

/** torch dtype objects (and their aliases) → dtype. */
const TORCH_DTYPES: Record<string, Dtype> = {
	float64: "F64",
	double: "F64",
	float32: "F32",
	float: "F32",
	float16: "F16",
	half: "F16",
	bfloat16: "BF16",
	int64: "I64",
	long: "I64",
	int32: "I32",
	int: "I32",
	int16: "I16",
	short: "I16",
	int8: "I8",
	uint8: "U8",
	bool: "BOOL",
};

function callable(name: string, call: (args: readonly unknown[]) => unknown): PickleCallable {
	return { callable: name, call };
}

/** Raised by a rebuild function on arguments torch never writes; the unpickler's caller turns it into a TorchBinError. */
class RebuildError extends Error {}

function storageArg(v: unknown, fn: string): StorageRef {
	if (typeof v !== "object" || v === null || !("key" in v) || !("numel" in v))
		throw new RebuildError(`${fn}: the first argument is not a storage`);
	return v as StorageRef;
}

/** `_rebuild_tensor(storage, offset, size, stride)` and v2's extra (requires_grad, backward_hooks[, metadata]). */
function rebuildTensor(fn: string, args: readonly unknown[], min: number, max: number): TensorRef {
	if (args.length < min || args.length > max) throw new RebuildError(`${fn} with ${args.length} arguments`);
	const storage = storageArg(args[0], fn);
	checkHooks(args[5], fn);
	return { storage, dtype: storage.dtype, offset: args[1], shape: args[2], stride: args[3] };
}

/** Backward hooks must be an empty OrderedDict (or absent): torch saves none with a state dict. */
function checkHooks(hooks: unknown, fn: string): void {
	if (hooks === undefined || hooks === null) return;
	if (!(hooks instanceof PyDict) || hooks.map.size > 0) throw new RebuildError(`${fn}: backward hooks are not an empty dict`);
}

/**
 * `_rebuild_tensor_v3(storage, offset, size, stride, requires_grad, backward_hooks, dtype[, metadata])` (torch ≥ 2.3 for some dtypes).
 */
function rebuildTensorV3(args: readonly unknown[]): TensorRef {
	const fn = "_rebuild_tensor_v3";
	if (args.length < 7 || args.length > 8) throw new RebuildError(`${fn} with ${args.length} arguments`);
	const storage = storageArg(args[0], fn);
	checkHooks(args[5], fn);
	if (!(args[6] instanceof TorchDtype)) throw new RebuildError(`${fn}: the dtype argument is not a torch dtype`);
	return { storage, dtype: args[6].dtype, offset: args[1], shape: args[2], stride: args[3] };
}

/** `_rebuild_parameter(data, requires_grad, backward_hooks[, state])`: a Parameter is its data. */
function rebuildParameter(fn: string, args: readonly unknown[]): unknown {
	if (args.length < 3 || args.length > 4) throw new RebuildError(`${fn} with ${args.length} arguments`);
	checkHooks(args[2], fn);
	return args[0];
}

const ALLOWED: Record<string, unknown> = {
	"collections.OrderedDict": callable("collections.OrderedDict", (args) => {
		if (args.length !== 0) throw new RebuildError("OrderedDict called with arguments");
		return new PyDict();
	}),
	"torch._utils._rebuild_tensor": callable("torch._utils._rebuild_tensor", (a) => rebuildTensor("_rebuild_tensor", a, 4, 4)),
	"torch._utils._rebuild_tensor_v2": callable("torch._utils._rebuild_tensor_v2", (a) => rebuildTensor("_rebuild_tensor_v2", a, 6, 7)),
	"torch._utils._rebuild_tensor_v3": callable("torch._utils._rebuild_tensor_v3", rebuildTensorV3),
	"torch._utils._rebuild_parameter": callable("torch._utils._rebuild_parameter", (a) => rebuildParameter("_rebuild_parameter", a)),
	"torch._utils._rebuild_parameter_with_state": callable("torch._utils._rebuild_parameter_with_state", (a) =>
		rebuildParameter("_rebuild_parameter_with_state", a),
	),
	...Object.fromEntries(Object.entries(STORAGE_TYPES).map(([n, d]) => [`torch.${n}`, new StorageType(n, d)])),
	"torch.storage.UntypedStorage": new StorageType("UntypedStorage", "U8"),
	...Object.fromEntries(Object.entries(TORCH_DTYPES).map(([n, d]) => [`torch.${n}`, new TorchDtype(n, d)])),
};

/** The allow-list lookup the unpickler calls for GLOBAL / STACK_GLOBAL: undefined for anything not listed. */
export function torchGlobal(module: string, name: string): unknown {
	const key = `${module}.${name}`;
	return Object.hasOwn(ALLOWED, key) ? ALLOWED[key] : undefined;
}
