/**
 * Writes one GGUF file: the precomputed header first, then each tensor's bytes in layout order (in as many
 * chunks as the caller likes), with the alignment padding between tensors; or, with markWritten, records tensors
 * that other handles wrote at their offsets (the export's worker threads). Everything
 * goes to a temporary sibling `<out>.partial-XXXXXX`, which commit() fsyncs and renames into place, so
 * a file at `out` is always complete; abort() removes the temporary file.
 */
import { randomBytes } from "node:crypto";
import { type FileHandle, mkdir, open, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { ExecError, GgufError } from "../errors.js";
import { syncDir } from "../io/durable.js";
import { writeAt, writeError } from "../io/writer.js";
import type { GgufLayout } from "./layout.js";

/** Refuses an `out` that is a folder, or an existing file without `force`. */
async function checkOutFile(out: string, force: boolean): Promise<void> {
	let isDir: boolean;
	try {
		isDir = (await stat(out)).isDirectory();
	} catch (err) {
		if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
		throw writeError(out, "checking the output file", err);
	}
	if (isDir) throw new GgufError("OutputExists", out, "the output path is a folder, not a file");
	if (!force) throw new GgufError("OutputExists", out, "the output file exists; use --force to replace it");
}

export class GgufWriter {
	private tensorIndex = 0;
	private written = 0;
	private position: number;
	private state: "open" | "committed" | "aborted" = "open";

	private constructor(
		readonly out: string,
		readonly tempFile: string,
		private readonly handle: FileHandle,
		readonly layout: GgufLayout,
		private readonly force: boolean,
	) {
		this.position = layout.dataStart;
	}

	/** Checks `out`, creates the temporary file and writes the header. */
	static async create(out: string, layout: GgufLayout, opts: { force?: boolean } = {}): Promise<GgufWriter> {
		const file = resolve(out);
		await checkOutFile(file, opts.force ?? false);
		try {
			await mkdir(dirname(file), { recursive: true });
		} catch (err) {
			throw writeError(dirname(file), "creating the output folder", err);
		}
		const temp = join(dirname(file), `${basename(file)}.partial-${randomBytes(4).toString("hex")}`);
		let handle: FileHandle;
		try {
			handle = await open(temp, "wx");
		} catch (err) {
			throw writeError(temp, "creating the temporary file", err);
		}
		const writer = new GgufWriter(file, temp, handle, layout, opts.force ?? false);
		try {
			await writeAt(handle, layout.header, 0, temp);
		} catch (err) {
			await writer.abort();
			throw err;
		}
		return writer;
	}

	/** The tensor the next bytes belong to, or undefined once every tensor is complete. */
	get currentTensor(): string | undefined {
		return this.layout.tensors[this.tensorIndex]?.name;
	}

	/** Appends bytes of tensor `name`, which must be the current one; a completed tensor is padded to the alignment. */
	async write(name: string, bytes: Uint8Array): Promise<void> {
		const t = this.layout.tensors[this.tensorIndex];
		if (this.state !== "open") throw new ExecError("Io", `${this.out}: the GGUF writer was already ${this.state}`);
		if (t === undefined || t.name !== name) {
			throw new ExecError(
				"Io",
				`${this.out}: wrote tensor "${name}" out of order (expected ${t === undefined ? "no more tensors" : `"${t.name}"`})`,
			);
		}
		if (this.written + bytes.byteLength > t.byteLength) {
			throw new ExecError(
				"Io",
				`${this.out}: tensor "${name}" got ${this.written + bytes.byteLength} bytes, more than its ${t.byteLength}`,
			);
		}
		await writeAt(this.handle, bytes, this.position, this.tempFile);
		this.position += bytes.byteLength;
		this.written += bytes.byteLength;
		if (this.written === t.byteLength) {
			this.tensorIndex++;
			this.written = 0;
			const next = this.layout.tensors[this.tensorIndex];
			// Padding between tensors is left as a hole and reads back as zeros; the file is sized at commit.
			this.position = this.layout.dataStart + (next?.offset ?? t.offset + t.byteLength);
		}
	}

	/**
	 * Records that tensor `name`, the current one, was written completely into `tempFile` through other handles (the
	 * export's worker threads write each chunk at its final offset); the next tensor becomes the current one.
	 */
	markWritten(name: string): void {
		const t = this.layout.tensors[this.tensorIndex];
		if (this.state !== "open") throw new ExecError("Io", `${this.out}: the GGUF writer was already ${this.state}`);
		if (t === undefined || t.name !== name || this.written !== 0) {
			throw new ExecError(
				"Io",
				`${this.out}: tensor "${name}" recorded out of order (expected ${t === undefined ? "no more tensors" : `"${t.name}"`})`,
			);
		}
		this.tensorIndex++;
		const next = this.layout.tensors[this.tensorIndex];
		this.position = this.layout.dataStart + (next?.offset ?? t.offset + t.byteLength);
	}

	/** Checks every tensor was written, fsyncs, renames into place (replacing `out` only with force). */
	async commit(): Promise<void> {
		if (this.state !== "open") throw new ExecError("Io", `${this.out}: the GGUF writer was already ${this.state}`);
		const missing = this.layout.tensors[this.tensorIndex];
		if (missing !== undefined) {
			await this.abort();
			throw new ExecError("Io", `${this.out}: commit() before tensor "${missing.name}" was written`);
		}
		try {
			await this.handle.truncate(this.layout.fileSize);
			await this.handle.sync();
			await this.handle.close();
		} catch (err) {
			await this.abort();
			throw writeError(this.tempFile, "flushing the file to disk", err);
		}
		try {
			// Checked again: something may have appeared at `out` while the export ran.
			await checkOutFile(this.out, this.force);
			await rename(this.tempFile, this.out);
		} catch (err) {
			await this.abort();
			throw err instanceof GgufError ? err : writeError(this.out, "moving the finished file into place", err);
		}
		this.state = "committed";
		await syncDir(dirname(this.out));
	}

	/** Removes the temporary file (no-op after commit). */
	async abort(): Promise<void> {
		if (this.state === "committed" || this.state === "aborted") return;
		this.state = "aborted";
		await this.handle.close().catch(() => undefined);
		await rm(this.tempFile, { force: true });
	}
}
