/**
 * What an architecture definition says about a checkpoint: the tensors before the layers, a template per layer, the
 * tensors after, and which config.json keys hold the sizes a merge may change. One small definition per family lives
 * in `families/`, written from the Hugging Face transformers model definitions (modeling_*.py, configuration_*.py).
 */

/** The placeholder a layer template uses for the layer number (mergekit's spelling). */
export const LAYER_INDEX_PLACEHOLDER = "${layer_index}";

/** The placeholder a repeated weight uses for its copy number (a Mixtral expert, a StableLM per-head norm). */
export const REPEAT_INDEX_PLACEHOLDER = "${index}";

/** A config.json value a condition compares against. */
export type ConfigValue = string | number | boolean | null;

/**
 * A test on config.json: the value at `key` (a dotted path such as `text_config.vocab_size`; when absent: `default`,
 * else null) is one of `is`. Families use it for weights that exist only in some variants (biases, q/k norms).
 */
export interface ConfigCondition {
	key: string;
	is: ConfigValue | readonly ConfigValue[];
	default?: ConfigValue;
}

/** How many copies of a weight a model has: the config value at the first present key of `key` (else `default`). */
export interface RepeatSpec {
	key: string | readonly string[];
	default?: number;
}

/** One weight (or a per-layer template of one). */
export interface WeightSpec {
	/**
	 * Full tensor name; in `layerWeights` it contains `${layer_index}` (also `${layer_index+1}`, `${num_layers-1}`),
	 * and a repeated weight contains `${index}`.
	 */
	name: string;
	/** May be absent from a checkpoint (a tied `lm_head.weight`, a buffer older checkpoints saved). */
	optional?: boolean;
	/** Has a vocabulary-sized first dimension (embeddings, lm_head and its bias): vocabulary rules apply. */
	isEmbed?: boolean;
	/** When this weight is absent, the tensor it is tied to stands in for it. */
	tiedTo?: string;
	/** Present only when every condition holds. */
	when?: readonly ConfigCondition[];
	/** Absent when every condition holds. */
	unless?: readonly ConfigCondition[];
	/** One copy per index 0 … n−1, `${index}` in the name filled in. */
	repeat?: RepeatSpec;
}

/** The tensor layout and config keys of one model family. */
export interface ArchitectureSpec {
	/** Short name for messages, e.g. "mistral". */
	name: string;
	/** `architectures` values of config.json that select this spec. */
	architectures: string[];
	/** `model_type` values of config.json that select this spec (and disambiguate shared class names). */
	modelTypes: string[];
	/** config.json key holding the number of layers (the first of `layerCountKeys`). */
	numLayersKey: string;
	/**
	 * Every config.json key that holds the number of layers in some published config of this family, in order of
	 * preference (GPT-2's `n_layer`; Falcon's `num_hidden_layers` and the legacy `n_layer`). A merge that changes the
	 * layer count updates each one the config has.
	 */
	layerCountKeys: string[];
	/** config.json keys holding the vocabulary size (updated when the merged vocabulary changes it). */
	vocabSizeKeys: string[];
	/** config.json keys holding the hidden size (the embeddings' width). */
	hiddenSizeKeys: string[];
	/** `tie_word_embeddings` when config.json does not say: whether lm_head is the embedding matrix by default. */
	tiedEmbeddingsByDefault: boolean;
	/**
	 * transformers' `base_model_prefix` plus a dot ("model.", "transformer."): checkpoints saved from the bare model
	 * class (GPT2Model, and the original GPT-2 release) name their tensors without it.
	 */
	baseModelPrefix?: string;
	/** Values conditions use when config.json omits a key, for variants told apart by model_type alone. */
	configDefaults?: Record<string, ConfigValue>;
	preWeights: WeightSpec[];
	layerWeights: WeightSpec[];
	postWeights: WeightSpec[];
	/** False for a spec inferred from tensor names because config.json named no known architecture. */
	known: boolean;
	/** Which variants the definition covers and what it leaves out, for docs and messages. */
	notes?: string;
}
