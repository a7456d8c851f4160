import { type RawConfig, repeatCount, weightPresent } from "./config-values.js";
import { type ArchitectureSpec, REPEAT_INDEX_PLACEHOLDER, type WeightSpec } from "./types.js";

/** `${layer_index}`, `${layer_index+1}`, `${num_layers-1}` and the like, as in mergekit templates. */
const PLACEHOLDER_RE = /\$\{(layer_index|num_layers)(?:([+-])(\d+))?\}/g;

function fillTemplate(template: string, layer: number, numLayers: number): string {
	return template.replace(PLACEHOLDER_RE, (_m, key: string, sign: string | undefined, amount: string | undefined) => {
		const base = key === "layer_index" ? layer : numLayers;
		const delta = amount === undefined ? 0 : Number(amount) * (sign === "-" ? -1 : 1);
		return String(base + delta);
	});
}

/** One weight as it appears in a model with this config: none (a variant without it), one, or one per repeat. */
function expand(spec: ArchitectureSpec, w: WeightSpec, name: string, config: RawConfig | undefined): WeightSpec[] {
	if (!weightPresent(spec, w, config)) return [];
	if (w.repeat === undefined) return [{ ...w, name }];
	const n = repeatCount(w.repeat, config);
	return Array.from({ length: n }, (_, i) => ({ ...w, name: name.replaceAll(REPEAT_INDEX_PLACEHOLDER, String(i)) }));
}

/**
 * Every weight of a model with `numLayers` layers, templates filled in, in checkpoint order. With `config`, the
 * variant weights its flags select (biases, q/k norms) and the repeated ones (experts) follow it; without, the
 * family's defaults apply.
 */
export function expectedWeights(spec: ArchitectureSpec, numLayers: number, config?: RawConfig): WeightSpec[] {
	const out: WeightSpec[] = [];
	for (const w of spec.preWeights) out.push(...expand(spec, w, w.name, config));
	for (let i = 0; i < numLayers; i++) {
		for (const w of spec.layerWeights) out.push(...expand(spec, w, fillTemplate(w.name, i, numLayers), config));
	}
	for (const w of spec.postWeights) out.push(...expand(spec, w, w.name, config));
	return out;
}

/** The tensor names `expectedWeights` lists; optional ones (a tied lm_head, old buffers) only when `includeOptional`. */
export function expectedTensorNames(
	spec: ArchitectureSpec,
	numLayers: number,
	opts: { includeOptional?: boolean; config?: RawConfig } = {},
): string[] {
	const includeOptional = opts.includeOptional ?? true;
	return expectedWeights(spec, numLayers, opts.config)
		.filter((w) => includeOptional || w.optional !== true)
		.map((w) => w.name);
}
