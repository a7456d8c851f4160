/**
 * Writes an output (a folder or a single file) so that it is either absent, the old one, or complete: never
 * half-written where a finished one is expected, and never at a destination whose replacement could destroy
 * what the user did not ask to replace.
 *
 *   const target = await AtomicOutput.begin(out, { kind: "file", force, inputs });
 *   try { await writeEverything(target.temp); await target.commit(); } catch (e) { await target.abort(); throw e; }
 *
 * begin() checks the destination (output-guard.ts), takes the output's lock (output-lock.ts) and creates the
 * temporary sibling `<out>.partial-XXXXXX` (same parent, so the final rename is atomic). A temporary folder holds
 * the marker file UNFINISHED_MARKER until commit(), so every reader can tell it from a model (see
 * unfinishedOutputOf). commit() moves an old folder aside, renames the new one into place, and only then deletes
 * the old one; abort() removes the temporary output (or keeps it for a later resume).
 */
import { randomBytes } from "node:crypto";
import { lstat, mkdir, readdir, readFile, rename, rm, rmdir, stat } from "node:fs/promises";
import path from "node:path";
import { ExecError, PlanError } from "../errors.js";
import { fsyncFile, syncDir, writeWholeFile } from "./durable.js";
import { assertNoOverlap, assertSafeOutput, type GuardedInput, type OutputGuardOptions } from "./output-guard.js";
import { OutputLock } from "./output-lock.js";
import { writeError } from "./writer.js";

/** Infix of a temporary output: `merged/x` is written as `merged/x.partial-XXXXXX`. */
const PARTIAL_INFIX = ".partial-";

/** Infix of an old output moved aside while its replacement is renamed into place. */
const OLD_INFIX = ".old-";

/** Present in a temporary output folder from its creation until just before it is renamed into place. */
export const UNFINISHED_MARKER = ".lm-merge-unfinished";

/** The random part of temporary names: six letters or digits, as mkdtemp makes them. */
const SUFFIX = /^[A-Za-z0-9]{6}$/;
const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

function randomSuffix(): string {
	return [...randomBytes(6)].map((b) => ALNUM[b % ALNUM.length]).join("");
}

/** Whether a file or folder name is a temporary output (`<name>.partial-XXXXXX`). */
export function isPartialName(name: string): boolean {
	const i = name.lastIndexOf(PARTIAL_INFIX);
	return i > 0 && SUFFIX.test(name.slice(i + PARTIAL_INFIX.length));
}

/**
 * The output that `dir` is an unfinished copy of, when it is one: it holds UNFINISHED_MARKER, or it is named
 * like a temporary output (which also covers folders left by versions that wrote no marker). Undefined otherwise.
 */
export async function unfinishedOutputOf(dir: string): Promise<string | undefined> {
	const marker = await readFile(path.join(dir, UNFINISHED_MARKER), "utf8").catch(() => undefined);
	if (marker !== undefined) {
		try {
			const out = (JSON.parse(marker) as { unfinished_output?: unknown }).unfinished_output;
			if (typeof out === "string") return out;
		} catch {
			// an unreadable marker still marks the folder
		}
		return dir;
	}
	const name = path.basename(dir);
	return isPartialName(name) ? path.join(path.dirname(dir), name.slice(0, name.lastIndexOf(PARTIAL_INFIX))) : undefined;
}

/** Options of AtomicOutput.begin. */
interface AtomicOutputOptions extends OutputGuardOptions {
	/** A folder (model output) or a single file (e.g. an exported GGUF). */
	kind: "folder" | "file";
	/** Replace an existing output (a non-empty folder, or a file). Never overrides the destination checks. */
	force?: boolean;
	/** The inputs the output must not overlap in either direction (real paths and device + inode). */
	inputs?: readonly GuardedInput[];
	/** Folders only: picks one of the temporary folders an earlier run left (for resume), or undefined for a new one. */
	reuse?: (leftovers: readonly string[]) => Promise<string | undefined>;
}

/** A locked destination and its temporary sibling; see the module comment. */
export class AtomicOutput {
	/** Things the user should know (an old output restored, leftovers of earlier runs, an old folder not removed). */
	readonly notes: string[];
	private state: "open" | "committed" | "aborted" = "open";

