import { describe, expect, test } from "vitest";
import { ensembleScored, renderMarkdown, renderText, type ScoredPrompt, summarizeTask, toItemReport } from "../../src/eval/report.js";
import { MMLU_TASKS } from "../../src/eval/tasks/registry.js";
import type { EvalReport, McqaItem, TaskName, TaskReport } from "../../src/eval/types.js";

function item(id: string, gold: string): McqaItem {
	return {
		task: "medqa",
		id,
		question: `q${id}`,
		options: ["A", "B", "C", "D"].map((letter) => ({ letter, text: letter.toLowerCase() })),
		gold,
		source: { file: "mem", line: 1 },
	};
}

let nextIndex = 0;
function scored(it: McqaItem, seed: number, probs: [number, number, number, number], top1Text: string, index = nextIndex++): ScoredPrompt {
	const letters = ["A", "B", "C", "D"];
	const letterProbs = Object.fromEntries(letters.map((l, i) => [l, probs[i] as number]));
	const best = letters[probs.indexOf(Math.max(...probs))] as string;
	return {
		item: it,
		seed,
		shotIds: [],
		index,
		tokens: 2,
		letterProbs,
		top1Id: 7,
		top1Text,
		correct: top1Text === it.gold,
		correctLetters: best === it.gold,
		nonLetterTop1: !letters.includes(top1Text),
	};
}

const i0 = item("0", "A");
const i1 = item("1", "B");
const run: ScoredPrompt[] = [
	scored(i0, 0, [0.6, 0.1, 0.1, 0.1], "A"),
	scored(i1, 0, [0.2, 0.3, 0.1, 0.1], "\n"), // non-letter top-1: wrong for acc, right for acc_letters
	scored(i0, 1, [0.2, 0.7, 0.05, 0.05], "B"),
	scored(i1, 1, [0.05, 0.9, 0.03, 0.02], "B"),
];

describe("summarizeTask", () => {
	test("hand-computed accuracies, spread, non-letter fraction and ECE", () => {
		const r = summarizeTask(run, [0, 1], "template");
		expect(r.n).toBe(2);
		expect(r.acc).toEqual({ mean: 50, std: 0, per_seed: [50, 50] });
		expect(r.acc_letters).toEqual({ mean: 75, std: 25, per_seed: [100, 50] });
		expect(r.non_letter_top1).toBe(0.25);
		// seed 0: |0.6-1|/2 + |0.3-1|/2 = 0.55; seed 1: |0.7-0|/2 + |0.9-1|/2 = 0.40
		expect(r.ece_per_seed[0]).toBeCloseTo(55, 12);
		expect(r.ece_per_seed[1]).toBeCloseTo(40, 12);
		expect(r.ece).toBeCloseTo(47.5, 12);
		expect(r.shot_source).toBe("template");
		expect(r.acc_norm).toBeUndefined();
	});
});

describe("ensembleScored", () => {
	test("sums letter probabilities and takes the arg-max letter", () => {
		const other = [
			scored(i0, 0, [0.1, 0.8, 0.05, 0.05], "B", 0),
			scored(i1, 0, [0.1, 0.2, 0.6, 0.1], "C", 1),
			scored(i0, 1, [0.9, 0.05, 0.03, 0.02], "A", 2),
			scored(i1, 1, [0.1, 0.1, 0.1, 0.7], "D", 3),
		];
		const ens = ensembleScored([run, other]);
		// sums: s0 i0 A .7 B .9 → B (wrong); s0 i1 B .5 C .7 → C (wrong); s1 i0 A 1.1 B .75 → A (right); s1 i1 B 1.0 D .72 → B (right)
		expect(ens.map((s) => s.correct)).toEqual([false, false, true, true]);
		expect(ens.map((s) => s.correctLetters)).toEqual([false, false, true, true]);
		expect(ens[2]?.letterProbs.A).toBeCloseTo(1.1, 12);
		expect(ens[0]?.top1Text).toBe("A"); // from the first model
		const r = summarizeTask(ens, [0, 1], "template", { probScale: 0.5 });
		expect(r.acc.per_seed).toEqual([0, 100]);
	});

	test("items that do not align are kind Mismatch", () => {
		const shifted = [run[1], run[0], run[2], run[3]] as ScoredPrompt[];
		expect(() => ensembleScored([run, shifted])).toThrow(expect.objectContaining({ kind: "Mismatch" }));
		const otherGold = run.map((s) => ({ ...s, item: { ...s.item, gold: "D" } }));
		expect(() => ensembleScored([run, otherGold])).toThrow(expect.objectContaining({ kind: "Mismatch" }));
		expect(() => ensembleScored([run, run.slice(1)])).toThrow(expect.objectContaining({ kind: "Mismatch" }));
	});
});

test("item records carry the spec's keys without the prompt text and ids (+ tokens, correct_letters)", () => {
	expect(Object.keys(toItemReport(run[0] as ScoredPrompt)).sort()).toEqual(
		["task", "id", "seed", "gold", "shot_ids", "tokens", "letter_probs", "top1_id", "top1_text", "correct", "correct_letters"].sort(),
	);
});

