import { closeSync, openSync, renameSync, writeSync } from "node:fs";
import type { PlannedPrompt } from "./prompt.js";
import type { TokenizedPrompt } from "./prompt-tokens.js";

/**
 * `--save-prompts FILE`: one JSON line per prompt with its text and token ids, in plan order. The report
 * keeps neither (at paper scale they are ~380 MB); this file is for checking exactly what the model saw.
 * Written under a temporary name and renamed when complete, like every other output.
 */
export class PromptsFile {
	private readonly tmp: string;
	private fd: number;

	constructor(readonly path: string) {
		this.tmp = `${path}.partial-${process.pid}`;
		this.fd = openSync(this.tmp, "w");
	}

	add(index: number, p: PlannedPrompt, t: TokenizedPrompt): void {
		const line = {
			index,
			task: p.item.task,
			id: p.item.id,
			seed: p.seed,
			shot_ids: p.shotIds,
			prompt: p.prompt,
			prompt_ids: t.ids,
			...(t.harness !== undefined ? { continuations: t.harness.map((h) => h.continuation) } : {}),
			tokens: t.count,
		};
		writeSync(this.fd, `${JSON.stringify(line)}\n`);
	}

	finish(): void {
		closeSync(this.fd);
		renameSync(this.tmp, this.path);
	}
}
