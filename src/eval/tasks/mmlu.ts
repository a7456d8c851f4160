import type { McqaItem } from "../types.js";
import type { CsvRow } from "./csv.js";
import { checkedItem, letterAt, recordId } from "./item.js";
import { badRecord, isRecord, type LoadContext, type RawRecord } from "./records.js";
import type { TaskSpec } from "./registry.js";

/** Columns of an MMLU CSV row: question, four options, answer letter. */
const MMLU_CSV_COLUMNS = 6;

/**
 * MMLU CSV as released (hendrycks/test `data/{dev,test}/<subject>_<split>.csv`): no header row,
 * columns question, A, B, C, D, answer letter. Item ids are 0-based row indices.
 */
export function loadMmluCsv(rows: CsvRow[], ctx: LoadContext, task: TaskSpec): McqaItem[] {
	const items: McqaItem[] = [];
	rows.forEach((row, index) => {
		if (row.fields.length !== MMLU_CSV_COLUMNS) {
			badRecord(
				ctx,
				row.line,
				`row ${index}: ${row.fields.length} columns, MMLU CSV has ${MMLU_CSV_COLUMNS} (question, A, B, C, D, answer)`,
			);
			return;
		}
		const [question, a, b, c, d, answer] = row.fields;
		const options = [a, b, c, d].map((text, i) => ({ letter: letterAt(i), text }));
		const item = checkedItem(ctx, row.line, task, { id: String(index), question, options, gold: answer });
		if (item !== undefined) items.push(item);
	});
	return items;
}

/**
 * MMLU JSON Lines (the cais/mmlu export): `question`, `choices` [4 strings], `answer` as a 0-based
 * index or a letter. Ids: the record's `id` when present, else its 0-based index.
 */
export function loadMmluJsonl(records: RawRecord[], ctx: LoadContext, task: TaskSpec): McqaItem[] {
	const items: McqaItem[] = [];
	for (const r of records) {
		if (!isRecord(r.value) || !Array.isArray(r.value.choices)) {
			badRecord(ctx, r.line, `record ${r.index}: expected an object with a "choices" array`);
			continue;
		}
		const rec = r.value;
		const options = (rec.choices as unknown[]).map((text, i) => ({ letter: letterAt(i), text }));
		const answer = rec.answer;
		const gold = typeof answer === "number" && Number.isInteger(answer) && answer >= 0 ? letterAt(answer) : answer;
		const item = checkedItem(ctx, r.line, task, { id: recordId(rec, r.index), question: rec.question, options, gold });
		if (item !== undefined) items.push(item);
	}
	return items;
}
