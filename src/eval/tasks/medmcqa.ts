import { EvaluationError } from "../../errors.js";
import type { McqaItem } from "../types.js";
import { checkedItem, letterAt, recordId } from "./item.js";
import { badRecord, isRecord, type LoadContext, type RawRecord } from "./records.js";
import type { TaskSpec } from "./registry.js";

/** The option fields of a MedMCQA record, in letter order. */
const OPTION_KEYS = ["opa", "opb", "opc", "opd"] as const;

/**
 * Which base `cop` uses in a file: the original release is 1-based (1..4), the Hugging Face export
 * 0-based (0..3). A 0 anywhere means 0-based, a 4 anywhere 1-based; both, or neither (only 1..3),
 * cannot be decided and need an explicit `copBase`.
 */
function detectCopBase(records: RawRecord[], file: string): 0 | 1 {
	let zero = false;
	let four = false;
	for (const r of records) {
		const cop = isRecord(r.value) ? Number(r.value.cop) : Number.NaN;
		if (cop === 0) zero = true;
		if (cop === 4) four = true;
	}
	if (zero && four) {
		throw new EvaluationError("Data", `${file}: "cop" holds both 0 and 4; pass copBase 0 or 1 (--cop-base) to say which is right`);
	}
	if (zero) return 0;
	if (four) return 1;
	throw new EvaluationError(
		"Data",
		`${file}: cannot tell whether "cop" is 0-based (Hugging Face export) or 1-based (original files): pass copBase 0 or 1 (--cop-base)`,
	);
}

/**
 * MedMCQA JSON Lines: `id, question, opa, opb, opc, opd, cop` (+ `exp`, `subject_name`, …). `cop` is
 * the correct option's number, 1-based in the original files and 0-based in the hub export:
 * `copBase` says which, or it is detected (see detectCopBase).
 */
export function loadMedMcqa(records: RawRecord[], ctx: LoadContext, task: TaskSpec, copBase?: 0 | 1): McqaItem[] {
	const base = copBase ?? detectCopBase(records, ctx.file);
	const items: McqaItem[] = [];
	for (const r of records) {
		if (!isRecord(r.value)) {
			badRecord(ctx, r.line, `record ${r.index}: expected a JSON object`);
			continue;
		}
		const rec = r.value;
		const options = OPTION_KEYS.map((k, i) => ({ letter: letterAt(i), text: rec[k] }));
		const cop = typeof rec.cop === "string" ? Number(rec.cop) : rec.cop;
		const index = typeof cop === "number" && Number.isInteger(cop) ? cop - base : -1;
		const gold = index >= 0 && index < options.length ? letterAt(index) : `cop=${JSON.stringify(rec.cop)}`;
		const item = checkedItem(ctx, r.line, task, { id: recordId(rec, r.index), question: rec.question, options, gold });
		if (item !== undefined) items.push(item);
	}
	return items;
}
