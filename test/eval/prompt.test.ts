import { describe, expect, test } from "vitest";
import { BIOMISTRAL_HEADER, biomistralPrompt, formatBiomistralItem, harnessPrompt } from "../../src/eval/prompt.js";
import { drawShots, paperShots, shotSeed } from "../../src/eval/tasks/few-shot.js";
import type { McqaItem, TaskName } from "../../src/eval/types.js";

function item(id: string, question: string, texts: string[], gold: string, task: TaskName = "medqa"): McqaItem {
	return {
		task,
		id,
		question,
		options: texts.map((text, i) => ({ letter: String.fromCharCode(65 + i), text })),
		gold,
		source: { file: "mem", line: Number(id) + 1 },
	};
}

const query = item("0", "Which organ produces insulin?", ["Liver", "Spleen", "Pancreas", "Kidney"], "C");
const shots = [
	item("1", "Which vitamin prevents scurvy?", ["A", "C", "D", "K"], "B"),
	item("2", "Largest bone?", ["Femur", "Tibia", "Ulna", "Skull"], "A"),
	item("3", "Normal pH of blood?", ["7.0", "7.2", "7.4", "7.6"], "C"),
];

describe("BioMistral template: exact bytes", () => {
	test("the header", () => {
		expect(BIOMISTRAL_HEADER).toBe("The following are multiple choice questions (with answers) about medical knowledge. \n ");
	});

	test("0-shot prompt ends in **Answer:**(", () => {
		expect(biomistralPrompt(query, [])).toBe(
			"The following are multiple choice questions (with answers) about medical knowledge. \n " +
				"**Question:** Which organ produces insulin? \n (A) Liver \n (B) Spleen \n (C) Pancreas \n (D) Kidney \n **Answer:**(",
		);
	});

	test("3-shot prompt: shots carry their gold letter, joined by ' \\n '", () => {
		const expected =
			"The following are multiple choice questions (with answers) about medical knowledge. \n " +
			"**Question:** Which vitamin prevents scurvy? \n (A) A \n (B) C \n (C) D \n (D) K \n **Answer:**(B \n " +
			"**Question:** Largest bone? \n (A) Femur \n (B) Tibia \n (C) Ulna \n (D) Skull \n **Answer:**(A \n " +
			"**Question:** Normal pH of blood? \n (A) 7.0 \n (B) 7.2 \n (C) 7.4 \n (D) 7.6 \n **Answer:**(C \n " +
			"**Question:** Which organ produces insulin? \n (A) Liver \n (B) Spleen \n (C) Pancreas \n (D) Kidney \n **Answer:**(";
		expect(biomistralPrompt(query, shots)).toBe(expected);
	});

	test("PubMedQA: the abstract and ' \\n ' come before the question", () => {
		const pq: McqaItem = { ...item("7", "Does it work?", ["yes", "no", "maybe"], "A", "pubmedqa"), context: "Part one. Part two." };
		expect(formatBiomistralItem(pq, "")).toBe(
			"Part one. Part two. \n **Question:** Does it work? \n (A) yes \n (B) no \n (C) maybe \n **Answer:**(",
		);
		expect(formatBiomistralItem(pq, "A").endsWith("**Answer:**(A")).toBe(true);
	});
});

