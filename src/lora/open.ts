/**
 * Opening a model that may carry a LoRA adapter (`model+adapter` references): the plan opens its inputs with it, and
 * so does every worker thread, from the same plain-data description.
 */
import { openModel } from "../model/model-dir.js";
import type { ModelSource } from "../model/model-source.js";
import { openAdapter } from "./adapter.js";
import { applyLora } from "./apply.js";

/** What a worker needs to open one input model: the model path and, for `model+adapter`, the adapter folder. */
export interface ModelOpenSpec {
	path: string;
	adapter?: string;
}

/** Opens `spec.path`, with `spec.adapter` applied when given. */
export async function openModelWithAdapter(spec: ModelOpenSpec): Promise<ModelSource> {
	const model = await openModel(spec.path);
	if (spec.adapter === undefined) return model;
	try {
		const adapter = await openAdapter(spec.adapter);
		try {
			return applyLora(model, adapter);
		} catch (err) {
			await adapter.close();
			throw err;
		}
	} catch (err) {
		await model.close();
		throw err;
	}
}