	private constructor(
		/** The absolute destination. */
		readonly path: string,
		/** Where to write until commit(): a folder (created, with the marker) or a file path (not created). */
		readonly temp: string,
		readonly kind: "folder" | "file",
		private readonly force: boolean,
		private readonly lock: OutputLock,
		notes: string[],
	) {
		this.notes = notes;
	}

	/**
	 * Checks the destination (PlanError "UnsafeOutput", "OutputInsideInput", "OutputExists"), takes its lock
	 * (ExecError "Locked") and creates or reuses the temporary output. Nothing is created when a check fails.
	 */
	static async begin(out: string, opts: AtomicOutputOptions): Promise<AtomicOutput> {
		const abs = await assertSafeOutput(out, opts);
		await assertNoOverlap(abs, opts.inputs ?? []);
		const force = opts.force ?? false;
		await checkExisting(abs, opts.kind, force);
		try {
			await mkdir(path.dirname(abs), { recursive: true });
		} catch (err) {
			throw writeError(path.dirname(abs), "creating the output's parent folder", err);
		}
		const lock = await OutputLock.acquire(abs);
		try {
			const notes: string[] = [];
			if (opts.kind === "folder") await restoreStranded(abs, notes);
			await checkExisting(abs, opts.kind, force);
			const leftovers = await siblings(abs, PARTIAL_INFIX);
			let temp = opts.kind === "folder" && opts.reuse !== undefined ? await opts.reuse(leftovers) : undefined;
			if (temp !== undefined) await writeMarker(temp, abs);
			else temp = await createTemp(abs, opts.kind);
			const others = leftovers.filter((l) => l !== temp);
			if (others.length > 0) {
				notes.push(
					`${others.length} unfinished output(s) of ${abs} from earlier runs remain ` +
						`(${others.map((o) => path.basename(o)).join(", ")}); continue one with --resume, or delete them`,
				);
			}
			return new AtomicOutput(abs, temp, opts.kind, force, lock, notes);
		} catch (err) {
			await lock.release();
			throw err;
		}
	}

	/** Makes the temporary output the output (see the module comment), then releases the lock. */
	async commit(): Promise<void> {
		if (this.state !== "open") throw new ExecError("Io", `${this.path}: the output was already ${this.state}`);
		if (!(await this.lock.owned())) {
			throw new ExecError(
				"Locked",
				`${this.path}: its lock file was removed or taken by another run while this one was writing; the output was not put in place`,
			);
		}
		if (this.kind === "folder") {
			await rm(path.join(this.temp, UNFINISHED_MARKER), { force: true });
			await syncDir(this.temp);
		} else {
			await fsyncFile(this.temp);
		}
		await replace(this.temp, this.path, this.kind, this.force, this.notes);
		this.state = "committed";
		await syncDir(path.dirname(this.path));
		await this.lock.release();
	}

	/** Ends without an output: removes the temporary output, or with `keep` leaves it (marked) for a resume. */
	async abort(keep = false): Promise<void> {
		if (this.state !== "open") return;
		this.state = "aborted";
		try {
			if (!keep) await rm(this.temp, { recursive: true, force: true });
		} finally {
			await this.lock.release();
		}
	}
}

/** Refuses an existing output of the wrong kind, or one that exists without force; reports what is there. */
async function checkExisting(out: string, kind: "folder" | "file", force: boolean): Promise<"missing" | "empty" | "full"> {
	let isDir: boolean;
	try {
		isDir = (await stat(out)).isDirectory();
	} catch (err) {
		if ((err as NodeJS.ErrnoException).code === "ENOENT") return "missing";
		throw writeError(out, "checking the output", err);
	}
	if (kind === "folder" && !isDir) throw new PlanError("OutputExists", `${out}: the output path exists and is not a folder`);
	if (kind === "file" && isDir) throw new PlanError("OutputExists", `${out}: the output path is an existing folder, not a file`);
	if (kind === "folder") {
		const names = await readdir(out);
		if (names.length === 0) return "empty";
		if (!force)
			throw new PlanError(
				"OutputExists",
				`${out}: the output folder exists and is not empty (${names.length} entries); use --force to replace it`,
			);
		return "full";
	}
	if (!force) throw new PlanError("OutputExists", `${out}: the output file exists; use --force to replace it`);
	return "full";
}

