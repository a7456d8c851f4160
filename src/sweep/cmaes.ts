import { createRequire } from "node:module";
import type { EigenvalueDecomposition as Eig, Matrix as MatrixClass } from "ml-matrix";
import seedrandom from "seedrandom";

/**
 * CMA-ES (μ/μ_w, λ) with the default parameters of Hansen, "The CMA Evolution Strategy: A Tutorial"
 * (arXiv:1604.00772, Table 1 and Fig. 6), positive recombination weights only.
 *
 * Written here because npm has no maintained CMA-ES package (searched: no `cmaes`/`cma-es` package
 * exists; the general optimisers there, e.g. fmin, are Nelder-Mead and gradient methods untouched
 * since 2017). The eigendecomposition comes from ml-matrix. Fitness is maximised (a sweep's objective).
 */
interface CmaEsOptions {
	/** Search-space dimension n ≥ 1. */
	dim: number;
	/** Initial mean (default: all 0.5, the centre of the unit box). */
	mean?: readonly number[];
	/** Initial step size σ in the search space's units. */
	sigma: number;
	/** Seeds the normal draws: the same seed and fitness values give the same candidates. */
	seed: number;
	/** λ, candidates per generation (default 4 + ⌊3 ln n⌋). */
	population?: number;
}

/** The tutorial's strategy parameters for dimension n and population λ. */
export function cmaesParameters(n: number, lambda: number = 4 + Math.floor(3 * Math.log(n))) {
	const mu = Math.floor(lambda / 2);
	const raw = Array.from({ length: mu }, (_, i) => Math.log((lambda + 1) / 2) - Math.log(i + 1));
	const sum = raw.reduce((a, b) => a + b, 0);
	const weights = raw.map((w) => w / sum);
	const muEff = 1 / weights.reduce((a, w) => a + w * w, 0);
	const cSigma = (muEff + 2) / (n + muEff + 5);
	const dSigma = 1 + 2 * Math.max(0, Math.sqrt((muEff - 1) / (n + 1)) - 1) + cSigma;
	const cc = (4 + muEff / n) / (n + 4 + (2 * muEff) / n);
	const c1 = 2 / ((n + 1.3) ** 2 + muEff);
	const cMu = Math.min(1 - c1, (2 * (muEff - 2 + 1 / muEff)) / ((n + 2) ** 2 + muEff));
	const chiN = Math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n));
	return { lambda, mu, weights, muEff, cSigma, dSigma, cc, c1, cMu, chiN };
}

/** ml-matrix is loaded when a search starts, not with every command. */
function mlMatrix(): { Matrix: typeof MatrixClass; EigenvalueDecomposition: typeof Eig } {
	return createRequire(import.meta.url)("ml-matrix") as { Matrix: typeof MatrixClass; EigenvalueDecomposition: typeof Eig };
}

export class CmaEs {
	readonly n: number;
	readonly params: ReturnType<typeof cmaesParameters>;
	mean: number[];
	sigma: number;
	generation = 0;
	private C: MatrixClass;
	private B: MatrixClass;
	private D: number[];
	private pSigma: number[];
	private pc: number[];
	private readonly rng: seedrandom.PRNG;
	private spare: number | undefined;

	constructor(opts: CmaEsOptions) {
		if (!Number.isInteger(opts.dim) || opts.dim < 1) throw new RangeError(`CMA-ES dimension must be a positive integer, got ${opts.dim}`);
		if (!(opts.sigma > 0)) throw new RangeError(`CMA-ES sigma must be positive, got ${opts.sigma}`);
		this.n = opts.dim;
		this.params = cmaesParameters(this.n, opts.population);
		if (this.params.mu < 1) throw new RangeError(`CMA-ES population must be at least 2, got ${this.params.lambda}`);
		this.mean = opts.mean !== undefined ? [...opts.mean] : new Array<number>(this.n).fill(0.5);
		this.sigma = opts.sigma;
		const { Matrix } = mlMatrix();
		this.C = Matrix.eye(this.n);
		this.B = Matrix.eye(this.n);
		this.D = new Array<number>(this.n).fill(1);
		this.pSigma = new Array<number>(this.n).fill(0);
		this.pc = new Array<number>(this.n).fill(0);
		this.rng = seedrandom(`cmaes/${opts.seed}`);
	}

