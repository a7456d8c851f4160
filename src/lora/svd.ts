/**
 * Truncated SVD of a large float32 matrix by randomized range finding (Halko, Martinsson & Tropp 2011, algorithms 4.4
 * and 5.1): Y = M·Ω for a Gaussian Ω with rank + oversample columns, `powerIters` rounds of subspace iteration
 * (orthonormalizing between products), Bᵀ = Mᵀ·Q, then the exact SVD of the small B by one-sided Jacobi rotations.
 * M is touched only through 2·powerIters + 2 streaming matrix products; everything else is (rows + cols) × k.
 *
 * Written by hand: JavaScript linear-algebra libraries (ml-matrix, mathjs) offer only dense full SVDs on
 * arrays-of-rows, which for a 4096 × 14336 delta would cost far more time and memory than these products, and none
 * implements the randomized algorithm.
 */
import { createRng, rngKey } from "../tensor/rng.js";

/** Columns added to the sketch beyond the target rank: Halko et al. recommend 5–10; more only costs time. */
export const DEFAULT_OVERSAMPLE = 8;

/** Subspace iterations: 2 brings the error within a few percent of optimal for the slowly decaying spectra of fine-tuning deltas. */
export const DEFAULT_POWER_ITERS = 2;

/** Jacobi sweeps before giving up on convergence; each sweep orthogonalizes every column pair once (10 is ample at float64). */
const MAX_JACOBI_SWEEPS = 30;

export interface SvdOptions {
	oversample?: number;
	powerIters?: number;
	/** Seeds the Gaussian sketch (with `key`), so extraction is reproducible. */
	seed?: number;
	key?: string;
}

/** M ≈ U · diag(S) · Vt, with U (rows × rank) and Vt (rank × cols) row-major, S descending. */
export interface TruncatedSvd {
	rank: number;
	u: Float64Array;
	s: Float64Array;
	vt: Float64Array;
}

/** The rank-`rank` (at most min(rows, cols)) truncated SVD of the row-major `rows × cols` matrix `m`. */
export function randomizedSvd(m: Float32Array, rows: number, cols: number, rank: number, opts: SvdOptions = {}): TruncatedSvd {
	const full = Math.min(rows, cols);
	const r = Math.max(0, Math.min(rank, full));
	const k = Math.min(full, r + (opts.oversample ?? DEFAULT_OVERSAMPLE));
	if (r === 0) return { rank: 0, u: new Float64Array(0), s: new Float64Array(0), vt: new Float64Array(0) };
	const omega = gaussian(cols * k, opts.seed ?? 0, opts.key ?? "");
	let q = multiply(m, rows, cols, omega, k); // Y = M Ω  (rows × k)
	orthonormalize(q, rows, k);
	for (let it = 0; it < (opts.powerIters ?? DEFAULT_POWER_ITERS); it++) {
		const z = multiplyTransposed(m, rows, cols, q, k); // Mᵀ Q  (cols × k)
		orthonormalize(z, cols, k);
		q = multiply(m, rows, cols, z, k);
		orthonormalize(q, rows, k);
	}
	// Bᵀ = Mᵀ Q (cols × k). Jacobi makes its columns orthogonal: Bᵀ V = W Σ, so M ≈ Q B = (Q V) Σ Wᵀ.
	const bt = multiplyTransposed(m, rows, cols, q, k);
	const v = jacobi(bt, cols, k);
	const order = Array.from({ length: k }, (_, j) => j).sort((a, b) => columnNorm(bt, cols, k, b) - columnNorm(bt, cols, k, a));
	const u = new Float64Array(rows * r);
	const s = new Float64Array(r);
	const vt = new Float64Array(r * cols);
	for (let t = 0; t < r; t++) {
		const j = order[t]!;
		const sigma = columnNorm(bt, cols, k, j);
		s[t] = sigma;
		for (let c = 0; c < cols; c++) vt[t * cols + c] = sigma > 0 ? bt[c * k + j]! / sigma : 0;
		// Column t of U = Q · (column j of V).
		for (let i = 0; i < rows; i++) {
			let sum = 0;
			for (let l = 0; l < k; l++) sum += q[i * k + l]! * v[l * k + j]!;
			u[i * r + t] = sum;
		}
	}
	return { rank: r, u, s, vt };
}

