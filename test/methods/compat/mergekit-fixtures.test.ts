/**
 * `compat: mergekit` against torch: every case of test/fixtures/mergekit-compat (written by
 * scripts/mergekit-compat/generate.py from its own reading of mergekit, run through torch) must come out bit for bit.
 * DARE and DELLA replay the masks torch drew; DELLA also checks its keep probabilities.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { decodeToF32 } from "../../../src/io/convert.js";
import { f32Norm, torchNormF32 } from "../../../src/methods/compat/reductions.js";
import { compatKernelFor, runCompat } from "../../../src/methods/compat/registry.js";
import { dellaProbabilitiesCompat } from "../../../src/methods/compat/sparsify-compat.js";
import { TASK_VECTOR_VARIANTS, taskVectorsCompat } from "../../../src/methods/compat/task-vectors-compat.js";
import { castInPlace, TorchFloat } from "../../../src/methods/compat/torch-float.js";
import type { MergeContext } from "../../../src/methods/types.js";
import { rngKey } from "../../../src/tensor/rng.js";
import { bitDifferences, FIXTURE_DIR, type FixtureCase, loadFixtures } from "../../helpers/mergekit-fixtures.js";

const METHODS = [
	"linear",
	"passthrough",
	"slerp",
	"nuslerp",
	"multislerp",
	"karcher",
	"task_arithmetic",
	"ties",
	"breadcrumbs",
	"breadcrumbs_ties",
	"dare_ties",
	"dare_linear",
	"della",
	"della_linear",
	"sce",
	"model_stock",
	"nearswap",
	"arcee_fusion",
];

/**
 * With dtype float32 nothing rounds the float32 intermediates away, and mergekit's own values for these depend on the
 * machine: numpy's float32 arccos/sin (SVML on AVX-512, libm elsewhere), the BLAS behind np.linalg.norm, torch's
 * vectorised sums. There compat agrees to a few float32 ulps of the tensor's largest value (a coefficient off by an
 * ulp moves every element by that much); every bf16/f16 case, and every float32 case of the other methods, must
 * match exactly.
 */
const FLOAT32_SCALE_ULPS: Record<string, number> = {
	slerp: 8,
	multislerp: 8,
	nuslerp: 8,
	karcher: 8,
	arcee_fusion: 8,
	model_stock: 8,
	sce: 8,
};

/** max |a − b| in units of the float32 ulp of max |b|. */
function errorInScaleUlps(a: Float32Array, b: Float32Array): number {
	let scale = 0;
	let worst = 0;
	for (let i = 0; i < b.length; i++) {
		scale = Math.max(scale, Math.abs(b[i]!));
		worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
	}
	return worst / (scale * 2 ** -23);
}

function context(warnings: string[] = []): MergeContext {
	return { seed: 0, rngKey: (m, purpose = 0) => rngKey(0, "fixture", m, purpose), warn: (w) => warnings.push(w) };
}

/** Runs a fixture case through the compat code; random variants replay torch's masks. */
function run(c: FixtureCase): Float32Array {
	const base = c.base?.slice();
	const models = c.models.map((m) => m.slice());
	const variant = TASK_VECTOR_VARIANTS[c.method];
	if (c.masks !== undefined && variant !== undefined) {
		const masks = c.masks;
		castInPlace(base!, c.dtype);
		for (const m of models) castInPlace(m, c.dtype);
		const col = (key: string, fallback: number) =>
			c.modelParams.map((mp) => (typeof mp[key] === "number" ? (mp[key] as number) : fallback));
		return taskVectorsCompat(base!, models, {
			method: c.method,
			tensorName: c.name,
			shape: c.shape,
			dtype: c.dtype,
			sparsify: variant.sparsify,
			consensus: variant.consensus,
			weights: col("weight", Number.NaN),
			densities: col("density", 1),
			gammas: col("gamma", 0.01),
			epsilons: col("epsilon", 0.15),
			normalize: c.params.normalize === true,
			lambda: typeof c.params.lambda === "number" ? c.params.lambda : 1,
			rescale: c.params.rescale === "inverse_density" ? "inverse_density" : c.params.rescale === true,
			draw: (m) => (i) => masks[m]![i] === 1,
		});
	}
	return runCompat(
		c.method,
		{ tensorName: c.name, shape: c.shape, base, models, params: c.params, modelParams: c.modelParams },
		c.dtype,
		context(),
	);
}

describe.each(METHODS)("compat: mergekit matches torch bit for bit: %s", (method) => {
	const cases = loadFixtures(method);
	test("the fixture file has cases", () => {
		expect(cases.length).toBeGreaterThan(0);
	});
	test.each(cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
		expect(compatKernelFor(method)?.outputDtype(c.dtype)).toBe(c.expected.dtype);
		const out = run(c);
		const diff = bitDifferences(out, c.expected.values);
		const tolerance = c.dtype === "F32" ? FLOAT32_SCALE_ULPS[method] : undefined;
		if (tolerance !== undefined) {
			expect(
				errorInScaleUlps(out, c.expected.values),
				`${diff.count} of ${out.length} elements differ: ${diff.first.join("; ")}`,
			).toBeLessThanOrEqual(tolerance);
			return;
		}
		expect(diff.count, `${diff.count} of ${out.length} elements differ: ${diff.first.join("; ")}`).toBe(0);
	});
});

describe("DELLA keep probabilities match torch's", () => {
	for (const method of ["della", "della_linear"]) {
		test.each(loadFixtures(method).map((c) => [c.name, c] as const))("%s", (_name, c) => {
			const math = new TorchFloat(c.dtype);
			c.models.forEach((x, m) => {
				const delta = x.map((v, i) => math.sub(v, c.base![i]!));
				const density = c.modelParams[m]!.density as number;
				const epsilon = c.modelParams[m]!.epsilon as number;
				const probs = Float32Array.from(dellaProbabilitiesCompat(delta, c.shape, density, epsilon, math));
				const diff = bitDifferences(probs, c.probabilities![m]!.values);
				expect(diff.count, diff.first.join("; ")).toBe(0);
			});
		});
	}
});

describe("float32 norms in torch's summation order", () => {
	const doc = JSON.parse(readFileSync(path.join(FIXTURE_DIR, "reductions.json"), "utf8")) as { norms: { values: string; norm: string }[] };
	const decode = (b64: string, dtype: "BF16" | "F32") => {
		const bytes = Buffer.from(b64, "base64");
		return decodeToF32(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), dtype);
	};
	test.each(doc.norms.map((c) => [decode(c.values, "BF16").length, c] as const))("%i values", (_n, c) => {
		const x = decode(c.values, "BF16");
		expect(torchNormF32(x)).toBe(decode(c.norm, "F32")[0]);
	});
	test("the exact sum would not do: it differs from torch's on the longer vectors", () => {
		const differs = doc.norms.filter((c) => {
			const x = decode(c.values, "BF16");
			return f32Norm(x) !== decode(c.norm, "F32")[0];
		});
		expect(differs.length).toBeGreaterThan(2);
	});
});
