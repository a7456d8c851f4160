import { describe, expect, test } from "vitest";
import { dellaMagprune, dropAndRescale, magnitudeMask, magnitudeOutliers } from "../../../src/methods/task-vector/sparsify.js";
import { l1Norm } from "../../../src/tensor/ops.js";
import { rngKey, uniformAt } from "../../../src/tensor/rng.js";
import { kindOf } from "../../helpers/errors.js";

/** Standard normal samples (Box–Muller over the counter-based stream). */
function randn(n: number, seed = 1): Float32Array {
	const key = rngKey(seed, "randn", 0);
	const out = new Float32Array(n);
	for (let i = 0; i < n; i++) {
		const u = 1 - uniformAt(key, 2 * i);
		const v = uniformAt(key, 2 * i + 1);
		out[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
	}
	return out;
}

const nonzeros = (x: Float32Array) => x.reduce((c, v) => c + (v !== 0 ? 1 : 0), 0);
const KEY = rngKey(42, "model.layers.0.mlp.up_proj.weight", 0);

describe("magnitudeMask (TIES trim)", () => {
	test("density 1 is the identity", () => {
		const x = randn(100);
		expect(magnitudeMask(x.slice(), 1)).toEqual(x);
	});
	test("density 0 is InvalidParameter", () => {
		expect(kindOf(() => magnitudeMask(randn(100), 0))).toBe("InvalidParameter");
		expect(kindOf(() => magnitudeMask(randn(10), 0.05))).toBe("InvalidParameter");
	});
	test("128×64 randn at 0.5 keeps exactly numel/2", () => {
		expect(nonzeros(magnitudeMask(randn(128 * 64), 0.5))).toBe(4096);
	});
	test("keeps the largest magnitudes (hand example)", () => {
		const x = new Float32Array([0.5, -3, 1, 2, -0.25]);
		expect(Array.from(magnitudeMask(x, 0.5))).toEqual([0, -3, 0, 2, 0]);
	});
	test("L1 rescale restores ‖δ‖₁", () => {
		const x = randn(1000);
		const before = l1Norm(x);
		expect(l1Norm(magnitudeMask(x, 0.3, true))).toBeCloseTo(before, 2);
	});
});

describe("dropAndRescale (DARE)", () => {
	const n = 100_000;
	test("kept fraction ≈ density", () => {
		for (const d of [0.1, 0.5, 0.9]) {
			const out = dropAndRescale(new Float32Array(n).fill(1), d, KEY, false);
			expect(Math.abs(nonzeros(out) / n - d)).toBeLessThan(0.01);
		}
	});
	test("inverse_density preserves the mean", () => {
		const x = new Float32Array(n).map((_, i) => 1 + 0.5 * uniformAt(KEY, n + i));
		const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
		const before = mean(x);
		const after = mean(dropAndRescale(x.slice(), 0.3, KEY, "inverse_density"));
		expect(Math.abs(after / before - 1)).toBeLessThan(0.02);
	});
	test("L1 rescale matches ‖δ‖₁", () => {
		const x = randn(10_000);
		const before = l1Norm(x);
		const out = dropAndRescale(x.slice(), 0.4, KEY, true);
		expect(nonzeros(out)).toBeLessThan(5000);
		expect(l1Norm(out) / before).toBeCloseTo(1, 5);
	});
	test("density 1 unchanged, density 0 all zeros", () => {
		const x = randn(50);
		expect(dropAndRescale(x.slice(), 1, KEY)).toEqual(x);
		expect(nonzeros(dropAndRescale(x.slice(), 0, KEY, "inverse_density"))).toBe(0);
	});
	test("same key → same mask; another tensor name → another mask", () => {
		const x = randn(2000);
		const a = dropAndRescale(x.slice(), 0.5, rngKey(7, "t.weight", 0), false);
		const b = dropAndRescale(x.slice(), 0.5, rngKey(7, "t.weight", 0), false);
		const c = dropAndRescale(x.slice(), 0.5, rngKey(7, "u.weight", 0), false);
		expect(b).toEqual(a);
		expect(c).not.toEqual(a);
	});
	test("chunks with elementOffset reproduce the whole tensor", () => {
		const x = randn(1000);
		const whole = dropAndRescale(x.slice(), 0.5, KEY, "inverse_density");
		const parts = [0, 300, 301, 777, 1000];
		const chunked = new Float32Array(1000);
		for (let p = 0; p + 1 < parts.length; p++) {
			const [lo, hi] = [parts[p]!, parts[p + 1]!];
			chunked.set(dropAndRescale(x.slice(lo, hi), 0.5, KEY, "inverse_density", lo), lo);
		}
		expect(chunked).toEqual(whole);
	});
});

describe("magnitudeOutliers (breadcrumbs)", () => {
	const n = 128 * 64;
	const densities = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];
	const cases = [0.1, 0.2, 0.5, 1.0].flatMap((g0) => densities.map((d) => [g0, d] as const));
	test.each(cases)("gamma₀ %d × (1 − density), density %d keeps int(n·density)", (g0, d) => {
		const out = magnitudeOutliers(randn(n, 3), d, g0 * (1 - d));
		expect(nonzeros(out)).toBe(Math.floor(n * d));
	});
	test("hand example: drops the top gamma and the smallest", () => {
		const x = new Float32Array([5, -1, 3, 0.5, -4, 2, 10, -0.1, 7, 6]);
		expect(Array.from(magnitudeOutliers(x, 0.5, 0.1))).toEqual([5, 0, 3, 0, -4, 0, 0, 0, 7, 6]);
	});
	test("n_top = 0 keeps the largest (mergekit would zero everything)", () => {
		const x = new Float32Array(50).map((_, i) => i + 1);
		const out = magnitudeOutliers(x, 0.5, 0.01);
		expect(Array.from(out)).toEqual(Array.from(x, (v) => (v > 25 ? v : 0)));
	});
});

