import { homedir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { cyclePath } from "../cycles.js";
import { ModelError } from "../errors.js";
import { readRegularText } from "../io/regular-file.js";

/** Short names every installation knows; a user alias with the same name wins. */
export const BUILTIN_ALIASES: Readonly<Record<string, string>> = Object.freeze({
	biomistral: "BioMistral/BioMistral-7B",
	mistral: "mistralai/Mistral-7B-Instruct-v0.1",
});

/** Environment variable naming the user config file (YAML or JSON) that holds `aliases`. */
const CONFIG_ENV_VAR = "LM_MERGE_CONFIG";

/** An alias file maps a few names to ids; 1 MiB holds thousands and keeps a stray huge file out of memory. */
const MAX_ALIAS_FILE_BYTES = 1024 * 1024;

/** File names tried, in order, in `$XDG_CONFIG_HOME/lm-merge/` (else `~/.config/lm-merge/`). */
const DEFAULT_CONFIG_NAMES = ["config.yaml", "config.yml", "config.json"] as const;

/** The user aliases and where they came from. */
export interface UserAliases {
	/** The file read; undefined when there is none. */
	file: string | undefined;
	/** Every file that was considered (for "not found" messages). */
	looked: string[];
	/** Alias (lower case) → target: a Hugging Face id `org/name[@rev]` or a path (relative to the file's folder). */
	aliases: Map<string, string>;
}

/** The candidate config files: the explicit one if given, else the defaults. */
function aliasFileCandidates(opts: { aliasesFile?: string; env?: NodeJS.ProcessEnv } = {}): { files: string[]; explicit: boolean } {
	const env = opts.env ?? process.env;
	const explicit = opts.aliasesFile ?? env[CONFIG_ENV_VAR];
	if (explicit) return { files: [explicit], explicit: true };
	const configHome = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config");
	return { files: DEFAULT_CONFIG_NAMES.map((n) => join(configHome, "lm-merge", n)), explicit: false };
}

/** Validates `{ aliases: { name: target } }`; other top-level keys are left for future settings. */
function parseAliasConfig(doc: unknown, file: string): Map<string, string> {
	const out = new Map<string, string>();
	if (doc === null || doc === undefined) return out;
	if (typeof doc !== "object" || Array.isArray(doc)) {
		throw new ModelError("InvalidConfig", file, "must be a mapping with an `aliases` key");
	}
	const aliases = (doc as Record<string, unknown>).aliases;
	if (aliases === undefined || aliases === null) return out;
	if (typeof aliases !== "object" || Array.isArray(aliases)) {
		throw new ModelError("InvalidConfig", file, `"aliases" must be a mapping of name → model, got ${JSON.stringify(aliases)}`);
	}
	for (const [name, target] of Object.entries(aliases)) {
		if (typeof target !== "string" || target.trim() === "") {
			throw new ModelError("InvalidConfig", file, `"aliases.${name}" must be a non-empty string, got ${JSON.stringify(target)}`);
		}
		if (name.includes("/") || name.includes("@")) {
			throw new ModelError("InvalidConfig", file, `alias name "${name}" must not contain "/" or "@" (it would shadow a Hugging Face id)`);
		}
		out.set(name.toLowerCase(), target.trim());
	}
	return out;
}

/**
 * Loads the user aliases. A missing default file is fine (no aliases); a missing file named by
 * `aliasesFile` or `$LM_MERGE_CONFIG` is an error, as is a file that is not valid YAML/JSON.
 */
export async function loadUserAliases(opts: { aliasesFile?: string; env?: NodeJS.ProcessEnv } = {}): Promise<UserAliases> {
	const { files, explicit } = aliasFileCandidates(opts);
	for (const file of files) {
		let text: string;
		try {
			text = await readRegularText(file, { maxBytes: MAX_ALIAS_FILE_BYTES, fail: (why) => new ModelError("InvalidConfig", file, why) });
		} catch (err) {
			if (err instanceof ModelError) throw err;
			const code = (err as NodeJS.ErrnoException).code;
			if (code === "ENOENT" && !explicit) continue;
			throw new ModelError("InvalidConfig", file, `cannot read the alias config file: ${(err as Error).message}`);
		}
		let doc: unknown;
		try {
			doc = parseYaml(text);
		} catch (err) {
			throw new ModelError("InvalidConfig", file, `not valid YAML/JSON: ${(err as Error).message.split("\n")[0]}`);
		}
		const loop = cyclePath(doc);
		if (loop !== undefined) {
			throw new ModelError(
				"InvalidConfig",
				file,
				`${loop.join(".")}: an alias refers to a node that contains it (a self-referencing anchor)`,
			);
		}
		return { file, looked: files, aliases: parseAliasConfig(doc, file) };
	}
	return { file: undefined, looked: files, aliases: new Map() };
}
