/**
 * A restricted pickle virtual machine: it understands the data opcodes of pickle protocols 2–5 (what `torch.save`
 * writes) and nothing that creates arbitrary objects. A GLOBAL is only ever looked up in the caller's allow-list and
 * REDUCE only calls what that allow-list returned, so a hostile pickle (`os.system` via `__reduce__`,
 * `builtins.eval`, ...) is refused at its GLOBAL opcode before anything runs. Nothing here executes code named by the
 * file.
 *
 * Written by hand: no JavaScript library unpickles a safe subset. General-purpose unpicklers build an object for
 * any class a pickle names and bound neither memory nor globals; this VM only knows the opcodes above, and every
 * limit it applies is a named constant in limits.ts.
 */
import { TorchBinError } from "../../errors.js";
import { MAX_LONG_BYTES, MAX_MEMO_ENTRIES, MAX_STACK_ITEMS } from "./limits.js";
import {
	type DictKey,
	OBJECT_OPCODES,
	type PickleCallable,
	PickleTruncated,
	PyDict,
	PyTuple,
	TEXT_OPCODES,
	type UnpickleHooks,
} from "./pickle-values.js";

export { type DictKey, type PickleCallable, PickleTruncated, PyDict, PyTuple, type UnpickleHooks } from "./pickle-values.js";

const MARK = Symbol("mark");

function isCallable(v: unknown): v is PickleCallable {
	return (
		typeof v === "object" &&
		v !== null &&
		typeof (v as PickleCallable).call === "function" &&
		typeof (v as PickleCallable).callable === "string"
	);
}

function isDictKey(v: unknown): v is DictKey {
	return v === null || ["string", "number", "bigint", "boolean"].includes(typeof v);
}

/**
 * Runs the pickle that starts at `start` in `bytes` until its STOP and returns the value and the offset after STOP.
 * Throws TorchBinError: "UnsafePickle" (a refused global or opcode), "InvalidPickle" (malformed; PickleTruncated when
 * the bytes end early), "LimitExceeded".
 */
