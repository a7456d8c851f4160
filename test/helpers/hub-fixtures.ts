/** Tiny fixture repos for the fake Hub: real tiny-model checkpoints (src/fixtures/) published as Hub repos. */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { type TinyMistralOptions, writeTinyMistral } from "../../src/fixtures/tiny-model.js";
import type { HubAccess } from "./hub-repo.js";
import type { FakeHub } from "./hub-server.js";

/** Small enough to be quick, sharded (two shards + index) so the index path is exercised. */
export const HUB_MODEL_SHAPE = {
	layers: 2,
	hidden: 16,
	intermediate: 32,
	heads: 4,
	kvHeads: 2,
	vocab: 64,
	dtype: "BF16" as const,
	maxShardBytes: 4096,
};

/**
 * Writes a tiny model under `scratch/<repoId>` plus files a merge does not need (a README, a duplicate
 * `consolidated.safetensors`, an `original/` folder), and publishes it as `repoId`. Returns the local folder and commit.
 */
export async function publishTinyModel(
	hub: FakeHub,
	scratch: string,
	repoId: string,
	opts: TinyMistralOptions & { access?: HubAccess; extras?: boolean } = {},
): Promise<{ dir: string; commit: string }> {
	const dir = path.join(scratch, "published", repoId);
	await writeTinyMistral(dir, { ...HUB_MODEL_SHAPE, ...opts, force: true });
	if (opts.extras !== false) {
		await writeFile(path.join(dir, "README.md"), `# ${repoId}\n`);
		await writeFile(path.join(dir, "consolidated.safetensors"), Buffer.alloc(3000, 7));
		await mkdir(path.join(dir, "original"), { recursive: true });
		await writeFile(path.join(dir, "original", "params.json"), "{}\n");
	}
	const commit = await hub.publish(repoId, dir, opts.access !== undefined ? { access: opts.access } : {});
	return { dir, commit };
}
