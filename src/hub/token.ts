import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { HubError } from "../errors.js";
import { hfHome } from "./cache-layout.js";

/** A Hub access token and where it was found (named in messages, never the token itself). */
export interface HubToken {
	token: string;
	source: string;
}

/** The file `huggingface-cli login` / `hf auth login` writes: `$HF_TOKEN_PATH`, else `$HF_HOME/token`. */
export function tokenFilePath(env: NodeJS.ProcessEnv = process.env): string {
	return env.HF_TOKEN_PATH || join(hfHome(env), "token");
}

/**
 * Finds the token the way huggingface_hub does: `HF_TOKEN`, else the legacy `HUGGING_FACE_HUB_TOKEN`,
 * else the token file the Python CLI's login writes. Blank values count as unset. Undefined when none.
 */
export async function resolveHubToken(env: NodeJS.ProcessEnv = process.env): Promise<HubToken | undefined> {
	for (const name of ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"] as const) {
		const v = env[name]?.trim();
		if (v) return checked({ token: v, source: `$${name}` });
	}
	const file = tokenFilePath(env);
	let text: string;
	try {
		text = await readFile(file, "utf8");
	} catch (err) {
		if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
		throw new HubError("InvalidToken", file, `cannot read the token file: ${(err as Error).message}`);
	}
	const token = text.trim();
	return token === "" ? undefined : checked({ token, source: file });
}

/**
 * Hub user and organization tokens start with `hf_`; @huggingface/hub refuses any other with a bare TypeError,
 * so the check is made here, where the message can say where the token came from.
 */
export function checked(t: HubToken): HubToken {
	if (!t.token.startsWith("hf_") || /\s/.test(t.token)) {
		throw new HubError("InvalidToken", t.source, 'does not hold a Hugging Face token (they start with "hf_" and contain no spaces)');
	}
	return t;
}
