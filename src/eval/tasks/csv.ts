import type { LoadContext } from "./records.js";
import { badRecord } from "./records.js";

/** One CSV row and the 1-based line its first field starts on. */
export interface CsvRow {
	fields: string[];
	line: number;
}

/**
 * RFC 4180 CSV without a header: fields separated by commas, records by CRLF or LF, a field in double
 * quotes may hold commas, line breaks and `""` (an escaped quote). Blank lines are skipped. An
 * unterminated quoted field is a bad record (EvaluationError "Data" with its line unless skipBad).
 */
export function parseCsv(text: string, ctx: LoadContext): CsvRow[] {
	const rows: CsvRow[] = [];
	let fields: string[] = [];
	let field = "";
	let fieldHasContent = false;
	let rowHasContent = false;
	let line = 1;
	let rowLine = 1;
	const touch = (): void => {
		if (!rowHasContent) rowLine = line;
		rowHasContent = true;
		fieldHasContent = true;
	};
	let i = 0;
	while (i < text.length) {
		const c = text[i];
		if (c === '"' && !fieldHasContent) {
			touch();
			const openLine = line;
			let closed = false;
			for (i++; i < text.length; i++) {
				const d = text[i];
				if (d === '"') {
					if (text[i + 1] !== '"') {
						closed = true;
						i++;
						break;
					}
					i++;
				} else if (d === "\n") {
					line++;
				}
				field += d;
			}
			if (!closed) {
				badRecord(ctx, openLine, "unterminated quoted CSV field");
				return rows;
			}
			continue;
		}
		if (c === ",") {
			if (!rowHasContent) rowLine = line;
			rowHasContent = true;
			fields.push(field);
			field = "";
			fieldHasContent = false;
		} else if (c === "\n" || c === "\r") {
			if (rowHasContent) {
				fields.push(field);
				rows.push({ fields, line: rowLine });
			}
			fields = [];
			field = "";
			fieldHasContent = false;
			rowHasContent = false;
			if (c === "\r" && text[i + 1] === "\n") i++;
			line++;
		} else {
			touch();
			field += c;
		}
		i++;
	}
	if (rowHasContent) {
		fields.push(field);
		rows.push({ fields, line: rowLine });
	}
	return rows;
}