/** n standard normal values (Box–Muller over the counter-based generator). */
function gaussian(n: number, seed: number, key: string): Float64Array {
	const rng = createRng(rngKey(seed, `lora-extract/${key}`, 0));
	const out = new Float64Array(n);
	for (let i = 0; i < n; i += 2) {
		const radius = Math.sqrt(-2 * Math.log(1 - rng.next()));
		const angle = 2 * Math.PI * rng.next();
		out[i] = radius * Math.cos(angle);
		if (i + 1 < n) out[i + 1] = radius * Math.sin(angle);
	}
	return out;
}

/** M (rows × cols, float32) times X (cols × k) → rows × k. */
export function multiply(m: Float32Array, rows: number, cols: number, x: Float64Array, k: number): Float64Array {
	const y = new Float64Array(rows * k);
	for (let i = 0; i < rows; i++) {
		const yi = i * k;
		for (let j = 0; j < cols; j++) {
			const a = m[i * cols + j]!;
			if (a === 0) continue;
			const xj = j * k;
			for (let l = 0; l < k; l++) y[yi + l]! += a * x[xj + l]!;
		}
	}
	return y;
}

/** Mᵀ (cols × rows) times Q (rows × k) → cols × k. */
export function multiplyTransposed(m: Float32Array, rows: number, cols: number, q: Float64Array, k: number): Float64Array {
	const z = new Float64Array(cols * k);
	for (let i = 0; i < rows; i++) {
		const qi = i * k;
		for (let j = 0; j < cols; j++) {
			const a = m[i * cols + j]!;
			if (a === 0) continue;
			const zj = j * k;
			for (let l = 0; l < k; l++) z[zj + l]! += a * q[qi + l]!;
		}
	}
	return z;
}

/**
 * Orthonormalizes the k columns of the row-major n × k matrix `a` in place: modified Gram–Schmidt, applied twice
 * ("twice is enough", Giraud et al.) so the result is orthonormal to working precision. A column that vanishes
 * (the matrix has lower rank) becomes zero.
 */
export function orthonormalize(a: Float64Array, n: number, k: number): void {
	for (let pass = 0; pass < 2; pass++) {
		for (let j = 0; j < k; j++) {
			for (let p = 0; p < j; p++) {
				let dot = 0;
				for (let i = 0; i < n; i++) dot += a[i * k + p]! * a[i * k + j]!;
				for (let i = 0; i < n; i++) a[i * k + j]! -= dot * a[i * k + p]!;
			}
			const norm = columnNorm(a, n, k, j);
			const inv = norm > 1e-300 ? 1 / norm : 0;
			for (let i = 0; i < n; i++) a[i * k + j]! *= inv;
		}
	}
}

function columnNorm(a: Float64Array, n: number, k: number, j: number): number {
	let s = 0;
	for (let i = 0; i < n; i++) s += a[i * k + j]! ** 2;
	return Math.sqrt(s);
}

/**
 * One-sided Jacobi (Hestenes): rotates pairs of columns of the n × k matrix `a` in place until all are mutually
 * orthogonal, and returns the accumulated k × k rotation V (a·V_before = a_after).
 */
function jacobi(a: Float64Array, n: number, k: number): Float64Array {
	const v = new Float64Array(k * k);
	for (let j = 0; j < k; j++) v[j * k + j] = 1;
	for (let sweep = 0; sweep < MAX_JACOBI_SWEEPS; sweep++) {
		let rotated = false;
		for (let p = 0; p < k - 1; p++) {
			for (let q = p + 1; q < k; q++) {
				let alpha = 0;
				let beta = 0;
				let gamma = 0;
				for (let i = 0; i < n; i++) {
					const x = a[i * k + p]!;
					const y = a[i * k + q]!;
					alpha += x * x;
					beta += y * y;
					gamma += x * y;
				}
				if (Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta) || gamma === 0) continue;
				rotated = true;
				const zeta = (beta - alpha) / (2 * gamma);
				const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
				const c = 1 / Math.sqrt(1 + t * t);
				const s = c * t;
				for (let i = 0; i < n; i++) {
					const x = a[i * k + p]!;
					const y = a[i * k + q]!;
					a[i * k + p] = c * x - s * y;
					a[i * k + q] = s * x + c * y;
				}
				for (let i = 0; i < k; i++) {
					const x = v[i * k + p]!;
					const y = v[i * k + q]!;
					v[i * k + p] = c * x - s * y;
					v[i * k + q] = s * x + c * y;
				}
			}
		}
		if (!rotated) break;
	}
	return v;
}