	/** One standard normal draw (Box–Muller, both values used). */
	private normal(): number {
		if (this.spare !== undefined) {
			const s = this.spare;
			this.spare = undefined;
			return s;
		}
		let u = 0;
		while (u === 0) u = this.rng();
		const v = this.rng();
		const r = Math.sqrt(-2 * Math.log(u));
		this.spare = r * Math.sin(2 * Math.PI * v);
		return r * Math.cos(2 * Math.PI * v);
	}

	/** λ candidates x = m + σ·B·D·z, z ~ N(0, I). */
	ask(): number[][] {
		return Array.from({ length: this.params.lambda }, () => {
			const dz = Array.from({ length: this.n }, (_, j) => (this.D[j] as number) * this.normal());
			return this.mean.map((m, i) => m + this.sigma * dz.reduce((a, v, j) => a + this.B.get(i, j) * v, 0));
		});
	}

	/** Updates mean, evolution paths, step size and covariance from the candidates' fitness (higher is better). */
	tell(candidates: readonly (readonly number[])[], fitness: readonly number[]): void {
		const { mu, weights, muEff, cSigma, dSigma, cc, c1, cMu, chiN } = this.params;
		if (candidates.length !== this.params.lambda || fitness.length !== candidates.length) {
			throw new RangeError(
				`tell() needs ${this.params.lambda} candidates and fitness values, got ${candidates.length} and ${fitness.length}`,
			);
		}
		const order = fitness.map((f, i) => [Number.isNaN(f) ? -Infinity : f, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
		const n = this.n;
		// y_i = (x_i − m) / σ for the μ best; ⟨y⟩_w their weighted mean.
		const ys = order
			.slice(0, mu)
			.map(([, i]) => (candidates[i] as readonly number[]).map((x, k) => (x - (this.mean[k] as number)) / this.sigma));
		const yw = new Array<number>(n).fill(0);
		for (const [r, y] of ys.entries()) for (const [k, v] of y.entries()) yw[k] = (yw[k] as number) + (weights[r] as number) * v;
		this.mean = this.mean.map((m, k) => m + this.sigma * (yw[k] as number));
		// C^(−1/2)·⟨y⟩_w = B·D⁻¹·Bᵀ·⟨y⟩_w
		const bty = Array.from({ length: n }, (_, j) => yw.reduce((a, v, i) => a + this.B.get(i, j) * v, 0) / (this.D[j] as number));
		const invSqrtY = Array.from({ length: n }, (_, i) => bty.reduce((a, v, j) => a + this.B.get(i, j) * v, 0));
		const sCoef = Math.sqrt(cSigma * (2 - cSigma) * muEff);
		this.pSigma = this.pSigma.map((p, k) => (1 - cSigma) * p + sCoef * (invSqrtY[k] as number));
		const psNorm = Math.hypot(...this.pSigma);
		this.generation++;
		const hSigma = psNorm / Math.sqrt(1 - (1 - cSigma) ** (2 * this.generation)) < (1.4 + 2 / (n + 1)) * chiN ? 1 : 0;
		const cCoef = Math.sqrt(cc * (2 - cc) * muEff);
		this.pc = this.pc.map((p, k) => (1 - cc) * p + hSigma * cCoef * (yw[k] as number));
		const deltaH = (1 - hSigma) * cc * (2 - cc);
		const next = mlMatrix().Matrix.zeros(n, n);
		for (let i = 0; i < n; i++) {
			for (let j = 0; j < n; j++) {
				let rankMu = 0;
				for (const [r, y] of ys.entries()) rankMu += (weights[r] as number) * (y[i] as number) * (y[j] as number);
				const v = (1 + c1 * deltaH - c1 - cMu) * this.C.get(i, j) + c1 * (this.pc[i] as number) * (this.pc[j] as number) + cMu * rankMu;
				next.set(i, j, v);
			}
		}
		this.C = next;
		this.sigma *= Math.exp((cSigma / dSigma) * (psNorm / chiN - 1));
		this.decompose();
	}

	/** C = B·diag(D²)·Bᵀ, symmetrised first so rounding cannot make it asymmetric. */
	private decompose(): void {
		const n = this.n;
		for (let i = 0; i < n; i++) {
			for (let j = 0; j < i; j++) {
				const v = (this.C.get(i, j) + this.C.get(j, i)) / 2;
				this.C.set(i, j, v);
				this.C.set(j, i, v);
			}
		}
		const eig = new (mlMatrix().EigenvalueDecomposition)(this.C, { assumeSymmetric: true });
		this.B = eig.eigenvectorMatrix;
		this.D = eig.realEigenvalues.map((e) => Math.sqrt(Math.max(e, 1e-20)));
	}
}