export function unpickle(
	bytes: Uint8Array,
	start: number,
	hooks: UnpickleHooks,
	where: { file: string; entry: string },
): { value: unknown; end: number } {
	const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	const stack: unknown[] = [];
	const memo = new Map<number, unknown>();
	const utf8 = new TextDecoder("utf-8", { fatal: true });
	let pos = start;
	let op = 0;
	let opAt = start;

	const fail = (kind: "InvalidPickle" | "UnsafePickle" | "LimitExceeded", message: string): never => {
		throw new TorchBinError(
			kind,
			where.file,
			`${message} (opcode 0x${op.toString(16).padStart(2, "0")} at byte ${opAt - start})`,
			where.entry,
		);
	};
	const need = (n: number): number => {
		if (pos + n > bytes.length)
			throw new PickleTruncated(
				"InvalidPickle",
				where.file,
				`the pickle ends at byte ${bytes.length - start} inside an opcode or before STOP`,
				where.entry,
			);
		const at = pos;
		pos += n;
		return at;
	};
	const u8 = () => bytes[need(1)]!;
	const u32 = () => view.getUint32(need(4), true);
	const u64 = (): number => {
		const at = need(8);
		const v = view.getBigUint64(at, true);
		if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail("LimitExceeded", `a length of ${v} bytes`);
		return Number(v);
	};
	const take = (n: number): Uint8Array => bytes.subarray(need(n), pos);
	const text = (n: number): string => {
		const raw = take(n);
		try {
			return utf8.decode(raw);
		} catch {
			return fail("InvalidPickle", "a string that is not valid UTF-8");
		}
	};
	const line = (): string => {
		const end = bytes.indexOf(0x0a, pos);
		if (end < 0) return fail("InvalidPickle", "GLOBAL without a newline");
		const s = new TextDecoder("latin1").decode(bytes.subarray(pos, end));
		pos = end + 1;
		return s;
	};
	const push = (v: unknown) => {
		if (stack.length >= MAX_STACK_ITEMS) fail("LimitExceeded", `more than ${MAX_STACK_ITEMS} values on the pickle stack`);
		stack.push(v);
	};
	const pop = (): unknown => {
		if (stack.length === 0 || stack[stack.length - 1] === MARK) fail("InvalidPickle", "pops an empty stack");
		return stack.pop();
	};
	const top = (): unknown => {
		if (stack.length === 0 || stack[stack.length - 1] === MARK) fail("InvalidPickle", "reads an empty stack");
		return stack[stack.length - 1];
	};
	/** Pops everything above the topmost MARK, and the MARK. */
	const popMark = (): unknown[] => {
		const at = stack.lastIndexOf(MARK);
		if (at < 0) fail("InvalidPickle", "no MARK on the stack");
		const items = stack.splice(at + 1);
		stack.pop();
		return items;
	};
	const put = (index: number) => {
		if (!memo.has(index) && memo.size >= MAX_MEMO_ENTRIES) fail("LimitExceeded", `more than ${MAX_MEMO_ENTRIES} memo entries`);
		memo.set(index, top());
	};
	const get = (index: number) => {
		if (!memo.has(index)) fail("InvalidPickle", `memo entry ${index} was never stored`);
		push(memo.get(index));
	};
	const long = (n: number): number | bigint => {
		if (n > MAX_LONG_BYTES) fail("LimitExceeded", `a ${n}-byte integer`);
		const b = take(n);
		let v = 0n;
		for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
		if (n > 0 && b[n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
		return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
	};
	const setItems = (dict: unknown, items: unknown[]) => {
		if (!(dict instanceof PyDict)) fail("UnsafePickle", "SETITEM on something that is not a dict");
		if (items.length % 2 !== 0) fail("InvalidPickle", "a dict item without a value");
		for (let i = 0; i < items.length; i += 2) {
			const key = items[i];
			if (!isDictKey(key)) fail("InvalidPickle", "a dict key that is not a string or number");
			(dict as PyDict).map.set(key as DictKey, items[i + 1]);
		}
	};
	const appendItems = (list: unknown, items: unknown[]) => {
		if (!Array.isArray(list)) fail("UnsafePickle", "APPEND to something that is not a list");
		for (const item of items) (list as unknown[]).push(item);
	};
	const global = (module: string, name: string) => {
		const value = hooks.global(module, name);
		if (value === undefined)
			fail("UnsafePickle", `refused global ${module}.${name}: a PyTorch state dict never needs it, and loading it could run code`);
		push(value);
	};

	for (;;) {
		opAt = pos;
		op = u8();
		switch (op) {
			case 0x80: {
				// PROTO
				const v = u8();
				if (v < 2 || v > 5) fail("InvalidPickle", `pickle protocol ${v} (torch.save writes 2 to 5)`);
				break;
			}
			case 0x95: // FRAME: a length hint only
				u64();
				break;
			case 0x2e: // STOP
				if (stack.length !== 1 || stack[0] === MARK) fail("InvalidPickle", `STOP with ${stack.length} values on the stack`);
				return { value: stack[0], end: pos };
			case 0x28: // MARK
				push(MARK);
				break;
			case 0x30: // POP
				pop();
				break;
			case 0x31: // POP_MARK
				popMark();
				break;
			case 0x32: // DUP
				push(top());
				break;
			case 0x4e: // NONE
				push(null);
				break;
			case 0x88: // NEWTRUE
				push(true);
				break;
			case 0x89: // NEWFALSE
				push(false);
				break;
			case 0x4a: // BININT
				push(view.getInt32(need(4), true));
				break;
			case 0x4b: // BININT1
				push(u8());
				break;
			case 0x4d: // BININT2
				push(view.getUint16(need(2), true));
				break;
			case 0x8a: // LONG1
				push(long(u8()));
				break;
			case 0x8b: // LONG4
				push(long(u32()));
				break;
			case 0x47: // BINFLOAT (big-endian)
				push(view.getFloat64(need(8), false));
				break;
			case 0x58: // BINUNICODE
				push(text(u32()));
				break;
			case 0x8c: // SHORT_BINUNICODE
				push(text(u8()));
				break;
			case 0x8d: // BINUNICODE8
				push(text(u64()));
				break;
			case 0x54: // BINSTRING (Python 2 str, written by old checkpoints)
				push(new TextDecoder("latin1").decode(take(u32())));
				break;
			case 0x55: // SHORT_BINSTRING
				push(new TextDecoder("latin1").decode(take(u8())));
				break;
			case 0x42: // BINBYTES
				push(take(u32()).slice());
				break;
			case 0x43: // SHORT_BINBYTES
				push(take(u8()).slice());
				break;
			case 0x8e: // BINBYTES8
				push(take(u64()).slice());
				break;
			case 0x29: // EMPTY_TUPLE
				push(new PyTuple([]));
				break;
			case 0x74: // TUPLE
				push(new PyTuple(popMark()));
				break;
			case 0x85: // TUPLE1
				push(new PyTuple([pop()]));
				break;
			case 0x86: {
				// TUPLE2
				const b = pop();
				push(new PyTuple([pop(), b]));
				break;
			}
			case 0x87: {
				// TUPLE3
				const c = pop();
				const b = pop();
				push(new PyTuple([pop(), b, c]));
				break;
			}
			case 0x5d: // EMPTY_LIST
				push([]);
				break;
			case 0x6c: // LIST
				push(popMark());
				break;
			case 0x61: {
				// APPEND
				const item = pop();
				appendItems(top(), [item]);
				break;
			}
			case 0x65: {
				// APPENDS
				const items = popMark();
				appendItems(top(), items);
				break;
			}
			case 0x7d: // EMPTY_DICT
				push(new PyDict());
				break;
			case 0x64: {
				// DICT
				const d = new PyDict();
				setItems(d, popMark());
				push(d);
				break;
			}
			case 0x73: {
				// SETITEM
				const value = pop();
				const key = pop();
				setItems(top(), [key, value]);
				break;
			}
			case 0x75: {
				// SETITEMS
				const items = popMark();
				setItems(top(), items);
				break;
			}
			case 0x71: // BINPUT
				put(u8());
				break;
			case 0x72: // LONG_BINPUT
				put(u32());
				break;
			case 0x94: // MEMOIZE
				put(memo.size);
				break;
			case 0x68: // BINGET
				get(u8());
				break;
			case 0x6a: // LONG_BINGET
				get(u32());
				break;
			case 0x63: {
				// GLOBAL "module\nname\n"
				const module = line();
				global(module, line());
				break;
			}
			case 0x93: {
				// STACK_GLOBAL
				const name = pop();
				const module = pop();
				if (typeof module !== "string" || typeof name !== "string") fail("InvalidPickle", "STACK_GLOBAL without two strings");
				global(module as string, name as string);
				break;
			}
			case 0x52: {
				// REDUCE: callable(*args), only for what the allow-list returned
				const args = pop();
				const fn = pop();
				if (!isCallable(fn)) fail("UnsafePickle", "REDUCE of something that is not an allowed callable");
				if (!(args instanceof PyTuple)) fail("InvalidPickle", "REDUCE arguments that are not a tuple");
				let result: unknown;
				try {
					result = (fn as PickleCallable).call((args as PyTuple).items);
				} catch (err) {
					if (err instanceof TorchBinError) throw err;
					fail("InvalidPickle", `${(fn as PickleCallable).callable}: ${err instanceof Error ? err.message : String(err)}`);
				}
				push(result);
				break;
			}
			case 0x62: {
				// BUILD: only the attribute dict torch's OrderedDict carries (`_metadata`)
				const state = pop();
				const obj = top();
				if (!(obj instanceof PyDict)) fail("UnsafePickle", "BUILD on something that is not a dict");
				if (state !== null && !(state instanceof PyDict)) fail("UnsafePickle", "BUILD with a state that is not a dict");
				(obj as PyDict).state = state;
				break;
			}
			case 0x51: // BINPERSID
				push(hooks.persistentLoad(pop()));
				break;
			default:
				if (OBJECT_OPCODES.has(op))
					fail("UnsafePickle", `refused opcode ${OBJECT_OPCODES.get(op)}: it builds objects a state dict never holds`);
				if (TEXT_OPCODES.has(op))
					fail("InvalidPickle", `protocol 0 opcode ${TEXT_OPCODES.get(op)} is not supported (torch.save writes protocol 2 or later)`);
				fail("InvalidPickle", "unknown opcode");
		}
	}
}
