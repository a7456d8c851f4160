/**
 * Valid safetensors files for the fuzzer to start from: a few tensors of any dtype and small shapes (zero-size and
 * scalar ones included), names from the ordinary to the awkward (empty, Unicode, quotes, `__proto__`), optional
 * metadata, keys in data order or shuffled, and data bytes that include NaN and infinity patterns. The reader must
 * accept every one of them as generated.
 */
import { DTYPES, type Dtype } from "../src/io/dtypes.js";
import { arr, type JsonNode, num, obj, str } from "./json-model.js";
import type { FuzzRandom } from "./random.js";

/** A generated file before serialisation: the header tree and the data section. */
export interface HeaderFile {
	root: { node: JsonNode };
	data: Uint8Array;
	/** The tensors as generated (name → [begin, end]), for mutations that aim at one of them. */
	tensors: Array<{ name: string; dtype: Dtype; shape: number[]; begin: number; end: number }>;
}

export const ALL_DTYPES = Object.keys(DTYPES) as Dtype[];

const NAMES = [
	"model.embed_tokens.weight",
	"model.layers.0.self_attn.q_proj.weight",
	"model.layers.1.mlp.down_proj.weight",
	"lm_head.weight",
	"",
	"a",
	"名前.重み",
	"café😀",
	'quote"and\\backslash',
	"tab\tnew\nline",
	"__proto__",
	"constructor",
	"__metadata__x",
	"x".repeat(300),
	"\u0000nul",
	"\u2028sep",
];

const META_VALUES = ["pt", "", "1", '{"json": true}', "ünïcödé", "line\nbreak", "\u001b[31mred", "x".repeat(200)];

/** A shape whose element count fills whole bytes for `dtype` (F4 needs an even count, F6 a multiple of 4). */
function shapeFor(r: FuzzRandom, dtype: Dtype): number[] {
	const bits = DTYPES[dtype].bits;
	const rank = r.int(4);
	const shape = Array.from({ length: rank }, () => (r.chance(0.1) ? 0 : r.range(1, 4)));
	const count = shape.reduce((a, d) => a * d, 1);
	if ((count * bits) % 8 !== 0) shape.push(8);
	return shape;
}

/** Data bytes for a tensor: random, or runs of NaN / ±Inf / zero patterns for float dtypes. */
function dataFor(r: FuzzRandom, dtype: Dtype, bytes: number): Uint8Array {
	const out = r.bytes(bytes);
	if (r.chance(0.3)) {
		const pattern = r.pick([
			[0x00, 0x00, 0x80, 0x7f], // f32 +Inf
			[0x00, 0x00, 0xc0, 0x7f], // f32 NaN
			[0x80, 0x7f], // bf16 +Inf
			[0x00, 0x7c], // f16 +Inf
			[0xff, 0xff], // NaN in every 16-bit float
			[0x00, 0x00],
		]);
		for (let i = 0; i < bytes; i++) out[i] = pattern[i % pattern.length]!;
	}
	return dtype === "BOOL" ? out.map((b) => b & 1) : out;
}

/** A random valid file. */
export function validHeaderFile(r: FuzzRandom): HeaderFile {
	const count = r.pick([0, 1, 1, 2, 3, 4, 6]);
	const names = r.shuffle(NAMES).slice(0, count);
	const tensors: HeaderFile["tensors"] = [];
	const chunks: Uint8Array[] = [];
	let offset = 0;
	for (const name of names) {
		const dtype = r.pick(ALL_DTYPES);
		const shape = shapeFor(r, dtype);
		const bytes = (shape.reduce((a, d) => a * d, 1) * DTYPES[dtype].bits) / 8;
		tensors.push({ name, dtype, shape, begin: offset, end: offset + bytes });
		chunks.push(dataFor(r, dtype, bytes));
		offset += bytes;
	}
	const entries: Array<[string, JsonNode]> = (r.chance(0.5) ? tensors : r.shuffle(tensors)).map((t) => {
		const fields: Array<[string, JsonNode]> = [
			["dtype", str(t.dtype)],
			["shape", arr(t.shape.map(num))],
			["data_offsets", arr([num(t.begin), num(t.end)])],
		];
		return [t.name, obj(r.chance(0.7) ? fields : r.shuffle(fields))];
	});
	if (r.chance(0.6)) {
		const keys = r.shuffle(["format", "source", "__proto__", "", "dtype", "notes"]).slice(0, r.int(4));
		const metadata = obj(keys.map((k) => [k, str(r.pick(META_VALUES))]));
		entries.splice(r.int(entries.length + 1), 0, ["__metadata__", metadata]);
	}
	const root = obj(entries);
	if (root.t === "obj" && r.chance(0.1)) for (const [k] of root.pairs) k.escape = "unicode";
	const data = new Uint8Array(offset);
	let at = 0;
	for (const c of chunks) {
		data.set(c, at);
		at += c.length;
	}
	return { root: { node: root }, data, tensors };
}
