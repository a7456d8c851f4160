/**
 * The checks that keep an output from destroying what the user did not ask to replace. Replacing an output
 * (`--force`) removes the old folder, so the destination must never be the working folder, a folder above it,
 * a file-system root, the home folder, a protected folder (the CLI's default output root), a symbolic link,
 * or anything an input lives in or contains. Paths are compared by real path and by device + inode, so
 * symbolic links, `..` spellings, bind mounts and Hugging Face cache snapshots (whose files are symlinks into
 * `blobs/`) cannot hide an overlap.
 */
import { lstat, readdir, readlink, realpath, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { PlanError } from "../errors.js";

/** Where an output may not go, besides the fixed rules. */
export interface OutputGuardOptions {
	/** The working folder (default: process.cwd()): neither it nor any folder above it may be the output. */
	cwd?: string;
	/** Folders that may never be an output themselves (the CLI passes its default output root, `./merged`). */
	protect?: readonly string[];
}

/** A file-system entry's identity, `dev:ino`: the same through symlinks, bind mounts and any spelling of the path. */
async function idOf(p: string): Promise<string | undefined> {
	try {
		const s = await stat(p, { bigint: true });
		return `${s.dev}:${s.ino}`;
	} catch {
		return undefined;
	}
}

/** The real path of `p`, which need not exist: the real path of its nearest existing ancestor, then the rest. */
export async function realPathOf(p: string): Promise<string> {
	const abs = path.resolve(p);
	const rest: string[] = [];
	for (let cur = abs; ; cur = path.dirname(cur)) {
		try {
			return path.join(await realpath(cur), ...rest.reverse());
		} catch {
			if (path.dirname(cur) === cur) return abs;
			rest.push(path.basename(cur));
		}
	}
}

/** Identities of `p` (when it exists) and of every existing folder above its real path, nearest first. */
async function chainOf(p: string): Promise<string[]> {
	const ids: string[] = [];
	for (let cur = await realPathOf(p); ; cur = path.dirname(cur)) {
		const id = await idOf(cur);
		if (id !== undefined) ids.push(id);
		if (path.dirname(cur) === cur) return ids;
	}
}

/** Whether `inner` is `outer` or lies below it (plain path comparison). */
function within(inner: string, outer: string): boolean {
	const rel = path.relative(outer, inner);
	return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/**
 * Refuses a destination that replacing would make dangerous (PlanError "UnsafeOutput"), with or without force:
 * empty, ending in `.` or `..`, a file-system root, the working folder or any folder above it, the home folder,
 * a protected folder, or a symbolic link. Returns the absolute path.
 */
export async function assertSafeOutput(out: string, opts: OutputGuardOptions = {}): Promise<string> {
	const refuse = (why: string) =>
		new PlanError("UnsafeOutput", `output ${JSON.stringify(out)}: ${why}; name a new folder, e.g. merged/my-merge`);
	if (out.trim() === "") throw refuse("the path is empty");
	const last = out
		.split(/[\\/]+/)
		.filter((s) => s !== "")
		.at(-1);
	if (last === "." || last === "..") throw refuse(`a path ending in "${last}" names an existing folder above the output`);
	const cwd = opts.cwd ?? process.cwd();
	const abs = path.resolve(cwd, out);
	const real = await realPathOf(abs);
	if (last === undefined || path.parse(real).root === real) throw refuse("it is a file-system root");
	const link = await lstat(abs).then(
		(s) => s.isSymbolicLink(),
		() => false,
	);
	if (link) throw refuse(`it is a symbolic link (to ${await readlink(abs)}); give the folder it points to`);
	const id = await idOf(abs);
	const realCwd = await realPathOf(cwd);
	if ((id !== undefined && (await chainOf(cwd)).includes(id)) || within(realCwd, real)) {
		throw refuse(real === realCwd || id === (await idOf(cwd)) ? "it is the current folder" : `it contains the current folder (${realCwd})`);
	}
	const same = async (other: string) => (await realPathOf(other)) === real || (id !== undefined && (await idOf(other)) === id);
	if (await same(os.homedir())) throw refuse("it is the home folder");
	for (const p of opts.protect ?? []) {
		if (await same(p)) throw refuse(`it is the folder that holds default outputs (${p}) itself`);
	}
	return abs;
}

/** An input to protect: a model folder or file (files found inside folders are checked too), named for messages. */
export interface GuardedInput {
	path: string;
	label: string;
}

/**
 * Refuses (PlanError "OutputInsideInput") an output that is an input, lies inside one, or contains one, even
 * with force: writing would replace the input, or replacing the old output would delete it. Every input folder,
 * every entry of it (following symlinks, so a Hugging Face snapshot's `blobs/` count) and every input file is
 * compared with the output by real path and by device + inode, in both directions.
 */
export async function assertNoOverlap(out: string, inputs: readonly GuardedInput[]): Promise<void> {
	const realOut = await realPathOf(out);
	const outId = await idOf(realOut);
	const outChain = await chainOf(realOut);
	for (const input of inputs) {
		const paths = [input.path, ...(await entriesOf(input.path))];
		for (const p of paths) {
			const realIn = await realPathOf(p);
			const inId = await idOf(realIn);
			const outInsideInput = within(realOut, realIn) || (inId !== undefined && outChain.includes(inId));
			const inputInsideOut = within(realIn, realOut) || (outId !== undefined && (await chainOf(realIn)).includes(outId));
			if (outInsideInput || inputInsideOut) {
				const where = realIn === path.resolve(input.path) ? realIn : `${path.resolve(input.path)} → ${realIn}`;
				const how = outInsideInput && inputInsideOut ? "is" : outInsideInput ? "lies inside" : "contains";
				throw new PlanError("OutputInsideInput", `output folder ${out} ${how} input ${input.label} (${where}); choose another --out`);
			}
		}
	}
}

/** The entries of a folder (for a file: none); a model folder holds tens of files, so this stays cheap. */
async function entriesOf(p: string): Promise<string[]> {
	try {
		if (!(await stat(p)).isDirectory()) return [];
		return (await readdir(p)).map((n) => path.join(p, n));
	} catch {
		return [];
	}
}
