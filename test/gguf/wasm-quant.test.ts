/**
 * The compiled encoders (native/gguf-quant.c, kernels.c's bf16) against the TypeScript ones, byte for byte, on many
 * random blocks of several distributions and on adversarial ones: all zeros, ±0, subnormals, tiny and huge
 * magnitudes, one outlier, constant blocks, values at the compiled domain's edge. Values outside that domain (NaN,
 * ±Inf, ≥ 2^16) must make the compiled encoder decline, so the TypeScript one writes the bytes. Also checks that the
 * shipped binary was built from the current native/gguf-quant.c.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { GGML_TYPES, type GgmlType } from "../../src/gguf/constants.js";
import { encodeRows } from "../../src/gguf/encode.js";
import { encodeInArena, hasCompiledEncoder } from "../../src/gguf/wasm-encode.js";
import { rngKey, uniformAt } from "../../src/tensor/rng.js";
import { wasmArena } from "../../src/wasm/kernels.js";
import { GGUF_QUANT_SOURCE_SHA256 } from "../../src/wasm/kernels-binary.js";

const arena = wasmArena()!;
const TYPES: GgmlType[] = ["F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q5_K", "Q6_K"];

test("the binary is built from the current native/gguf-quant.c (run scripts/build-wasm.mjs after editing it)", () => {
	const source = readFileSync(new URL("../../native/gguf-quant.c", import.meta.url));
	expect(createHash("sha256").update(source).digest("hex")).toBe(GGUF_QUANT_SOURCE_SHA256);
});

/** Encodes `values` both ways; returns which encoder ran in the arena and whether the bytes agree. */
function both(type: GgmlType, values: Float32Array): { ran: "wasm" | "ts"; equal: boolean; firstDiff: number } {
	const src = arena.slots[1]!.subarray(0, values.length);
	src.set(values);
	const bytes = (values.length / GGML_TYPES[type].block) * GGML_TYPES[type].bytes;
	const out = new Uint8Array(arena.slots[2]!.buffer, arena.slots[2]!.byteOffset, bytes);
	out.fill(0xa5);
	const ran = encodeInArena(arena, type, src, out);
	const want = encodeRows(type, values.slice());
	let firstDiff = -1;
	for (let i = 0; i < bytes && firstDiff < 0; i++) if (out[i] !== want[i]) firstDiff = i;
	return { ran, equal: firstDiff < 0, firstDiff };
}

const key = rngKey(20261207, "wasm-quant", 0);
let counter = 0;
const u = () => uniformAt(key, counter++);
/** A standard normal (Box–Muller). */
const normal = () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
const f32FromBits = (b: number) => new Float32Array(new Uint32Array([b >>> 0]).buffer)[0]!;

/** One 256-value block (a whole number of every type's blocks) drawn from distribution `kind`. */
function block(kind: number): Float32Array {
	const x = new Float32Array(256);
	const scale = 10 ** (u() * 12 - 9); // 1e-9 .. 1e3
	for (let i = 0; i < 256; i++) {
		switch (kind % 9) {
			case 0:
				x[i] = normal() * 0.02;
				break; // weight-like
			case 1:
				x[i] = normal() * scale;
				break; // any magnitude
			case 2:
				x[i] = (u() < 0.01 ? 50 : 1) * normal() * scale;
				break; // heavy outliers
			case 3:
				x[i] = Math.abs(normal()) * scale;
				break; // one sign (k-quants' min = 0 path)
			case 4:
				x[i] = -Math.abs(normal()) * scale;
				break;
			case 5:
				x[i] = u() < 0.5 ? 0 : normal() * scale;
				break; // sparse
			case 6:
				x[i] = f32FromBits(Math.floor(u() * 0x007fffff) | (u() < 0.5 ? 0x80000000 : 0));
				break; // subnormals
			case 7:
				x[i] = Math.round(normal() * 8) * 0.25;
				break; // quantization grid (ties)
			default:
				x[i] = (u() * 2 - 1) * 65535;
				break; // just inside the domain
		}
	}
	return x;
}

