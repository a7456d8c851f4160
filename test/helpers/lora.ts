/** Writing PEFT adapter folders by hand for the LoRA tests. */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { seededNormals } from "../../src/fixtures/tiny-weights.js";
import type { Dtype } from "../../src/io/dtypes.js";
import { SafetensorsWriter } from "../../src/io/writer.js";

export interface AdapterTensor {
	name: string;
	shape: number[];
	data: Float32Array;
	dtype?: Dtype;
}

/** Writes `dir/adapter_config.json` and `dir/adapter_model.safetensors` (tensors encoded to their dtype, default F32). */
export async function writeAdapter(dir: string, config: Record<string, unknown>, tensors: AdapterTensor[]): Promise<string> {
	await mkdir(dir, { recursive: true });
	await writeFile(path.join(dir, "adapter_config.json"), JSON.stringify({ peft_type: "LORA", ...config }, null, 2));
	const writer = await SafetensorsWriter.create(
		path.join(dir, "adapter_model.safetensors"),
		tensors.map((t) => ({ name: t.name, dtype: t.dtype ?? "F32", shape: t.shape })),
		{ format: "pt" },
	);
	const byName = new Map(tensors.map((t) => [t.name, t]));
	for (const info of writer.tensors) await writer.writeTensor(info.name, byName.get(info.name)!.data);
	await writer.finish();
	return dir;
}

/** `n` values N(0, std²) seeded by `key`. */
export function randn(key: string, n: number, std = 0.1): Float32Array {
	const v = seededNormals(key, n);
	for (let i = 0; i < n; i++) v[i] = v[i]! * std;
	return v;
}

/** PEFT's saved names for one module's factors. */
export const loraNames = (module: string) => ({
	a: `base_model.model.${module}.lora_A.weight`,
	b: `base_model.model.${module}.lora_B.weight`,
});
export const embeddingNames = (module: string) => ({
	a: `base_model.model.${module}.lora_embedding_A`,
	b: `base_model.model.${module}.lora_embedding_B`,
});
