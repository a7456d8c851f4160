/** The values the restricted unpickler builds, the hooks it asks its caller, and the opcodes it refuses. */
import { TorchBinError } from "../../errors.js";

/** A Python tuple. */
export class PyTuple {
	constructor(readonly items: readonly unknown[]) {}
}

/** Keys a pickled dict may use here (hashable scalars; tuple keys are refused). */
export type DictKey = string | number | bigint | boolean | null;

/** A Python dict or OrderedDict; `state` holds what BUILD set on it (a state dict's `_metadata`), never interpreted. */
export class PyDict {
	readonly map = new Map<DictKey, unknown>();
	state: unknown;
}

/** A global the allow-list resolved to something REDUCE may call; `callable` is its `module.name`, for messages. */
export interface PickleCallable {
	readonly callable: string;
	call(args: readonly unknown[]): unknown;
}

/** What the unpickler asks its caller. */
export interface UnpickleHooks {
	/** The value of GLOBAL `module name`, or undefined when it is not allowed (the pickle is then refused). */
	global(module: string, name: string): unknown;
	/** The object a persistent id stands for (torch's storage references); throws on anything unexpected. */
	persistentLoad(pid: unknown): unknown;
}

/** Thrown when the buffer ends before STOP, so a caller reading a stream can retry with more bytes. */
export class PickleTruncated extends TorchBinError {}

/** Opcodes that exist but are refused: they create arbitrary objects, sets or out-of-band buffers. */
export const OBJECT_OPCODES = new Map<number, string>([
	[0x69, "INST"],
	[0x6f, "OBJ"],
	[0x81, "NEWOBJ"],
	[0x92, "NEWOBJ_EX"],
	[0x82, "EXT1"],
	[0x83, "EXT2"],
	[0x84, "EXT4"],
	[0x50, "PERSID"],
	[0x8f, "EMPTY_SET"],
	[0x90, "ADDITEMS"],
	[0x91, "FROZENSET"],
	[0x96, "BYTEARRAY8"],
	[0x97, "NEXT_BUFFER"],
	[0x98, "READONLY_BUFFER"],
]);

/** Protocol 0's text forms: harmless but never written by torch.save, so refused with an InvalidPickle error naming the opcode. */
export const TEXT_OPCODES = new Map<number, string>([
	[0x49, "INT"],
	[0x4c, "LONG"],
	[0x53, "STRING"],
	[0x56, "UNICODE"],
	[0x46, "FLOAT"],
	[0x70, "PUT"],
	[0x67, "GET"],
]);
