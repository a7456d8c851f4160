import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { directIoWorks, FLOOR_CHUNK_BYTES, measureIoFloor, modelFiles } from "../../bench/io-floor.js";
import { useTempDir } from "../helpers/fs.js";

const dir = useTempDir("io-floor-test-");

beforeAll(async () => {
	await writeFile(join(dir(), "model-00002-of-00002.safetensors"), new Uint8Array(FLOOR_CHUNK_BYTES + 3));
	await writeFile(join(dir(), "model-00001-of-00002.safetensors"), new Uint8Array(10));
	await writeFile(join(dir(), "config.json"), "{}");
});

describe("modelFiles", () => {
	it("lists only safetensors files, by name, with sizes", async () => {
		const files = await modelFiles(dir());
		expect(files.map((f) => [f.path.slice(dir().length + 1), f.bytes])).toEqual([
			["model-00001-of-00002.safetensors", 10],
			["model-00002-of-00002.safetensors", FLOOR_CHUNK_BYTES + 3],
		]);
	});
});

describe("measureIoFloor", () => {
	it("reads every input byte, writes the requested count and removes its scratch file", async () => {
		const files = await modelFiles(dir());
		const floor = await measureIoFloor(
			files.map((f) => f.path),
			5000,
			dir(),
		);
		expect(floor.readBytes).toBe(FLOOR_CHUNK_BYTES + 13);
		expect(floor.writeBytes).toBe(5000);
		expect(floor.seconds).toBeCloseTo(floor.readSeconds + floor.writeSeconds, 12);
		expect((await readdir(dir())).sort()).toEqual(["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]);
	});

	it("direct: reads every input byte past the page cache, writes the requested count and removes its scratch file", async () => {
		const files = await modelFiles(dir());
		if (!(await directIoWorks(files[1]!.path))) return; // a file system without O_DIRECT: the bench skips this floor
		const floor = await measureIoFloor(
			files.map((f) => f.path),
			FLOOR_CHUNK_BYTES + 5000,
			dir(),
			{ direct: true },
		);
		expect(floor.readBytes).toBe(FLOOR_CHUNK_BYTES + 13);
		expect(floor.writeBytes).toBe(FLOOR_CHUNK_BYTES + 5000);
		expect((await readdir(dir())).sort()).toEqual(["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]);
	});
});
