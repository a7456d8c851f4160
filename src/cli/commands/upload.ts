import type { CommandModule } from "yargs";
import { UsageError } from "../../errors.js";
import type { UploadResult } from "../../hub/events.js";
import { parseHfRef } from "../../hub/repo-id.js";
import { uploadFolderIter } from "../../hub/upload.js";
import { createUploadRenderer } from "../hub-render.js";
import type { Io } from "../output.js";

interface UploadArgs {
	folder: string;
	repo: string;
	private?: boolean;
	message?: string;
	branch?: string;
	json?: boolean;
	quiet?: boolean;
}

/** Uploads a folder and renders its progress; shared by `merge upload` and `--push-to-hub`. */
export async function runUpload(
	io: Io,
	folder: string,
	repo: string,
	opts: { private?: boolean; message?: string; branch?: string; quiet: boolean },
): Promise<UploadResult> {
	const ref = parseHfRef(repo);
	if (ref === undefined || ref.revision !== undefined)
		throw new UsageError(`${repo}: not a Hub repo id (expected org/name; use --branch for a branch)`);
	const view = createUploadRenderer(io, { quiet: opts.quiet });
	const gen = uploadFolderIter(folder, ref.repoId, {
		...(opts.private === true ? { private: true } : {}),
		...(opts.message !== undefined ? { commitMessage: opts.message } : {}),
		...(opts.branch !== undefined ? { branch: opts.branch } : {}),
	});
	for (;;) {
		const r = await gen.next();
		if (r.done === true) return r.value;
		view.onEvent(r.value);
	}
}

export function uploadCommand(io: Io): CommandModule<object, UploadArgs> {
	return {
		command: "upload <folder> <repo>",
		describe: "Upload a model folder to a Hub repo (created if needed) as one commit",
		builder: (y) =>
			y
				.positional("folder", { type: "string", demandOption: true, description: "The folder to upload (hidden files are skipped)" })
				.positional("repo", { type: "string", demandOption: true, description: "The model repo, org/name" })
				.option("private", { type: "boolean", description: "Create the repo private (an existing repo keeps its visibility)" })
				.option("message", { alias: "m", type: "string", description: "Commit title" })
				.option("branch", { type: "string", description: "Branch to commit to (default main)" })
				.option("json", { type: "boolean", description: "Print the result as JSON on stdout" })
				.option("quiet", { alias: "q", type: "boolean", description: "No progress output" })
				.example(
					"$0 upload merged/slerp-biomistral me/biomistral-slerp --private",
					"needs HF_TOKEN (or huggingface-cli login) with write access",
				) as never,
		handler: async (argv) => {
			const r = await runUpload(io, argv.folder, argv.repo, {
				...(argv.private === true ? { private: true } : {}),
				...(argv.message !== undefined ? { message: argv.message } : {}),
				...(argv.branch !== undefined ? { branch: argv.branch } : {}),
				quiet: argv.quiet === true || argv.json === true,
			});
			io.out(argv.json === true ? JSON.stringify(r) : r.url);
		},
	};
}
