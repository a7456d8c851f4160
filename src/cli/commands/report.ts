import { rename, writeFile } from "node:fs/promises";
import type { Argv, CommandModule } from "yargs";
import { renderReportHtml } from "../../report/html.js";
import { renderReportMarkdown } from "../../report/markdown.js";
import { readReportData } from "../../sweep/report-source.js";
import type { Io } from "../output.js";

interface ReportArgs {
	inputs: string[];
	html?: string;
	markdown?: string;
	sweep?: string;
	title?: string;
}

/** Writes through a temporary sibling and a rename, so a half-written page never sits under the final name. */
async function writeAtomic(file: string, text: string): Promise<void> {
	const tmp = `${file}.${process.pid}.partial`;
	await writeFile(tmp, text);
	await rename(tmp, file);
}

export function reportCommand(io: Io): CommandModule<object, ReportArgs> {
	return {
		command: "report <inputs..>",
		describe: "Tables and charts from results stores and `merge eval --json` reports: a self-contained HTML page and/or Markdown",
		builder: (y: Argv) =>
			y
				.positional("inputs", {
					type: "string",
					array: true,
					demandOption: true,
					description: "Results stores (.sqlite) and evaluation reports (.json)",
				})
				.option("html", {
					type: "string",
					description: "Write a self-contained HTML page (tables, bar charts, parameter response, reliability diagrams)",
				})
				.option("markdown", {
					type: "string",
					description: "Write Markdown tables to this file (--markdown alone: print them; the default without --html)",
				})
				.option("sweep", { type: "string", description: "Only this sweep's trials from the stores" })
				.option("title", { type: "string", description: "Page title" })
				.example("$0 report sweeps/slerp-t.sqlite --html slerp-t.html", "")
				.example("$0 report slerp.json ties.json dare.json --markdown", "") as never,
		handler: async (argv) => {
			const data = await readReportData(argv.inputs, {
				...(argv.sweep !== undefined ? { sweep: argv.sweep } : {}),
				...(argv.title !== undefined ? { title: argv.title } : {}),
			});
			if (argv.html !== undefined) {
				await writeAtomic(argv.html, await renderReportHtml(data));
				io.err(`wrote ${argv.html}`);
			}
			if (argv.markdown !== undefined && argv.markdown !== "") {
				await writeAtomic(argv.markdown, renderReportMarkdown(data));
				io.err(`wrote ${argv.markdown}`);
			} else if (argv.markdown === "" || argv.html === undefined) {
				io.out(renderReportMarkdown(data));
			}
		},
	};
}
