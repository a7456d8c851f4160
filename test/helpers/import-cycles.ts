/**
 * Import cycles among the TypeScript files under a folder: the strongly connected components (Tarjan) of the graph
 * whose edges are relative imports, export-froms and import() calls between files of that folder, type-only imports
 * included (a loop of types still ties the files together for a reader). Imports leaving the folder are ignored, so
 * the same check can be pointed at one folder or at all of src/.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";

function tsFiles(dir: string): string[] {
	return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
		const full = path.join(dir, e.name);
		if (e.isDirectory()) return tsFiles(full);
		return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [full] : [];
	});
}

/** The files `file` imports by relative path ("./x.js" → x.ts), existing ones only. */
function relativeImports(file: string): string[] {
	const text = readFileSync(file, "utf8");
	return ts
		.preProcessFile(text, true, true)
		.importedFiles.map((f) => f.fileName)
		.filter((spec) => spec.startsWith("."))
		.map((spec) => path.resolve(path.dirname(file), spec.replace(/\.js$/, ".ts")))
		.filter((target) => existsSync(target));
}

/** Each cycle as its files (relative to `root`, sorted); [] when the folder's imports form no loop. */
export function importCycles(root: string): string[][] {
	const files = tsFiles(root);
	const inside = new Set(files);
	const edges = new Map(files.map((f) => [f, relativeImports(f).filter((t) => inside.has(t))]));
	// Tarjan's algorithm; the recursion is at most as deep as the folder has files (a few hundred for src/).
	const index = new Map<string, number>();
	const low = new Map<string, number>();
	const onStack = new Set<string>();
	const stack: string[] = [];
	const cycles: string[][] = [];
	let next = 0;
	const visit = (v: string): void => {
		index.set(v, next);
		low.set(v, next);
		next++;
		stack.push(v);
		onStack.add(v);
		for (const w of edges.get(v)!) {
			if (!index.has(w)) {
				visit(w);
				low.set(v, Math.min(low.get(v)!, low.get(w)!));
			} else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
		}
		if (low.get(v) !== index.get(v)) return;
		const component: string[] = [];
		let w: string;
		do {
			w = stack.pop()!;
			onStack.delete(w);
			component.push(w);
		} while (w !== v);
		if (component.length > 1 || edges.get(v)!.includes(v))
			cycles.push(component.map((f) => path.relative(root, f).split(path.sep).join("/")).sort());
	};
	for (const f of files) if (!index.has(f)) visit(f);
	return cycles;
}