describe("harness templates", () => {
	test("medqa_4options", () => {
		const h = harnessPrompt(query);
		expect(h.context).toBe("Question: Which organ produces insulin?\nA. Liver\nB. Spleen\nC. Pancreas\nD. Kidney\nAnswer:");
		expect(h.choices).toEqual(["A", "B", "C", "D"]);
		expect(h.goldIndex).toBe(2);
	});

	test("medmcqa", () => {
		const h = harnessPrompt({ ...query, task: "medmcqa" });
		expect(h.context).toBe("Question: Which organ produces insulin?\nChoices:\nA. Liver\nB. Spleen\nC. Pancreas\nD. Kidney\nAnswer:");
	});

	test("pubmedqa scores the words yes / no / maybe, contexts joined by newlines", () => {
		const pq: McqaItem = {
			...item("7", "Does it work?", ["yes", "no", "maybe"], "B", "pubmedqa"),
			context: "P1. P2.",
			contextParts: ["P1.", "P2."],
		};
		const h = harnessPrompt(pq);
		expect(h.context).toBe("Abstract: P1.\nP2.\nQuestion: Does it work?\nAnswer:");
		expect(h.choices).toEqual(["yes", "no", "maybe"]);
		expect(h.goldIndex).toBe(1);
	});

	test("mmlu: subject description, stripped question, one-shot example", () => {
		const q = { ...item("0", "  Largest bone? ", ["Femur", "Tibia", "Ulna", "Skull"], "A"), task: "mmlu_anatomy" as const };
		const s = { ...item("1", "Smallest bone?", ["Stapes", "Femur", "Ulna", "Rib"], "A"), task: "mmlu_anatomy" as const };
		expect(harnessPrompt(q, [s]).context).toBe(
			"The following are multiple choice questions (with answers) about anatomy.\n\n" +
				"Smallest bone?\nA. Stapes\nB. Femur\nC. Ulna\nD. Rib\nAnswer: A\n\n" +
				"Largest bone?\nA. Femur\nB. Tibia\nC. Ulna\nD. Skull\nAnswer:",
		);
		expect(
			harnessPrompt({ ...q, task: "mmlu_clinical_knowledge" }).context.startsWith(
				"The following are multiple choice questions (with answers) about clinical knowledge.\n\n",
			),
		).toBe(true);
	});
});

describe("few-shot draws", () => {
	const pool = Array.from({ length: 20 }, (_, i) => item(String(i), `Question ${i}?`, ["a", "b", "c", "d"], "A"));

	test("deterministic per (seed, item), k distinct shots, never the query", () => {
		for (const q of pool.slice(0, 8)) {
			for (const seed of [0, 1, 2]) {
				const a = drawShots(q, pool, 3, seed, true);
				expect(a.map((s) => s.id)).toEqual(drawShots(q, pool, 3, seed, true).map((s) => s.id));
				expect(new Set(a.map((s) => s.id)).size).toBe(3);
				expect(a.some((s) => s.id === q.id)).toBe(false);
			}
		}
	});

	test("seeds give different draws", () => {
		const q = pool[0] as McqaItem;
		const draws = new Set(
			[0, 1, 2, 3, 4].map((seed) =>
				drawShots(q, pool, 3, seed, true)
					.map((s) => s.id)
					.join(","),
			),
		);
		expect(draws.size).toBeGreaterThan(1);
		expect(shotSeed(2, q)).toBe("2/medqa/0");
	});

	test("a pool exactly k + query long gives every other item; with a separate pool, an identical question is skipped", () => {
		const small = pool.slice(0, 4);
		const q = small[1] as McqaItem;
		expect(
			drawShots(q, small, 3, 0, true)
				.map((s) => s.id)
				.sort(),
		).toEqual(["0", "2", "3"]);
		const copy = { ...q, id: "99" };
		expect(
			drawShots(copy, small, 3, 0, false)
				.map((s) => s.id)
				.sort(),
		).toEqual(["0", "2", "3"]);
	});

	test("too small a pool is kind Data", () => {
		expect(() => drawShots(pool[0] as McqaItem, pool.slice(0, 3), 3, 0, true)).toThrow(expect.objectContaining({ kind: "Data" }));
	});

	test("paper shots: seed s uses the (s+1)-th list; a missing list is kind Config", () => {
		const withShots: McqaItem = { ...query, fewShot: [[shots[0] as McqaItem], [shots[1] as McqaItem]] };
		expect(paperShots(withShots, 1)).toEqual([shots[1]]);
		expect(() => paperShots(withShots, 2)).toThrow(expect.objectContaining({ kind: "Config" }));
	});
});
