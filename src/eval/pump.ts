/**
 * Turns a callback-driven job into an async generator: `start` receives an `emit` function, everything it
 * emits is yielded in order, and the generator returns the job's result (or throws its error). Backends
 * report results through callbacks while the evaluator speaks in events; this joins the two without
 * buffering more than the events not yet consumed.
 */
export async function* pump<E, R>(start: (emit: (e: E) => void) => Promise<R>): AsyncGenerator<E, R> {
	const queue: E[] = [];
	let finished = false;
	let wake: (() => void) | undefined;
	const outcome = start((e) => {
		queue.push(e);
		wake?.();
	}).finally(() => {
		finished = true;
		wake?.();
	});
	outcome.catch(() => {}); // rethrown below; avoids an unhandled rejection while we wait
	for (;;) {
		const next = queue.shift();
		if (next !== undefined) {
			yield next;
			continue;
		}
		if (finished) break;
		await new Promise<void>((resolve) => (wake = resolve));
		wake = undefined;
	}
	return await outcome;
}
