/**
 * Randomized truncated SVD against matrices with a known spectrum (U·diag(σ)·Vᵀ from orthonormalized random
 * factors): exact recovery when the rank is at most the target, and within 5 % of the optimal Eckart–Young error
 * sqrt(Σ_{i>R} σ_i²) when the spectrum decays, with the default sketch (8 extra columns, 2 power iterations).
 */
import { describe, expect, test } from "vitest";
import { orthonormalize, randomizedSvd } from "../../src/lora/svd.js";
import { randn } from "../helpers/lora.js";

/** rows × cols matrix Σ_i σ_i u_i v_iᵀ with orthonormal u, v. */
function withSpectrum(rows: number, cols: number, sigma: number[], key: string): Float32Array {
	const n = sigma.length;
	// n orthonormal vectors of length rows (and cols), stored one after another.
	const u = Float64Array.from(randn(`${key}u`, rows * n, 1));
	const v = Float64Array.from(randn(`${key}v`, cols * n, 1));
	orthonormalize(u, rows, n);
	orthonormalize(v, cols, n);
	const m = new Float32Array(rows * cols);
	for (let i = 0; i < rows; i++)
		for (let j = 0; j < cols; j++) {
			let s = 0;
			for (let t = 0; t < n; t++) s += sigma[t]! * u[t * rows + i]! * v[t * cols + j]!;
			m[i * cols + j] = s;
		}
	return m;
}

/** ‖M − U S Vt‖_F / ‖M‖_F. */
function relError(m: Float32Array, rows: number, cols: number, svd: ReturnType<typeof randomizedSvd>): number {
	let err = 0;
	let norm = 0;
	for (let i = 0; i < rows; i++)
		for (let j = 0; j < cols; j++) {
			let r = 0;
			for (let t = 0; t < svd.rank; t++) r += svd.u[i * svd.rank + t]! * svd.s[t]! * svd.vt[t * cols + j]!;
			err += (m[i * cols + j]! - r) ** 2;
			norm += m[i * cols + j]! ** 2;
		}
	return Math.sqrt(err / norm);
}

describe("randomizedSvd", () => {
	test.each([
		[40, 24, 3],
		[24, 40, 5],
		[17, 17, 17],
	])("%d × %d of rank %d is recovered to float32 precision, σ in order", (rows, cols, r) => {
		const sigma = Array.from({ length: r }, (_, i) => 3 / (i + 1));
		const m = withSpectrum(rows, cols, sigma, `exact${rows}`);
		const svd = randomizedSvd(m, rows, cols, r);
		expect(svd.rank).toBe(r);
		expect(relError(m, rows, cols, svd)).toBeLessThan(1e-6);
		sigma.forEach((s, i) => {
			expect(svd.s[i]).toBeCloseTo(s, 5);
		});
		// U has orthonormal columns.
		for (let a = 0; a < r; a++)
			for (let b = 0; b < r; b++) {
				let dot = 0;
				for (let i = 0; i < rows; i++) dot += svd.u[i * r + a]! * svd.u[i * r + b]!;
				expect(dot).toBeCloseTo(a === b ? 1 : 0, 9);
			}
	});

	test.each([4, 8])("a decaying spectrum (σ_i = 0.8^i): rank-%d error within 5 %% of the optimal", (rank) => {
		const sigma = Array.from({ length: 48 }, (_, i) => 0.8 ** i);
		const m = withSpectrum(96, 64, sigma, "decay");
		const optimal = Math.sqrt(sigma.slice(rank).reduce((a, s) => a + s * s, 0) / sigma.reduce((a, s) => a + s * s, 0));
		const got = relError(m, 96, 64, randomizedSvd(m, 96, 64, rank, { seed: 3, key: "t" }));
		expect(got).toBeGreaterThanOrEqual(optimal * (1 - 1e-6));
		expect(got).toBeLessThan(optimal * 1.05);
	});

	test("a zero matrix and rank 0", () => {
		const svd = randomizedSvd(new Float32Array(12), 3, 4, 2);
		expect(Array.from(svd.s)).toEqual([0, 0]);
		expect(randomizedSvd(new Float32Array(12), 3, 4, 0).rank).toBe(0);
	});
});
