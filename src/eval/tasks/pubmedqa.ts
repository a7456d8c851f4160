import type { McqaItem } from "../types.js";
import { checkedItem } from "./item.js";
import { badRecord, isRecord, type LoadContext, type RawRecord } from "./records.js";
import type { TaskSpec } from "./registry.js";

/** PubMedQA's answers and the letters the BioMistral template gives them. */
const PUBMEDQA_OPTIONS = [
	{ letter: "A", text: "yes" },
	{ letter: "B", text: "no" },
	{ letter: "C", text: "maybe" },
] as const;

/**
 * PubMedQA `ori_pqal.json`: an object keyed by PMID, each value `{ QUESTION, CONTEXTS[], LABELS,
 * final_decision, LONG_ANSWER, … }`. The item id is the PMID; options are A yes, B no, C maybe; the
 * context is the abstract's CONTEXTS joined by one space (the harness template joins them with "\n",
 * so the parts are kept too). LONG_ANSWER (the conclusion) is never shown: it gives the answer away.
 * A JSON Lines variant with a `pubid`/`id` field per record is accepted as well.
 */
export function loadPubMedQa(records: RawRecord[], ctx: LoadContext, task: TaskSpec): McqaItem[] {
	const items: McqaItem[] = [];
	for (const r of records) {
		if (!isRecord(r.value)) {
			badRecord(ctx, r.line, `record ${r.key ?? r.index}: expected a JSON object`);
			continue;
		}
		const rec = r.value;
		const id = r.key ?? String(rec.pubid ?? rec.id ?? r.index);
		const parts = rec.CONTEXTS;
		if (!Array.isArray(parts) || !parts.every((p): p is string => typeof p === "string")) {
			badRecord(ctx, r.line, `record ${id}: "CONTEXTS" must be an array of strings`);
			continue;
		}
		const decision = typeof rec.final_decision === "string" ? rec.final_decision.trim().toLowerCase() : rec.final_decision;
		const gold = PUBMEDQA_OPTIONS.find((o) => o.text === decision)?.letter ?? `final_decision=${JSON.stringify(decision)}`;
		const item = checkedItem(ctx, r.line, task, {
			id,
			question: rec.QUESTION,
			options: PUBMEDQA_OPTIONS.map((o) => ({ ...o })),
			gold,
			context: parts.join(" "),
			contextParts: parts,
		});
		if (item !== undefined) items.push(item);
	}
	return items;
}
