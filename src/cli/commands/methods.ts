import type { CommandModule } from "yargs";
import { BUILTIN_METHODS } from "../../methods/registry.js";
import type { ParamDef } from "../../methods/types.js";
import type { Io } from "../output.js";

function describeParam(name: string, def: ParamDef): string {
	const dflt = def.default !== undefined ? ` = ${JSON.stringify(def.default)}` : def.required === true ? " (required)" : "";
	const kind = def.type === "enum" ? def.values.map((v) => JSON.stringify(v)).join("|") : def.type;
	return `${name}: ${kind}${dflt}`;
}

export function methodsCommand(io: Io): CommandModule<object, { json?: boolean }> {
	return {
		command: "methods",
		describe: "List the merge methods, their parameters and references",
		builder: (y) => y.option("json", { type: "boolean" }) as never,
		handler: (argv) => {
			if (argv.json === true) {
				io.out(
					JSON.stringify(
						BUILTIN_METHODS.map((m) => ({
							name: m.name,
							pretty_name: m.prettyName,
							reference_url: m.referenceUrl ?? null,
							base: m.base,
							min_models: m.minModels,
							max_models: Number.isFinite(m.maxModels) ? m.maxModels : null,
							params: m.params,
							model_params: m.modelParams,
						})),
						null,
						2,
					),
				);
				return;
			}
			for (const m of BUILTIN_METHODS) {
				io.out(`${m.name} — ${m.prettyName}${m.referenceUrl !== undefined ? ` <${m.referenceUrl}>` : ""}`);
				io.out(
					`  base model: ${m.base}; ` +
						`models: ${m.minModels}${m.maxModels === m.minModels ? "" : `..${Number.isFinite(m.maxModels) ? m.maxModels : "n"}`}`,
				);
				const g = Object.entries(m.params).map(([k, d]) => describeParam(k, d));
				const p = Object.entries(m.modelParams).map(([k, d]) => describeParam(k, d));
				if (g.length > 0) io.out(`  parameters: ${g.join("; ")}`);
				if (p.length > 0) io.out(`  per model:  ${p.join("; ")}`);
			}
		},
	};
}
