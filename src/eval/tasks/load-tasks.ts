import { join } from "node:path";
import { EvaluationError } from "../../errors.js";
import type { McqaItem, ShotSource, TaskName } from "../types.js";
import { BIOINSTRUCTQA_FILES, findPubMedQaRelease, firstFile, isDirectory, PUBMEDQA_TEST_IDS, splitCandidates } from "./data-layout.js";
import { type DataFile, guessTask, itemsOf, type LoadOptions, readDataSet } from "./load-file.js";
import { isRecord, type LoadContext, parseJsonDocument, readDataFile } from "./records.js";
import { expandTaskNames, getTask, TASK_NAMES } from "./registry.js";

/** One task ready to score. */
export interface TaskData {
	task: TaskName;
	/** The scored split, in file order. */
	items: McqaItem[];
	/** Items shots are drawn from (undefined: zero-shot or paper shots, no draw needed). */
	pool: McqaItem[] | undefined;
	/** True when the pool is the scored file itself (the query is then excluded per draw). */
	poolIsEvalFile: boolean;
	shotSource: ShotSource;
	file: string;
}

/** What to load. */
export interface LoadTasksOptions extends LoadOptions {
	/** A data file, or a folder holding splits (layout: docs/evaluator.md). */
	data: string;
	/** Task names; default: every task found in `data`. */
	tasks?: string[];
	/** Shots per prompt (0 = no pool needed). */
	shots: number;
	/** A file or folder to draw shots from instead of the train/dev split. */
	shotsFrom?: string;
}

/** Reads files once even when several tasks share them (BioInstructQA). */
class FileCache {
	private readonly files = new Map<string, Promise<DataFile>>();
	/** Every file read, in first-read order (the report records their hashes). */
	readonly readFiles: string[] = [];
	constructor(
		readonly opts: LoadOptions,
		readonly warnings: string[],
	) {}
	ctx(file: string): LoadContext {
		return { file, skipBad: this.opts.skipBad ?? false, warnings: this.warnings };
	}
	read(file: string): Promise<DataFile> {
		let p = this.files.get(file);
		if (p === undefined) {
			this.readFiles.push(file);
			p = readDataSet(file, this.ctx(file));
			this.files.set(file, p);
		}
		return p;
	}
	async items(file: string, task: TaskName): Promise<McqaItem[]> {
		return itemsOf(await this.read(file), task, this.ctx(file), this.opts);
	}
}

/** Where a task's scored items and (template) shot pool come from. */
interface TaskFiles {
	evalFile: string;
	poolFile?: string;
	/** PubMedQA release: restrict to / exclude these PMIDs. */
	testIds?: Set<string>;
}

async function readIdList(file: string, cache: FileCache): Promise<Set<string>> {
	const ctx = cache.ctx(file);
	cache.readFiles.push(file);
	return new Set(parseJsonDocument(await readDataFile(file), ctx).map((r) => r.key ?? (isRecord(r.value) ? "" : String(r.value))));
}

async function filesInFolder(dir: string, task: TaskName, cache: FileCache): Promise<TaskFiles | undefined> {
	const spec = getTask(task);
	const evalFile = await firstFile(splitCandidates(dir, spec, spec.evalSplit));
	if (evalFile !== undefined) {
		const poolFile = await firstFile(splitCandidates(dir, spec, spec.shotSplit));
		return poolFile !== undefined ? { evalFile, poolFile } : { evalFile };
	}
	if (task === "pubmedqa") {
		const release = await findPubMedQaRelease(dir);
		if (release !== undefined) {
			if (release.testIds === undefined) {
				cache.warnings.push(
					`${release.all}: no ${PUBMEDQA_TEST_IDS} beside it, so every labelled item is scored (the paper: 500 test PMIDs)`,
				);
				return { evalFile: release.all };
			}
			return { evalFile: release.all, poolFile: release.all, testIds: await readIdList(release.testIds, cache) };
		}
	}
	const bio = await firstFile(BIOINSTRUCTQA_FILES.test.map((f) => join(dir, f)));
	if (bio !== undefined && (await cache.read(bio)).tasks.includes(task)) {
		const pool = await firstFile(BIOINSTRUCTQA_FILES.train.map((f) => join(dir, f)));
		return pool !== undefined ? { evalFile: bio, poolFile: pool } : { evalFile: bio };
	}
	return undefined;
}