describe("dellaMagprune", () => {
	test.each([
		[0.66, 1.35],
		[0.9, 0.2],
		[0.5, 0.5],
	])("density %d, epsilon %d outside (0, 1) is InvalidParameter", (d, e) => {
		expect(kindOf(() => dellaMagprune(randn(20), [20], d, e, KEY))).toBe("InvalidParameter");
	});
	test("density ≥ 1 unchanged (even with a bad epsilon), ≤ 0 zeros", () => {
		const x = randn(20);
		expect(dellaMagprune(x.slice(), [4, 5], 1, 3, KEY)).toEqual(x);
		expect(nonzeros(dellaMagprune(x.slice(), [4, 5], 0, 0.1, KEY))).toBe(0);
	});
	test.each([[[64, 1]], [[8, 8]], [[64]], [[2, 4, 8]], [[4, 16]]])("shape %j: no NaN or Inf, zeros allowed", (shape) => {
		const x = randn(64, 5);
		for (let i = 0; i < 64; i += 7) x[i] = 0;
		const out = dellaMagprune(x, shape, 0.5, 0.3, KEY, true);
		expect(out.every(Number.isFinite)).toBe(true);
	});
	test("keep probability rises with the magnitude rank in each row", () => {
		const rows = 100;
		const cols = 1001;
		const x = new Float32Array(rows * cols);
		for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) x[r * cols + j] = (((j * 7 + r) % cols) + 1) * (j % 2 ? -1 : 1);
		const out = dellaMagprune(x.slice(), [rows, cols], 0.5, 0.2, KEY, false);
		let low = 0;
		let high = 0;
		for (let i = 0; i < x.length; i++) {
			const rank = Math.abs(x[i]!) - 1;
			if (out[i] === 0) continue;
			if (rank < 100) low++;
			else if (rank >= cols - 100) high++;
		}
		// Mean keep probability of the 100 lowest / highest ranks: 0.3 + 0.4·49.5/1000 and 0.7 − 0.4·49.5/1000.
		expect(low / (rows * 100)).toBeCloseTo(0.3198, 1);
		expect(high / (rows * 100)).toBeCloseTo(0.6802, 1);
		expect(Math.abs(low / (rows * 100) - 0.3198)).toBeLessThan(0.02);
		expect(Math.abs(high / (rows * 100) - 0.6802)).toBeLessThan(0.02);
	});
	test("a single-column row keeps with probability density", () => {
		const n = 20_000;
		const out = dellaMagprune(new Float32Array(n).fill(1), [n, 1], 0.4, 0.1, KEY, false);
		expect(Math.abs(nonzeros(out) / n - 0.4)).toBeLessThan(0.015);
	});
	test("1-D equals one row [1, n] with the same stream", () => {
		const x = randn(300);
		expect(dellaMagprune(x.slice(), [300], 0.5, 0.2, KEY)).toEqual(dellaMagprune(x.slice(), [1, 300], 0.5, 0.2, KEY));
	});
});

describe("sparsifiers against brute-force references", () => {
	/** DELLA by definition: stable sort per row, keep with probability p(rank) using uniformAt directly. */
	function dellaReference(x: Float32Array, rows: number, cols: number, inner: number, d: number, e: number, offset: number): Float32Array {
		const out = x.slice();
		const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
		for (let o = 0; o < rows; o++) {
			for (let c = 0; c < inner; c++) {
				const at = (j: number) => (o * cols + j) * inner + c;
				const order = Array.from({ length: cols }, (_, j) => j).sort(
					(p, q) => (bits[at(p)]! & 0x7fffffff) - (bits[at(q)]! & 0x7fffffff) || p - q,
				);
				order.forEach((j, r) => {
					const p = cols === 1 ? d : d - e + (2 * e * r) / (cols - 1);
					if (!(uniformAt(KEY, offset + at(j)) < p)) out[at(j)] = 0;
				});
			}
		}
		return out;
	}
	test.each([
		[[6, 300], 6, 300, 1],
		[[5, 20, 30], 5, 20, 30],
		[[1000], 1, 1000, 1],
		[[40, 1], 40, 1, 1],
	] as const)("dellaMagprune on shape %j equals the definition", (shape, rows, cols, inner) => {
		const x = randn(rows * cols * inner, 11);
		for (let i = 0; i < x.length; i += 9) x[i] = x[(i * 7) % x.length]!; // exact ties
		const expected = dellaReference(x, rows, cols, inner, 0.5, 0.2, 17);
		expect(dellaMagprune(x.slice(), shape, 0.5, 0.2, KEY, false, 17)).toEqual(expected);
	});
	test("dropAndRescale keeps exactly where uniformAt(key, offset + i) < density, across counter 2^32", () => {
		const n = 5000;
		for (const offset of [0, 2 ** 32 - 2000]) {
			const out = dropAndRescale(new Float32Array(n).fill(1), 0.42, KEY, false, offset);
			for (let i = 0; i < n; i++) expect(out[i]).toBe(uniformAt(KEY, offset + i) < 0.42 ? 1 : 0);
		}
	});
});
