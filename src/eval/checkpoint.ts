import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { EvaluationError } from "../errors.js";

/**
 * The resumable half of an eval: every scored prompt is appended to a JSONL file the moment it is scored,
 * so Ctrl-C, a crash or kill -9 loses at most the prompt in flight. The first line holds the run's
 * fingerprint (settings, data hashes, model files); `--resume` continues only a run with the same one.
 * Writes are synchronous (one write(2) per line): an interrupt cannot leave a record half-queued in memory,
 * and a line torn by a crash mid-write is dropped on resume.
 */

/** The first line's marker and format version. */
const FORMAT = "lm-merge-eval-checkpoint";
const FORMAT_VERSION = 1;

/** One scored prompt as the checkpoint keeps it (what scoring produced; the prompt itself is re-planned). */
export interface CheckpointRecord {
	/** Model index within the run (ensemble member), and the prompt's index in the run's prompt plan. */
	model: number;
	index: number;
	/** Checked against the plan on resume, so a changed data file cannot be mistaken for the old one. */
	task: string;
	id: string;
	seed: number;
	letter_probs: Record<string, number>;
	top1_id: number | null;
	top1_text: string | null;
	correct: boolean;
	correct_letters: boolean;
	non_letter_top1: boolean;
	correct_norm?: boolean;
	tokens: number;
}

/** Settings that decide a run's results; resume refuses a checkpoint whose fingerprint differs. */
export type Fingerprint = Record<string, unknown>;

export function checkpointKey(model: number, index: number): string {
	return `${model}:${index}`;
}

/** The first key whose value differs, for the refusal message. */
function firstDifference(a: Fingerprint, b: Fingerprint): string {
	for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
		const x = JSON.stringify(a[key]);
		const y = JSON.stringify(b[key]);
		if (x !== y) return `${key}: ${clip(x)} then, ${clip(y)} now`;
	}
	return "none";
}

function clip(s: string | undefined): string {
	const t = s ?? "absent";
	return t.length > 80 ? `${t.slice(0, 77)}...` : t;
}

export class EvalCheckpoint {
	private fd: number | undefined;

	private constructor(
		readonly path: string,
		/** Records already on disk (resume), keyed by checkpointKey(). */
		readonly done: Map<string, CheckpointRecord>,
		fd: number,
	) {
		this.fd = fd;
	}

	/**
	 * Opens `path` for a run with `fingerprint`. Without `resume`, an existing checkpoint is refused (it holds
	 * an unfinished run's work); with it, its records are loaded (after checking the fingerprint) and new ones
	 * are appended. A missing file simply starts a new checkpoint.
	 */
	static open(path: string, fingerprint: Fingerprint, resume: boolean): EvalCheckpoint {
		const header = `${JSON.stringify({ format: FORMAT, version: FORMAT_VERSION, fingerprint })}\n`;
		if (!existsSync(path)) {
			const fd = openSync(path, "w");
			writeSync(fd, header);
			return new EvalCheckpoint(path, new Map(), fd);
		}
		if (!resume) {
			throw new EvaluationError(
				"Config",
				`${path}: an unfinished eval left this checkpoint; pass --resume to continue it, or delete it to start over`,
			);
		}
		const text = readFileSync(path, "utf8");
		const complete = text.lastIndexOf("\n") + 1;
		const lines = text
			.slice(0, complete)
			.split("\n")
			.filter((l) => l !== "");
		let first: { format?: unknown; version?: unknown; fingerprint?: Fingerprint };
		try {
			first = JSON.parse(lines[0] ?? "") as typeof first;
		} catch {
			throw new EvaluationError("Data", `${path}: not an eval checkpoint (its first line is not JSON)`);
		}
		if (first.format !== FORMAT || first.version !== FORMAT_VERSION || typeof first.fingerprint !== "object") {
			throw new EvaluationError("Data", `${path}: not an lm-merge eval checkpoint (format ${FORMAT} v${FORMAT_VERSION})`);
		}
		const was = first.fingerprint as Fingerprint;
		if (JSON.stringify(was) !== JSON.stringify(fingerprint)) {
			throw new EvaluationError(
				"Mismatch",
				`${path}: written by a run with other settings (${firstDifference(was, fingerprint)}); rerun with the same ones, or delete it`,
			);
		}
		const done = new Map<string, CheckpointRecord>();
		lines.slice(1).forEach((line, i) => {
			let rec: CheckpointRecord;
			try {
				rec = JSON.parse(line) as CheckpointRecord;
			} catch {
				throw new EvaluationError("Data", `${path}:${i + 2}: invalid JSON in the checkpoint`);
			}
			done.set(checkpointKey(rec.model, rec.index), rec);
		});
		const fd = openSync(path, "r+");
		// A line torn by a crash mid-write is dropped: the next record starts on a fresh line.
		ftruncateSync(fd, Buffer.byteLength(text.slice(0, complete)));
		closeSync(fd);
		return new EvalCheckpoint(path, done, openSync(path, "a"));
	}

	append(rec: CheckpointRecord): void {
		if (this.fd === undefined) throw new EvaluationError("Config", `${this.path}: checkpoint already closed`);
		writeSync(this.fd, `${JSON.stringify(rec)}\n`);
	}

	close(): void {
		if (this.fd !== undefined) closeSync(this.fd);
		this.fd = undefined;
	}

	/** Deletes the file once the final report is safely written. */
	remove(): void {
		this.close();
		rmSync(this.path, { force: true });
	}
}