/** The tasks to run on a single data file: BioInstructQA holds several, other formats one. */
function tasksOfFile(data: DataFile, requested: TaskName[] | undefined): TaskName[] {
	if (data.format === "bioinstructqa") {
		const tasks = requested ?? data.tasks;
		const missing = tasks.filter((t) => !data.tasks.includes(t));
		if (missing.length > 0) throw new EvaluationError("Data", `${data.file}: no records for task(s) ${missing.join(", ")}`);
		return tasks;
	}
	if (requested !== undefined && requested.length > 1) {
		throw new EvaluationError("Config", `${data.file} holds one task (${data.format}); ask for one task, or pass a data folder`);
	}
	const task = requested?.[0] ?? guessTask(data);
	if (task === undefined) {
		throw new EvaluationError("Config", `${data.file}: cannot tell which task this ${data.format} file is; name it with --tasks`);
	}
	return [task];
}

/** The shot pool from `--shots-from` (a file or a folder with the task's shot split). */
async function poolFromOption(path: string, task: TaskName, taskCount: number, cache: FileCache): Promise<McqaItem[]> {
	if (await isDirectory(path)) {
		const spec = getTask(task);
		const file = await firstFile([...splitCandidates(path, spec, spec.shotSplit), ...splitCandidates(path, spec, spec.evalSplit)]);
		if (file === undefined) throw new EvaluationError("Data", `${path}: no ${spec.shotSplit} split for task ${task}`);
		return cache.items(file, task);
	}
	const data = await cache.read(path);
	if (data.format !== "bioinstructqa" && taskCount > 1 && guessTask(data) !== task) {
		throw new EvaluationError("Config", `${path}: a ${data.format} file cannot give shots to task ${task}; pass a folder to --shots-from`);
	}
	return cache.items(path, task);
}

/**
 * Loads the scored items of every requested task and, when shots must be drawn, their pools:
 * `shotsFrom` > the task's train split (MMLU: dev) in a data folder > the scored file itself (with a
 * warning). Records carrying BioInstructQA's own shots ("paper shots") need no pool unless
 * `shotsFrom` is given.
 */
export async function loadTasks(opts: LoadTasksOptions): Promise<{ tasks: TaskData[]; warnings: string[]; files: string[] }> {
	const warnings: string[] = [];
	const cache = new FileCache(opts, warnings);
	const requested = opts.tasks !== undefined ? expandTaskNames(opts.tasks) : undefined;
	const folder = await isDirectory(opts.data);
	const plan: [TaskName, TaskFiles][] = [];
	if (folder) {
		for (const task of requested ?? TASK_NAMES) {
			const files = await filesInFolder(opts.data, task, cache);
			if (files !== undefined) plan.push([task, files]);
			else if (requested !== undefined) {
				const spec = getTask(task);
				const tried = splitCandidates(opts.data, spec, spec.evalSplit)[0];
				throw new EvaluationError(
					"Data",
					`${opts.data}: no ${spec.evalSplit} split for task ${task} (tried ${tried} and the other names in docs/evaluator.md)`,
				);
			}
		}
		if (plan.length === 0) throw new EvaluationError("Data", `${opts.data}: no task data found (layout: docs/evaluator.md)`);
	} else {
		for (const task of tasksOfFile(await cache.read(opts.data), requested)) plan.push([task, { evalFile: opts.data }]);
	}
	const out: TaskData[] = [];
	for (const [task, files] of plan) {
		let items = await cache.items(files.evalFile, task);
		if (files.testIds !== undefined) items = items.filter((it) => files.testIds?.has(it.id));
		const paper = items.length > 0 && items.every((it) => it.fewShot !== undefined);
		const data: TaskData = { task, items, pool: undefined, poolIsEvalFile: false, shotSource: "none", file: files.evalFile };
		if (opts.shots > 0 && paper && opts.shotsFrom === undefined) data.shotSource = "paper";
		else if (opts.shots > 0) {
			data.shotSource = "template";
			if (opts.shotsFrom !== undefined) data.pool = await poolFromOption(opts.shotsFrom, task, plan.length, cache);
			else if (files.poolFile !== undefined) {
				const pool = await cache.items(files.poolFile, task);
				data.pool = files.testIds !== undefined ? pool.filter((it) => !files.testIds?.has(it.id)) : pool;
			} else {
				data.pool = items;
				data.poolIsEvalFile = true;
				warnings.push(`${task}: no train/dev split found, so shots are drawn from ${files.evalFile} itself (never the query)`);
			}
		}
		out.push(data);
	}
	return { tasks: out, warnings, files: [...new Set(cache.readFiles)] };
}
