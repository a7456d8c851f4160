import { basename, sep } from "node:path";

/**
 * The name tables and reports show for a model path: the Hugging Face repo id for a cache snapshot
 * (`…/models--BioMistral--BioMistral-7B/snapshots/02cb352a…` → `BioMistral/BioMistral-7B`), else the folder
 * (or file) name. A snapshot hash tells a reader nothing.
 */
export function modelName(path: string): string {
	const parts = path.split(/[\\/]/).filter((p) => p !== "");
	const snap = parts.lastIndexOf("snapshots");
	const repo = snap > 0 ? parts[snap - 1] : undefined;
	const m = repo !== undefined ? /^models--(.+?)--(.+)$/.exec(repo) : null;
	if (m !== null) {
		// A file inside the snapshot (a .gguf) keeps its own name after the repo id.
		const rest = parts.slice(snap + 2);
		return rest.length > 0 ? `${m[1]}/${m[2]}/${rest.join("/")}` : `${m[1]}/${m[2]}`;
	}
	return basename(path.endsWith(sep) ? path.slice(0, -1) : path);
}
