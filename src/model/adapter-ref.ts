import { ModelError } from "../errors.js";
import { type ResolvedModel, type ResolveOptions, resolveModelRef } from "./refs.js";

/** A model reference that may name a LoRA adapter: mergekit's `model+adapter`. */
interface ResolvedModelWithAdapter {
	model: ResolvedModel;
	/** The adapter folder, resolved like any model reference (path, alias, Hugging Face cache). */
	adapter?: ResolvedModel;
}

/**
 * Resolves `model` or `model+adapter` (mergekit's LoRA syntax; each side a path, alias or `org/name[@revision]`).
 * A path that itself contains `+` and exists is taken as a path. Throws ModelError "NotFound".
 */
export async function resolveModelWithAdapter(ref: string, opts: ResolveOptions = {}): Promise<ResolvedModelWithAdapter> {
	if (!ref.includes("+")) return { model: await resolveModelRef(ref, opts) };
	try {
		const whole = await resolveModelRef(ref, opts);
		if (whole.via === "path") return { model: whole };
	} catch (err) {
		if (!(err instanceof ModelError)) throw err;
	}
	const parts = ref.split("+").map((p) => p.trim());
	if (parts.length !== 2 || parts[0] === "" || parts[1] === "") {
		throw new ModelError(
			"NotFound",
			ref,
			'malformed LoRA reference: expected model+adapter (one "+" between the model and the adapter folder)',
		);
	}
	const [model, adapter] = await Promise.all([resolveModelRef(parts[0]!, opts), resolveModelRef(parts[1]!, opts)]);
	return { model, adapter };
}
