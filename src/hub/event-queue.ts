/**
 * A queue between concurrent producers (parallel downloads) and one async-generator consumer: producers
 * `push`, the generator `for await`s. `fail` ends the iteration with an error, `close` ends it normally.
 * (The hub library keeps its equivalent, eventToGenerator, internal.)
 */
export class EventQueue<T> {
	private readonly items: T[] = [];
	private wake: (() => void) | undefined;
	private closed = false;
	private error: { err: unknown } | undefined;

	push(item: T): void {
		if (this.closed) return;
		this.items.push(item);
		this.notify();
	}

	close(): void {
		this.closed = true;
		this.notify();
	}

	fail(err: unknown): void {
		if (this.error === undefined) this.error = { err };
		this.close();
	}

	async *[Symbol.asyncIterator](): AsyncGenerator<T, void> {
		for (;;) {
			const item = this.items.shift();
			if (item !== undefined) {
				yield item;
				continue;
			}
			if (this.error !== undefined) throw this.error.err;
			if (this.closed) return;
			await new Promise<void>((resolve) => (this.wake = resolve));
		}
	}

	private notify(): void {
		const w = this.wake;
		this.wake = undefined;
		w?.();
	}
}
