/**
 * Reading a safetensors file: list its tensors (name, dtype, shape, bytes) and metadata without loading
 * any tensor data, then decode one tensor.
 *
 *   npx tsx examples/inspect-header.ts [file.safetensors]
 *
 * Without an argument it writes a tiny model to a temporary folder and inspects that.
 * In your own project, import from "lm-merge" and "lm-merge/testing" instead of "../src/index.js" and
 * "../src/testing.js".
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { formatShape, numel, openSafetensors } from "../src/index.js";
import { writeTinyMistral } from "../src/testing.js";

const given = process.argv[2];
const work = given === undefined ? await mkdtemp(path.join(tmpdir(), "lm-merge-inspect-")) : undefined;
try {
	let file = given;
	if (work !== undefined) {
		await writeTinyMistral(work, { layers: 2, hidden: 16 });
		file = path.join(work, "model.safetensors");
	}

	// openSafetensors validates the whole header (offsets, dtypes, shapes, file size) before returning;
	// an invalid file throws a SafetensorsError whose `kind` says what is wrong.
	const st = await openSafetensors(file!);
	try {
		console.log(`${st.location}: ${st.size} bytes, data starts at byte ${st.header.dataStart}`);
		let params = 0;
		for (const name of st.names()) {
			const info = st.info(name);
			params += numel(info.shape);
			console.log(`  ${name.padEnd(48)} ${info.dtype.padEnd(5)} ${formatShape(info.shape).padEnd(12)} ${info.byteLength} B`);
		}
		console.log(`${st.names().length} tensors, ${params} parameters`);
		console.log(`metadata: ${JSON.stringify(st.metadata())}`);

		// Only now is tensor data read: one tensor, decoded to float32 whatever its stored dtype.
		const first = st.names()[0]!;
		const t = await st.read(first);
		console.log(`${first} starts with ${Array.from(t.data.slice(0, 4), (v) => v.toFixed(4)).join(", ")}`);
	} finally {
		await st.close();
	}
} finally {
	if (work !== undefined) await rm(work, { recursive: true, force: true });
}