/** Moves `temp` to `out`; an old non-empty folder is moved aside first and deleted only once `temp` is in place. */
async function replace(temp: string, out: string, kind: "folder" | "file", force: boolean, notes: string[]): Promise<void> {
	const state = await checkExisting(out, kind, force);
	if (kind === "file" || state !== "full") {
		try {
			if (state === "empty") await rmdir(out); // fails, rather than deleting, if something appeared in it meanwhile
			await rename(temp, out); // a file is replaced atomically
		} catch (err) {
			throw writeError(out, "moving the finished output into place", err);
		}
		return;
	}
	const aside = await moveAside(out);
	try {
		await rename(temp, out);
	} catch (err) {
		try {
			await rename(aside, out);
		} catch {
			throw new ExecError(
				"Io",
				`${out}: failed moving the finished output into place (${(err as Error).message}); ` +
					`the old output was kept at ${aside} and the new one at ${temp}`,
				{ cause: err },
			);
		}
		throw writeError(out, "moving the finished output into place", err);
	}
	await syncDir(path.dirname(out));
	try {
		await rm(aside, { recursive: true });
	} catch (err) {
		notes.push(`could not remove the replaced output, moved aside to ${aside} (${(err as Error).message}); delete it yourself`);
	}
}

/** Renames `out` to a fresh `<out>.old-XXXXXX` sibling and returns that path. */
async function moveAside(out: string): Promise<string> {
	for (;;) {
		const aside = `${out}${OLD_INFIX}${randomSuffix()}`;
		if (
			await lstat(aside).then(
				() => true,
				() => false,
			)
		)
			continue;
		try {
			await rename(out, aside);
			return aside;
		} catch (err) {
			throw writeError(out, "moving the old output folder aside", err);
		}
	}
}

/**
 * A crash between moving an old output aside and renaming its replacement into place leaves no output and one
 * `<out>.old-XXXXXX`: put it back, so the output is the old one again. Several, or one beside an output, are
 * only reported.
 */
async function restoreStranded(out: string, notes: string[]): Promise<void> {
	const olds = await siblings(out, OLD_INFIX);
	if (olds.length === 0) return;
	const missing = await lstat(out).then(
		() => false,
		() => true,
	);
	if (
		missing &&
		olds.length === 1 &&
		(await stat(olds[0]!).then(
			(s) => s.isDirectory(),
			() => false,
		))
	) {
		await rename(olds[0]!, out);
		notes.push(`restored ${out} from ${path.basename(olds[0]!)}, where an interrupted replacement had moved it`);
		return;
	}
	notes.push(
		`old outputs of ${out} moved aside by interrupted replacements remain ` +
			`(${olds.map((o) => path.basename(o)).join(", ")}); delete them once you have checked them`,
	);
}

/** The siblings `<out><infix>XXXXXX` of an output, sorted. */
async function siblings(out: string, infix: string): Promise<string[]> {
	const prefix = `${path.basename(out)}${infix}`;
	const names = await readdir(path.dirname(out)).catch(() => [] as string[]);
	return names
		.filter((n) => n.startsWith(prefix) && SUFFIX.test(n.slice(prefix.length)))
		.sort()
		.map((n) => path.join(path.dirname(out), n));
}

/**
 * A new temporary sibling: a folder is created with mode 0777 minus the umask (not mkdtemp's 0700, so a server
 * or another user can read the finished model) and marked unfinished; a file path is only reserved by name.
 */
async function createTemp(out: string, kind: "folder" | "file"): Promise<string> {
	for (;;) {
		const temp = `${out}${PARTIAL_INFIX}${randomSuffix()}`;
		try {
			if (kind === "file") {
				if (
					await lstat(temp).then(
						() => true,
						() => false,
					)
				)
					continue;
				return temp;
			}
			await mkdir(temp, { mode: 0o777 });
		} catch (err) {
			if ((err as NodeJS.ErrnoException).code === "EEXIST") continue;
			throw writeError(out, "creating the temporary output folder", err);
		}
		try {
			await writeMarker(temp, out);
		} catch (err) {
			await rm(temp, { recursive: true, force: true });
			throw err;
		}
		return temp;
	}
}

async function writeMarker(dir: string, out: string): Promise<void> {
	const marker = { unfinished_output: out, note: "an unfinished lm-merge output: resume it with --resume, or delete this folder" };
	const text = `${JSON.stringify(marker)}\n`;
	await writeWholeFile(path.join(dir, UNFINISHED_MARKER), new TextEncoder().encode(text));
}
