import { PlanError } from "../errors.js";
import { ROW_DEFAULT } from "../vocab/row-plan.js";
import { findTensor } from "./slices.js";
import type { PlannedModel, TensorJob } from "./types.js";
import type { VocabPlan } from "./vocab-plan.js";

/** Each model's embedding row count (its input embedding, the first vocabulary-sized tensor before the layers). */
export function embeddingRows(models: readonly PlannedModel[]): Map<number, number> {
	const rows = new Map<number, number>();
	models.forEach((m, i) => {
		const name = m.source.names().find((n) => m.arch.preNames.has(n) && m.arch.embedNames.has(n));
		const shape = name !== undefined ? m.source.info(name).shape : undefined;
		if (shape !== undefined && shape.length > 0) rows.set(i, shape[0]!);
	});
	return rows;
}

/**
 * Gives every vocabulary-sized job (embeddings, heads, head biases) its row maps, unless all its inputs already have
 * the output's rows in the output's order. Default rows name their source tensor in each model (a tied head reads
 * the model's embeddings).
 */
export function attachVocab(jobs: TensorJob[], models: readonly PlannedModel[], vocab: VocabPlan): void {
	const plan = vocab.rowPlan;
	for (const job of jobs) {
		const slots = [...(job.base !== undefined ? [job.base] : []), ...job.inputs];
		if (!slots.some((s) => models[s.model]!.arch.embedNames.has(job.output.name))) continue;
		const sameRows = slots.every((s) => plan.identity.has(s.model) && models[s.model]!.source.info(s.tensor).shape[0] === plan.rows);
		if (sameRows) continue;
		const maps = slots.map((s) => plan.maps.get(s.model)!);
		const tensorOf = (model: number): string => {
			const slot = slots.find((s) => s.model === model);
			if (slot !== undefined) return slot.tensor;
			const found = findTensor(models[model] as PlannedModel, job.output.name);
			if (found === undefined) {
				throw new PlanError(
					"MissingTensor",
					`${job.output.name}: ${models[model]!.ref} donates default embedding rows but has no such tensor`,
					job.output.name,
				);
			}
			return found;
		};
		const defaults: NonNullable<TensorJob["vocab"]>["defaults"] = [];
		for (const [row, from] of plan.defaults) {
			if (!maps.some((m) => m[row] === ROW_DEFAULT)) continue;
			defaults.push({ row, from: from.map((f) => ({ model: f.model, tensor: tensorOf(f.model), row: f.row })) });
		}
		job.vocab = { rows: plan.rows, maps, defaults };
	}
}
