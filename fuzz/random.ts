/**
 * The fuzzer's random source: case `index` of run `seed` draws from its own counter-based stream
 * (src/tensor/rng.ts), so any case can be replayed alone (`npm run fuzz -- --seed S --case I`) and the cases do
 * not depend on each other or on the order they run in.
 */
import { type RngKey, rngKey, uniformAt } from "../src/tensor/rng.js";

export class FuzzRandom {
	private readonly key: RngKey;
	private counter = 0;

	constructor(seed: number, stream: string, index: number) {
		this.key = rngKey(seed, stream, index);
	}

	/** Uniform in [0, 1). */
	next(): number {
		return uniformAt(this.key, this.counter++);
	}

	/** An integer in [0, n). */
	int(n: number): number {
		return Math.floor(this.next() * n);
	}

	/** An integer in [lo, hi]. */
	range(lo: number, hi: number): number {
		return lo + this.int(hi - lo + 1);
	}

	/** True with probability p. */
	chance(p: number): boolean {
		return this.next() < p;
	}

	pick<T>(items: readonly T[]): T {
		return items[this.int(items.length)]!;
	}

	/** Items in a random order (a new array). */
	shuffle<T>(items: readonly T[]): T[] {
		const out = [...items];
		for (let i = out.length - 1; i > 0; i--) {
			const j = this.int(i + 1);
			[out[i], out[j]] = [out[j]!, out[i]!];
		}
		return out;
	}

	/** `n` random bytes. */
	bytes(n: number): Uint8Array {
		const out = new Uint8Array(n);
		for (let i = 0; i < n; i++) out[i] = this.int(256);
		return out;
	}
}
