/**
 * A small pool of worker threads that encode row chunks for the export, so quantization (the k-quants'
 * scale searches cost ~40 ns per value on one core) runs on every core while the main thread reads and
 * writes. Chunks go to the least busy worker; results come back as promises, which the export awaits in
 * file order. With one thread, chunks are encoded inline and no worker is started.
 */
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { ExecError } from "../errors.js";
import type { GgmlType } from "./constants.js";
import { encodeRows } from "./encode.js";

/** Threads when the caller does not say: every core the system reports. */
export function defaultEncodeThreads(): number {
	return Math.max(1, availableParallelism());
}

/** From compiled JS, encode-worker.js beside this file; from TypeScript (tests, tsx benches), via tsx's register API. */
function spawnWorker(): Worker {
	const here = new URL(import.meta.url);
	if (here.pathname.endsWith(".ts")) {
		const tsx = createRequire(import.meta.url).resolve("tsx/esm/api").replace(/\.cjs$/, ".mjs");
		const file = new URL("./encode-worker.ts", import.meta.url).href;
		const code = `import(${JSON.stringify(new URL(`file://${tsx}`).href)}).then((m) => { m.register(); return import(${JSON.stringify(file)}); })`;
		return new Worker(code, { eval: true });
	}
	return new Worker(new URL("./encode-worker.js", import.meta.url));
}

interface Pending {
	resolve(b: Uint8Array): void;
	reject(e: Error): void;
}

export class EncodePool {
	private readonly workers: Array<{ worker: Worker; pending: Map<number, Pending> }> = [];
	private nextId = 0;
	private failure: Error | undefined;
	/** Set by close(): workers exiting then are terminated on purpose, not failing. */
	private closing = false;

	constructor(readonly threads: number) {
		if (threads <= 1) return;
		for (let i = 0; i < threads; i++) {
			const worker = spawnWorker();
			const slot = { worker, pending: new Map<number, Pending>() };
			worker.on("message", (m: { id: number; bytes?: Uint8Array; error?: string }) => {
				const p = slot.pending.get(m.id);
				slot.pending.delete(m.id);
				if (slot.pending.size === 0) worker.unref();
				if (m.bytes !== undefined) p?.resolve(m.bytes);
				else p?.reject(new ExecError("Backend", `encode worker: ${m.error ?? "no result"}`));
			});
			worker.on("error", (err) => this.fail(err));
			worker.on("exit", (code) => {
				if (code !== 0 && !this.closing) this.fail(new Error(`encode worker exited with code ${code}`));
			});
			worker.unref();
			this.workers.push(slot);
		}
	}

	private fail(err: Error): void {
		this.failure ??= new ExecError("Backend", `encode worker failed: ${err.message}`, { cause: err });
		for (const w of this.workers) {
			for (const p of w.pending.values()) p.reject(this.failure);
			w.pending.clear();
			w.worker.unref();
		}
	}

	/** Encodes `data` as `type`; `data` is transferred to a worker (unusable afterwards) unless encoding runs inline. */
	encode(type: GgmlType, data: Float32Array): Promise<Uint8Array> {
		if (this.workers.length === 0) return Promise.resolve().then(() => encodeRows(type, data));
		if (this.failure !== undefined) return Promise.reject(this.failure);
		let slot = this.workers[0]!;
		for (const w of this.workers) if (w.pending.size < slot.pending.size) slot = w;
		const id = this.nextId++;
		return new Promise<Uint8Array>((resolve, reject) => {
			// A worker with work in flight keeps the process alive: otherwise, with nothing else pending (no
			// read or write outstanding), Node would exit mid-export with code 0. Idle workers stay unref'd.
			if (slot.pending.size === 0) slot.worker.ref();
			slot.pending.set(id, { resolve, reject });
			// A view into a larger buffer is copied out first; a whole buffer moves without a copy.
			const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
			slot.worker.postMessage({ id, type, data: whole }, [whole.buffer as ArrayBuffer]);
		});
	}

	async close(): Promise<void> {
		this.closing = true;
		// ref() first: terminating an unref'd worker does not keep the process alive until it has exited, so an
		// `await close()` with nothing else pending would leave the caller's promise unsettled.
		await Promise.all(
			this.workers.map((w) => {
				w.worker.ref();
				return w.worker.terminate();
			}),
		);
		this.workers.length = 0;
	}
}
