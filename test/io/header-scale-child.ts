/**
 * Child of header-scale.test.ts: parses one big generated header and prints what it found. The test runs it with
 * a small V8 heap, which a parser that is not lean (a JSON tree per entry, a string piece per escape) overflows.
 *
 *   node --max-old-space-size=MB --import tsx test/io/header-scale-child.ts escapes|tensors|index SIZE
 */
import { escapesHeader, tensorsHeader } from "../../bench/header-shapes.js";
import { parseHeader } from "../../src/io/header.js";
import { parseIndexJson } from "../../src/io/index-json.js";

const [shape, size] = process.argv.slice(2);
if (shape === "index") {
	// An index whose one tensor name is SIZE bytes of \n escapes (index files share the header's size limit).
	const index = parseIndexJson(
		`{"metadata":{"total_size":0},"weight_map":{"${"\\n".repeat(Number(size) / 2)}":"model.safetensors"}}`,
		"index.json",
	);
	const names = Object.keys(index.weight_map);
	console.log(JSON.stringify({ tensors: names.length, notes: names[0]!.length, last: index.weight_map[names[0]!] }));
} else {
	const h = shape === "escapes" ? escapesHeader(Number(size)) : tensorsHeader(Number(size));
	const header = parseHeader(h.bytes, h.fileSize, shape ?? "?");
	console.log(
		JSON.stringify({
			tensors: header.tensors.size,
			notes: header.metadata.notes?.length ?? 0,
			last: [...header.tensors.keys()].pop() ?? null,
		}),
	);
}
