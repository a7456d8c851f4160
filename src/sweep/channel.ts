/**
 * A queue of values pushed from callbacks (BullMQ events, progress hooks) and consumed by an async
 * generator: push() never blocks, next() waits for the next value or for close().
 */
export class Channel<T> {
	private readonly items: T[] = [];
	private wake: (() => void) | undefined;
	private closed = false;

	push(item: T): void {
		if (this.closed) return;
		this.items.push(item);
		this.wake?.();
	}

	close(): void {
		this.closed = true;
		this.wake?.();
	}

	/** The next value, or undefined once the channel is closed and drained; `timeoutMs` bounds the wait (undefined on expiry). */
	async next(timeoutMs?: number): Promise<T | undefined> {
		if (this.items.length === 0 && !this.closed) {
			await new Promise<void>((resolve) => {
				const timer = timeoutMs !== undefined ? setTimeout(resolve, timeoutMs) : undefined;
				this.wake = () => {
					if (timer !== undefined) clearTimeout(timer);
					resolve();
				};
			});
			this.wake = undefined;
		}
		return this.items.shift();
	}
}
