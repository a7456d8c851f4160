import { describe, expect, test } from "vitest";
import { BufferPool } from "../../src/exec/buffer-pool.js";
import { ARENA_HEAP_BYTES, wasmArena } from "../../src/wasm/kernels.js";

describe("BufferPool", () => {
	test("gives back the same memory for the same size, as a view of exactly the asked length", () => {
		const pool = new BufferPool(1 << 20);
		const a = pool.take(1000);
		expect(a.byteLength).toBe(1000);
		a[0] = 42;
		pool.give(a);
		const b = pool.take(1000);
		expect(b.buffer).toBe(a.buffer);
		expect(b[0]).toBe(42);
		const c = pool.take(1000);
		expect(c.buffer).not.toBe(b.buffer);
	});

	test("best fit: a smaller request takes the smallest free buffer that is large enough", () => {
		const pool = new BufferPool(1 << 20);
		const big = pool.take(40_000);
		const small = pool.take(10_000);
		pool.give(big, small);
		const got = pool.take(9_000);
		expect(got.buffer).toBe(small.buffer);
		expect(got.byteLength).toBe(9_000);
		// A huge free buffer is not tied up by a request of less than half its size.
		const tiny = pool.take(5_000);
		expect(tiny.buffer).not.toBe(big.buffer);
	});

	test("keeps at most keepBytes in free buffers, and never a buffer larger than that", () => {
		const pool = new BufferPool(10_000);
		pool.give(pool.take(20_000));
		expect(pool.keptBytes).toBe(0);
		const a = pool.take(4_000);
		const b = pool.take(4_000);
		const c = pool.take(4_000);
		pool.give(a, b, c);
		expect(pool.keptBytes).toBe(8_000);
		// Giving the same buffer twice keeps it once.
		const d = pool.take(4_000);
		pool.give(d, d);
		expect(pool.keptBytes).toBe(8_000);
	});

	test("an aligned request gets only buffers allocated aligned: page-aligned views of exactly the asked length", () => {
		const pool = new BufferPool(1 << 22);
		const plain = pool.take(100_000);
		pool.give(plain);
		const a = pool.take(100_000, true);
		expect(a.buffer === plain.buffer && a.byteOffset === plain.byteOffset).toBe(false);
		// In this thread's WebAssembly arena (page-aligned blocks of its heap), or a memory of its own at offset 0.
		expect(a.byteOffset % 4096).toBe(0);
		expect(a.byteLength).toBe(100_000);
		const arena = wasmArena();
		if (arena !== undefined) expect(arena.holds(a)).toBe(true);
		pool.give(a);
		// Reused for aligned requests, and usable by plain ones.
		const again = pool.take(90_000, true);
		expect([again.buffer, again.byteOffset]).toEqual([a.buffer, a.byteOffset]);
		const b = pool.take(100_000, true);
		pool.give(b);
		expect(pool.take(100_000).buffer).toBe(plain.buffer);
		const c = pool.take(100_000);
		expect([c.buffer, c.byteOffset]).toEqual([b.buffer, b.byteOffset]);
	});

	test("a request the arena's heap cannot hold gets a page-aligned memory of its own", () => {
		const pool = new BufferPool(1 << 20);
		const big = pool.take(ARENA_HEAP_BYTES + 4096, true);
		expect(big.byteLength).toBe(ARENA_HEAP_BYTES + 4096);
		expect(big.byteOffset).toBe(0);
		expect(wasmArena()?.holds(big) ?? false).toBe(false);
		pool.give(big);
		expect(pool.keptBytes).toBe(0); // larger than the pool keeps
	});

	test("arena blocks go back to the arena when dropped or disposed, and another pool of the thread reuses them", () => {
		const arena = wasmArena();
		if (arena === undefined) return; // LM_MERGE_WASM=0: aligned buffers are memories of their own
		const first = new BufferPool(1 << 22);
		const a = first.take(300_000, true);
		first.give(a);
		first.dispose();
		expect(first.keptBytes).toBe(0);
		const second = new BufferPool(1 << 22);
		const b = second.take(250_000, true);
		expect([b.buffer, b.byteOffset]).toEqual([a.buffer, a.byteOffset]);
		second.give(b);
		second.dispose();
	});

	test(
		"the hold allowance: grants at most the allowance, " + "and a job that does not fit waits for releases, first come first served",
		async () => {
			const pool = new BufferPool(0, 100);
			expect(await pool.acquireHold(60)).toBe(60);
			expect(await pool.acquireHold(30)).toBe(30);
			const order: string[] = [];
			// 50 does not fit beside 90; 10 would, but waits its turn behind it.
			const big = pool.acquireHold(500).then((g) => order.push(`big ${g}`));
			const small = pool.acquireHold(10).then((g) => order.push(`small ${g}`));
			await Promise.resolve();
			expect(order).toEqual([]);
			pool.releaseHold(60);
			await Promise.resolve();
			expect(order).toEqual([]); // 30 still held: the capped grant of 100 does not fit yet
			pool.releaseHold(30);
			await big;
			expect(order).toEqual(["big 100"]);
			pool.releaseHold(100);
			await small;
			expect(order).toEqual(["big 100", "small 10"]);
		},
	);

	test("without an allowance every job gets 0 at once", async () => {
		const pool = new BufferPool();
		expect(await pool.acquireHold(1 << 30)).toBe(0);
		expect(await pool.acquireHold(1 << 30)).toBe(0);
	});
});
