import type { TinyShape } from "../../src/fixtures/tiny-weights.js";

/** A tiny shape with every Mistral feature the merge bench uses (GQA, untied lm_head), for fast tests. */
export const TINY: TinyShape = {
	layers: 1,
	hidden: 64,
	intermediate: 128,
	heads: 4,
	kvHeads: 2,
	vocab: 128,
	headDim: 16,
	tieEmbeddings: false,
};
