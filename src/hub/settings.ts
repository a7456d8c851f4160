import { hfCacheRoot } from "./cache-layout.js";
import { checked, type HubToken, resolveHubToken } from "./token.js";

/** The public Hub; `HF_ENDPOINT` replaces it (a mirror, a private Hub, or a test server). */
const DEFAULT_HUB_ENDPOINT = "https://huggingface.co";

/** Options every Hub call accepts; anything unset comes from the environment as huggingface_hub reads it. */
export interface HubOptions {
	/** Environment for HF_ENDPOINT, HF_TOKEN, HF_HOME, HF_HUB_CACHE, HF_HUB_OFFLINE (default: process.env). */
	env?: NodeJS.ProcessEnv;
	/** The Hub's base URL (default `$HF_ENDPOINT`, else https://huggingface.co). */
	endpoint?: string;
	/** An access token (default `$HF_TOKEN`, else the token file `huggingface-cli login` writes). */
	token?: string;
	/** The cache folder (default `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else ~/.cache/huggingface/hub). */
	cacheDir?: string;
	/** Never touch the network (also `HF_HUB_OFFLINE=1`). */
	offline?: boolean;
}

/** HubOptions with the environment applied. */
export interface HubSettings {
	endpoint: string;
	token: HubToken | undefined;
	cacheRoot: string;
	offline: boolean;
}

/** huggingface_hub's truthy spellings for boolean environment variables. */
const TRUE_VALUES = new Set(["1", "ON", "YES", "TRUE"]);

/** Whether `HF_HUB_OFFLINE` (or the option) asks for offline mode. */
export function isOffline(env: NodeJS.ProcessEnv = process.env, flag?: boolean): boolean {
	if (flag === true) return true;
	return TRUE_VALUES.has((env.HF_HUB_OFFLINE ?? "").trim().toUpperCase());
}

/** The Hub's base URL without a trailing slash. */
export function hubEndpoint(env: NodeJS.ProcessEnv = process.env, override?: string): string {
	return (override || env.HF_ENDPOINT || DEFAULT_HUB_ENDPOINT).replace(/\/+$/, "");
}

/** Applies the environment to `opts`. The token is only looked up when online. */
export async function hubSettings(opts: HubOptions = {}): Promise<HubSettings> {
	const env = opts.env ?? process.env;
	const offline = isOffline(env, opts.offline);
	const token =
		opts.token !== undefined
			? checked({ token: opts.token, source: "the token option" })
			: offline
				? undefined
				: await resolveHubToken(env);
	return { endpoint: hubEndpoint(env, opts.endpoint), token, cacheRoot: opts.cacheDir ?? hfCacheRoot(env), offline };
}
