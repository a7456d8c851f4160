import { describe, expect, test } from "vitest";
import {
	detectArchitecture,
	expectedTensorNames,
	expectedWeights,
	inferArchitecture,
	isEmbedTensor,
	layerIndexOf,
	moduleKindOf,
	renameLayer,
} from "../../src/arch/detect.js";
import { LLAMA, MISTRAL } from "../../src/arch/mistral.js";
import { PlanError } from "../../src/errors.js";

describe("name parsing", () => {
	test.each([
		["model.embed_tokens.weight", undefined, "embed", true],
		["model.layers.0.input_layernorm.weight", 0, "norm", false],
		["model.layers.3.self_attn.q_proj.weight", 3, "attention", false],
		["model.layers.12.self_attn.o_proj.weight", 12, "attention", false],
		["model.layers.31.post_attention_layernorm.weight", 31, "norm", false],
		["model.layers.7.mlp.gate_proj.weight", 7, "mlp", false],
		["model.layers.7.mlp.down_proj.weight", 7, "mlp", false],
		["model.norm.weight", undefined, "norm", false],
		["lm_head.weight", undefined, "lm_head", true],
		["transformer.h.5.attn.c_attn.weight", 5, "attention", false],
		["transformer.h.5.ln_1.weight", 5, "norm", false],
		["transformer.wte.weight", undefined, "embed", true],
		["model.rotary_emb.inv_freq", undefined, "other", false],
	] as const)("%s → layer %s, %s, embed=%s", (name, layer, kind, embed) => {
		expect(layerIndexOf(name)).toBe(layer);
		expect(moduleKindOf(name)).toBe(kind);
		expect(isEmbedTensor(name)).toBe(embed);
	});

	test("a number that is not a layer index is not one", () => {
		expect(layerIndexOf("model.layers_extra.3.weight")).toBeUndefined();
		expect(layerIndexOf("model.layers.x.weight")).toBeUndefined();
	});

	test("renameLayer moves a tensor to another layer and keeps the rest", () => {
		expect(renameLayer("model.layers.3.mlp.up_proj.weight", 17)).toBe("model.layers.17.mlp.up_proj.weight");
		expect(renameLayer("transformer.h.0.attn.c_proj.bias", 2)).toBe("transformer.h.2.attn.c_proj.bias");
	});

	test("renameLayer refuses tensors outside the layers and bad indices", () => {
		expect(() => renameLayer("model.norm.weight", 1)).toThrow(PlanError);
		expect(() => renameLayer("model.norm.weight", 1)).toThrow(expect.objectContaining({ kind: "LayerRange" }));
		expect(() => renameLayer("model.layers.1.mlp.up_proj.weight", -1)).toThrow(expect.objectContaining({ kind: "LayerRange" }));
		expect(() => renameLayer("model.layers.1.mlp.up_proj.weight", 1.5)).toThrow(expect.objectContaining({ kind: "LayerRange" }));
	});
});

describe("Mistral spec", () => {
	test("1 + 9 per layer + 2 tensors; Mistral-7B has 291", () => {
		expect(expectedTensorNames(MISTRAL, 32)).toHaveLength(291);
		const two = expectedTensorNames(MISTRAL, 2);
		expect(two).toHaveLength(21);
		expect(two[0]).toBe("model.embed_tokens.weight");
		expect(two[1]).toBe("model.layers.0.input_layernorm.weight");
		expect(two[10]).toBe("model.layers.1.input_layernorm.weight");
		expect(two.slice(-2)).toEqual(["model.norm.weight", "lm_head.weight"]);
	});

	test("lm_head is optional and tied to the embeddings", () => {
		expect(expectedTensorNames(MISTRAL, 1, { includeOptional: false })).not.toContain("lm_head.weight");
		const head = expectedWeights(MISTRAL, 1).find((w) => w.name === "lm_head.weight");
		expect(head).toMatchObject({ optional: true, isEmbed: true, tiedTo: "model.embed_tokens.weight" });
	});

	test("templates with offsets: ${layer_index+1} and ${num_layers-1}", () => {
		const spec = { ...MISTRAL, preWeights: [], postWeights: [], layerWeights: [{ name: "a.${layer_index+1}.b.${num_layers-1}" }] };
		expect(expectedTensorNames(spec, 2)).toEqual(["a.1.b.1", "a.2.b.1"]);
	});
});

describe("detectArchitecture", () => {
	test.each([
		[{ architectures: ["MistralForCausalLM"] }, "mistral"],
		[{ architectures: ["LlamaForCausalLM"] }, "llama"],
		[{ architectures: [], modelType: "mistral" }, "mistral"],
		[{ modelType: "llama" }, "llama"],
		[{ architectures: ["SomethingNew", "LlamaForCausalLM"] }, "llama"],
	])("%j → %s", (config, name) => {
		const spec = detectArchitecture(config);
		expect(spec.name).toBe(name);
		expect(spec.known).toBe(true);
	});

	test("known specs are the shared constants", () => {
		expect(detectArchitecture({ architectures: ["LlamaForCausalLM"] })).toBe(LLAMA);
	});

	test("an unknown model gets a generic spec inferred from its tensor names", () => {
		const names = [
			"transformer.word_embeddings.weight",
			"transformer.h.0.self_attention.dense.weight",
			"transformer.h.0.input_layernorm.weight",
			"transformer.h.1.self_attention.dense.weight",
			"transformer.h.1.input_layernorm.weight",
			"transformer.ln_f.weight",
		];
		const spec = detectArchitecture({ architectures: ["BloomForCausalLM"], modelType: "bloom" }, names);
		expect(spec.known).toBe(false);
		expect(spec.name).toBe("BloomForCausalLM");
		expect(spec.preWeights).toEqual([{ name: "transformer.word_embeddings.weight", isEmbed: true }]);
		expect(spec.layerWeights.map((w) => w.name)).toEqual([
			"transformer.h.${layer_index}.self_attention.dense.weight",
			"transformer.h.${layer_index}.input_layernorm.weight",
		]);
		expect(expectedTensorNames(spec, 2).sort()).toEqual([...names].sort());
	});

	test("no config and no names still gives a (empty) generic spec", () => {
		const spec = detectArchitecture(undefined);
		expect(spec.known).toBe(false);
		expect(expectedTensorNames(spec, 4)).toEqual([]);
		expect(inferArchitecture([]).name).toBe("unknown");
	});
});