test("summaries keep full precision (only the tables round)", () => {
	const third = [
		scored(i0, 0, [0.6, 0.1, 0.1, 0.1], "A", 0),
		scored(i1, 0, [0.2, 0.3, 0.1, 0.1], "A", 1),
		scored(item("2", "C"), 0, [0.1, 0.1, 0.7, 0.1], "C", 2),
	];
	const r = summarizeTask(third, [0], "template");
	expect(r.acc.mean).toBe(200 / 3);
	// bins: 0.3 → (0.2, 0.4]: |0.3 − 1|; 0.6 → (0.4, 0.6]: |0.6 − 1|; 0.7 → (0.6, 0.8]: |0.7 − 1|; each weighs 1/3
	expect(r.ece).toBeCloseTo((100 * (0.7 + 0.4 + 0.3)) / 3, 12);
	expect(r.ece).not.toBe(Math.round(r.ece * 1e4) / 1e4);
});

function taskReport(perSeed: number[], ece: number): TaskReport {
	return {
		n: 10,
		acc: { mean: perSeed.reduce((a, b) => a + b) / perSeed.length, std: 0, per_seed: perSeed },
		acc_letters: { mean: 0, std: 0, per_seed: perSeed },
		non_letter_top1: 0,
		ece,
		ece_per_seed: perSeed.map(() => ece),
		shot_source: "template",
	};
}

describe("renderers", () => {
	const tasks: Partial<Record<TaskName, TaskReport>> = {};
	MMLU_TASKS.forEach((t, i) => {
		tasks[t] = taskReport([40 + i, 50 + i], 10);
	});
	tasks.medqa = taskReport([30, 40], 20);
	const report: EvalReport = {
		version: "0",
		partial: false,
		progress: { scored: 0, total: 0, skipped: 0 },
		mode: "biomistral",
		shots: 3,
		seeds: [0, 1],
		models: ["/cache/models--BioMistral--BioMistral-7B/snapshots/02cb352a0a41b2c4e7e3e0e4a8d6c1f1e0b9a7c3"],
		model_names: ["BioMistral/BioMistral-7B"],
		ensemble: false,
		bos: true,
		backend: "tfjs",
		device: "cpu",
		quant: "float32",
		max_tokens: 512,
		letter_token_ids: {},
		data_files: [],
		runs: [],
		timings: { started: "", seconds: 0, tokens_per_second: 0 },
		tasks,
		warnings: ["something odd"],
		items: [],
	};

	test("Markdown: paper column order, MMLU after the six subjects, Avg last, mean ± population std", () => {
		const md = renderMarkdown(report);
		const header = md.split("\n").find((l) => l.startsWith("| Model"));
		expect(header).toBe(
			"| Model | Clinical KG | Medical Genetics | Anatomy | Pro Medicine | College Biology | College Medicine | MMLU | MedQA | Avg |",
		);
		const row = md.split("\n").find((l) => l.startsWith("| BioMistral/BioMistral-7B"));
		// Clinical KG seeds 40, 50 → 45 ± 5; MMLU per seed: mean(40..45) = 42.5, mean(50..55) = 52.5 → 47.5 ± 5
		// Avg over the seven task columns per seed: (6·42.5 + 30)/7 = 40.71…, (6·52.5 + 40)/7 = 50.71… → 45.7 ± 5.0
		expect(row).toBe(
			"| BioMistral/BioMistral-7B | 45.0 ± 5.0 | 46.0 ± 5.0 | 47.0 ± 5.0 | 48.0 ± 5.0 | " +
				"49.0 ± 5.0 | 50.0 ± 5.0 | 47.5 ± 5.0 | 35.0 ± 5.0 | 45.7 ± 5.0 |",
		);
		expect(md).toContain("| BioMistral/BioMistral-7B | 10.0 | 10.0 | 10.0 | 10.0 | 10.0 | 10.0 | 10.0 | 20.0 | 11.4 |");
	});

	test("Markdown for an ensemble: member rows then Ensemble", () => {
		const ens: EvalReport = {
			...report,
			ensemble: true,
			models: ["a/m1", "b/m2"],
			model_names: ["m1", "m2"],
			members: [
				{ model: "a/m1", tasks },
				{ model: "b/m2", tasks },
			],
		};
		const labels = renderMarkdown(ens)
			.split("\n")
			.filter((l) => l.startsWith("| ") && !l.startsWith("| Model") && !l.startsWith("| ---"))
			.map((l) => l.split(" | ")[0]);
		expect(labels).toEqual(["| m1", "| m2", "| Ensemble", "| m1", "| m2", "| Ensemble"]);
	});

	test("text summary names every task and the warnings", () => {
		const text = renderText(report);
		expect(text).toContain("mode biomistral, 3-shot, seeds [0, 1], BOS on");
		expect(text).toContain("mmlu_anatomy");
		expect(text).toContain("warning: something odd");
	});
});