describe("compiled encoders give the TypeScript bytes", () => {
	for (const type of TYPES) {
		test(`${type}: ${type.startsWith("Q") ? 1800 : 900} random blocks of 9 distributions, then adversarial ones`, () => {
			expect(hasCompiledEncoder(type)).toBe(true);
			const n = type.startsWith("Q") ? 1800 : 900;
			for (let b = 0; b < n; b++) {
				const x = block(b);
				const r = both(type, x);
				// The compiled encoder runs unless a value lies outside its domain (the outlier kinds can reach 2^16).
				const inDomain = x.every((v) => Math.abs(v) < 65536);
				if (type !== "F16" && type !== "BF16") expect({ block: b, ran: r.ran }).toEqual({ block: b, ran: inDomain ? "wasm" : "ts" });
				else expect({ block: b, ran: r.ran }).toEqual({ block: b, ran: "wasm" });
				if (!r.equal)
					expect.fail(`${type}: block ${b} (kind ${b % 9}) differs at byte ${r.firstDiff}: ${Array.from(x.slice(0, 8)).join(", ")}...`);
			}
			const special: Array<[string, Float32Array]> = [
				["zeros", new Float32Array(256)],
				["negative zeros", new Float32Array(256).fill(-0)],
				["constant", new Float32Array(256).fill(0.375)],
				["negative constant", new Float32Array(256).fill(-3)],
				["smallest subnormal", new Float32Array(256).fill(f32FromBits(1))],
				["one outlier", new Float32Array(256).map((_, i) => (i === 77 ? 1000 : 1e-3 * Math.sin(i)))],
				["one nonzero", new Float32Array(256).map((_, i) => (i === 200 ? -1e-30 : 0))],
				["edge of domain", new Float32Array(256).map((_, i) => (i % 2 === 0 ? 65535.99 : -65535.99))],
				["f16 overflow", new Float32Array(256).map((_, i) => 65520 + (i % 8))],
				["ramp", new Float32Array(256).map((_, i) => i - 128)],
			];
			for (const [name, x] of special) {
				const r = both(type, x);
				if (!r.equal) expect.fail(`${type}: "${name}" differs at byte ${r.firstDiff} (ran ${r.ran})`);
			}
		});
	}

	test("several blocks per call: 64 Ki values at once, as the export encodes", () => {
		for (const type of TYPES) {
			const x = new Float32Array(65536).map(() => normal() * 0.02);
			const r = both(type, x);
			expect({ type, ran: r.ran, equal: r.equal }).toEqual({ type, ran: "wasm", equal: true });
		}
	});
});

describe("outside the compiled domain the TypeScript encoder writes the bytes", () => {
	for (const type of ["Q8_0", "Q4_0", "Q4_K", "Q5_K", "Q6_K"] as GgmlType[]) {
		test(`${type}: NaN, ±Inf and magnitudes ≥ 2^16 fall back (same bytes as the oracle, or its error)`, () => {
			for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 65536, -1e30]) {
				const x = new Float32Array(512).map(() => normal());
				x[300] = bad;
				let oracle: Uint8Array | Error;
				try {
					oracle = encodeRows(type, x.slice());
				} catch (e) {
					oracle = e as Error;
				}
				const src = arena.slots[1]!.subarray(0, 512);
				src.set(x);
				const out = new Uint8Array(
					arena.slots[2]!.buffer,
					arena.slots[2]!.byteOffset,
					(512 / GGML_TYPES[type].block) * GGML_TYPES[type].bytes,
				);
				if (oracle instanceof Error) {
					expect(() => encodeInArena(arena, type, src, out)).toThrow(oracle.message);
				} else {
					expect(encodeInArena(arena, type, src, out)).toBe("ts");
					expect(Buffer.from(out).equals(Buffer.from(oracle))).toBe(true);
				}
			}
		});
	}

	test("F16 and BF16 are total: NaN (payload kept), ±Inf and overflow match encodeRows", () => {
		const x = new Float32Array([
			Number.NaN,
			f32FromBits(0x7fc12345),
			f32FromBits(0xff800001),
			Infinity,
			-Infinity,
			65520,
			-1e30,
			3.4e38,
			1e-45,
			-0,
		]);
		for (const type of ["F16", "BF16"] as GgmlType[]) {
			const r = both(type, x);
			expect({ type, ran: r.ran, equal: r.equal }).toEqual({ type, ran: "wasm", equal: true });
		}
	});
});
