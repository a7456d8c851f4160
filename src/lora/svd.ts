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

/** Settings of the randomized truncated SVD (oversampling, power iterations, the seed of its sketch). */
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
	// Sets of k vectors are stored vector after vector (k × n), so every inner loop runs over contiguous memory.
	const omega = gaussian(cols * k, opts.seed ?? 0, opts.key ?? "");
	let q = multiply(m, rows, cols, omega, k); // Y = M Ω: k vectors of length rows
	orthonormalize(q, rows, k);
	for (let it = 0; it < (opts.powerIters ?? DEFAULT_POWER_ITERS); it++) {
		const z = multiplyTransposed(m, rows, cols, q, k); // Mᵀ Q: k vectors of length cols
		orthonormalize(z, cols, k);
		q = multiply(m, rows, cols, z, k);
		orthonormalize(q, rows, k);
	}
	// Bᵀ = Mᵀ Q (its k columns of length cols). Jacobi makes them orthogonal: Bᵀ V = W Σ, so M ≈ Q B = (Q V) Σ Wᵀ.
	const bt = multiplyTransposed(m, rows, cols, q, k);
	const v = jacobi(bt, cols, k);
	const norms = Array.from({ length: k }, (_, j) => vectorNorm(bt, cols, j));
	const order = Array.from({ length: k }, (_, j) => j).sort((a, b) => norms[b]! - norms[a]!);
	const u = new Float64Array(rows * r);
	const s = new Float64Array(r);
	const vt = new Float64Array(r * cols);
	for (let t = 0; t < r; t++) {
		const j = order[t]!;
		const sigma = norms[j]!;
		s[t] = sigma;
		for (let c = 0; c < cols; c++) vt[t * cols + c] = sigma > 0 ? bt[j * cols + c]! / sigma : 0;
		// Column t of U = Σ_l Q_l · V[l, j].
		for (let l = 0; l < k; l++) {
			const w = v[l * k + j]!;
			for (let i = 0; i < rows; i++) u[i * r + t]! += w * q[l * rows + i]!;
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

/** M (rows × cols, float32) times the k vectors X (each of length cols) → k vectors of length rows: dot products. */
export function multiply(m: Float32Array, rows: number, cols: number, x: Float64Array, k: number): Float64Array {
	const y = new Float64Array(k * rows);
	for (let i = 0; i < rows; i++) {
		const row = i * cols;
		for (let l = 0; l < k; l++) {
			const xo = l * cols;
			// Four partial sums: independent chains run in parallel in the CPU.
			let s0 = 0;
			let s1 = 0;
			let s2 = 0;
			let s3 = 0;
			let j = 0;
			for (; j + 3 < cols; j += 4) {
				s0 += m[row + j]! * x[xo + j]!;
				s1 += m[row + j + 1]! * x[xo + j + 1]!;
				s2 += m[row + j + 2]! * x[xo + j + 2]!;
				s3 += m[row + j + 3]! * x[xo + j + 3]!;
			}
			for (; j < cols; j++) s0 += m[row + j]! * x[xo + j]!;
			y[l * rows + i] = s0 + s1 + (s2 + s3);
		}
	}
	return y;
}

/** Mᵀ times the k vectors Q (each of length rows) → k vectors of length cols, accumulated row by row of M. */
export function multiplyTransposed(m: Float32Array, rows: number, cols: number, q: Float64Array, k: number): Float64Array {
	const z = new Float64Array(k * cols);
	for (let i = 0; i < rows; i++) {
		const row = i * cols;
		for (let l = 0; l < k; l++) {
			const a = q[l * rows + i]!;
			if (a === 0) continue;
			const zo = l * cols;
			for (let j = 0; j < cols; j++) z[zo + j]! += a * m[row + j]!;
		}
	}
	return z;
}

/**
 * Orthonormalizes the k vectors of length n stored one after another in `a`, in place: modified Gram–Schmidt,
 * applied twice ("twice is enough", Giraud et al.) so the result is orthonormal to working precision. A vector that
 * vanishes (the set has lower rank) becomes zero.
 */
export function orthonormalize(a: Float64Array, n: number, k: number): void {
	for (let pass = 0; pass < 2; pass++) {
		for (let j = 0; j < k; j++) {
			const vj = j * n;
			for (let p = 0; p < j; p++) {
				const vp = p * n;
				let dot = 0;
				for (let i = 0; i < n; i++) dot += a[vp + i]! * a[vj + i]!;
				for (let i = 0; i < n; i++) a[vj + i]! -= dot * a[vp + i]!;
			}
			const norm = vectorNorm(a, n, j);
			const inv = norm > 1e-300 ? 1 / norm : 0;
			for (let i = 0; i < n; i++) a[vj + i]! *= inv;
		}
	}
}

function vectorNorm(a: Float64Array, n: number, j: number): number {
	let s = 0;
	for (let i = j * n; i < (j + 1) * n; i++) s += a[i]! ** 2;
	return Math.sqrt(s);
}

/**
 * One-sided Jacobi (Hestenes): rotates pairs of the k vectors (length n) in `a` in place until all are mutually
 * orthogonal, and returns the accumulated k × k rotation V (row-major; a_before · V = a_after, vectors as columns).
 */
function jacobi(a: Float64Array, n: number, k: number): Float64Array {
	const v = new Float64Array(k * k);
	for (let j = 0; j < k; j++) v[j * k + j] = 1;
	for (let sweep = 0; sweep < MAX_JACOBI_SWEEPS; sweep++) {
		let rotated = false;
		for (let p = 0; p < k - 1; p++) {
			const vp = p * n;
			for (let q = p + 1; q < k; q++) {
				const vq = q * n;
				let alpha = 0;
				let beta = 0;
				let gamma = 0;
				for (let i = 0; i < n; i++) {
					const x = a[vp + i]!;
					const y = a[vq + i]!;
					alpha += x * x;
					beta += y * y;
					gamma += x * y;
				}
				if (gamma === 0 || Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
				rotated = true;
				const zeta = (beta - alpha) / (2 * gamma);
				const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
				const c = 1 / Math.sqrt(1 + t * t);
				const s = c * t;
				for (let i = 0; i < n; i++) {
					const x = a[vp + i]!;
					const y = a[vq + i]!;
					a[vp + i] = c * x - s * y;
					a[vq + i] = s * x + c * y;
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
