import type { ReportData, ReportRow, TaskScore } from "../../src/report/types.js";

/** A task score with per-seed accuracies and two filled reliability bins. */
export function score(perSeed: number[], ece = 10): TaskScore {
	const acc = perSeed.reduce((a, b) => a + b, 0) / perSeed.length;
	return {
		n: 10,
		acc,
		acc_std: Math.sqrt(perSeed.reduce((a, v) => a + (v - acc) ** 2, 0) / perSeed.length),
		acc_per_seed: perSeed,
		acc_letters: acc + 5,
		ece,
		reliability: [
			{ lower: 0, upper: 0.2, count: 0, confidence: 0, accuracy: 0 },
			{ lower: 0.2, upper: 0.4, count: 4, confidence: 0.3, accuracy: 0.25 },
			{ lower: 0.4, upper: 0.6, count: 0, confidence: 0, accuracy: 0 },
			{ lower: 0.6, upper: 0.8, count: 6, confidence: 0.7, accuracy: 0.5 },
			{ lower: 0.8, upper: 1, count: 0, confidence: 0, accuracy: 0 },
		],
	};
}

const trial = (t: number, medqa: number[], pubmedqa: number[], objective: number): ReportRow => ({
	label: `t=${t}`,
	kind: "trial",
	params: { "parameters.t": t },
	sweep: "slerp-t",
	status: "done",
	objective,
	seconds: 12.5,
	tasks: { medqa: score(medqa, 12), pubmedqa: score(pubmedqa, 8) },
	settings: "biomistral, 3-shot, seeds 0,1",
});

/** Three done trials (t = 0.3 best on MedQA, 0.7 best on PubMedQA), one failed, one quantized comparison. */
export function sweepReportData(): ReportData {
	return {
		title: "Sweep slerp-t",
		rows: [
			trial(0.3, [50, 60], [40, 40], 47.5),
			trial(0.5, [40, 40], [50, 50], 45),
			trial(0.7, [30, 30], [70, 70], 50),
			{
				label: "t=0.9",
				kind: "trial",
				params: { "parameters.t": 0.9 },
				sweep: "slerp-t",
				status: "failed",
				error: "plan: shapes differ",
				tasks: {},
			},
		],
		swept: ["parameters.t"],
		quantized: [
			{
				model: "bio-slerp",
				reference: { label: "bf16", tasks: { medqa: score([50, 50]) } },
				variants: [{ label: "q8_0", tasks: { medqa: score([49, 49]) }, bytes: 7.7e9, tokensPerSecond: 21.5 }],
			},
		],
		sources: ["slerp-t.sqlite"],
		objective: "mean_accuracy",
	};
}
