import { HubError, type HubErrorKind } from "../errors.js";
import type { HubToken } from "./token.js";

/** What a failing response is about, for the one-line message. */
export interface HubRequestContext {
	/** `org/name` (or `org/name@revision`), the start of every message. */
	repo: string;
	endpoint: string;
	token: HubToken | undefined;
}

/** A metadata request that has not answered in this long is treated as a network failure (the Hub answers in well under a second). */
const METADATA_TIMEOUT_MS = 60_000;

/** How much of the Hub's own error text a message quotes: enough for a sentence, never a whole HTML page. */
const MAX_QUOTED_CHARS = 200;

/** The Hub's `X-Error-Code` values this client distinguishes. */
const ERROR_CODES: Record<string, HubErrorKind> = {
	RepoNotFound: "RepoNotFound",
	RevisionNotFound: "RevisionNotFound",
	EntryNotFound: "EntryNotFound",
};

/** The Hub's error text from a JSON `{ error }` body, else the start of a text body; empty when there is none. */
async function hubSays(res: Response): Promise<string> {
	try {
		const text = (await res.text()).trim();
		if (text === "") return "";
		let said = text;
		if (res.headers.get("content-type")?.includes("json") === true) {
			const json = JSON.parse(text) as { error?: unknown; message?: unknown };
			said = String(json.error ?? json.message ?? text);
		}
		if (said.startsWith("<")) return "";
		said = said.replace(/\s+/g, " ");
		return said.length > MAX_QUOTED_CHARS ? `${said.slice(0, MAX_QUOTED_CHARS)}…` : said;
	} catch {
		return "";
	}
}

/**
 * Turns a failing Hub response into a one-line HubError that says which failure it is: gated or private
 * (401/403, with what to do about the token), missing repo / revision / file (404), or a Hub-side error.
 */
export async function hubErrorFromResponse(res: Response, ctx: HubRequestContext, what: string): Promise<HubError> {
	const code = res.headers.get("x-error-code") ?? "";
	const said = await hubSays(res);
	const quote = said !== "" && !said.includes("Repository not found") ? ` (the Hub says: ${said})` : "";
	const page = `${ctx.endpoint}/${ctx.repo.replace(/@.*$/, "")}`;
	const login = "set HF_TOKEN or run `huggingface-cli login`";
	const tokenFrom = ctx.token !== undefined ? `the token from ${ctx.token.source}` : "";
	const status = res.status;
	const fail = (kind: HubErrorKind, msg: string) => new HubError(kind, ctx.repo, `${msg}${quote}`, status);
	if (status === 401) {
		if (code === "GatedRepo") return fail("Unauthorized", `gated repo (401): accept its terms at ${page} and ${login}`);
		if (ctx.token === undefined) {
			return fail(
				code === "RepoNotFound" ? "RepoNotFound" : "Unauthorized",
				`${what}: not found or not accessible without a token (401): the repo is gated or private, or does not exist; ${login}`,
			);
		}
		return fail("Unauthorized", `${what}: ${tokenFrom} was rejected (401): it is invalid or expired`);
	}
	if (status === 403) {
		const why =
			code === "GatedRepo"
				? `gated repo: the account of ${tokenFrom || "this token"} has not been granted access; accept the terms at ${page}`
				: `${tokenFrom || "no token"}: not allowed (read access needs a token with read permission, writes a write token)`;
		return fail("Forbidden", `${what}: access denied (403): ${why}`);
	}
	if (status === 404) {
		const kind = ERROR_CODES[code] ?? "RepoNotFound";
		const msg = kind === "RevisionNotFound" ? "revision not found" : kind === "EntryNotFound" ? "file not found" : "repo not found";
		return fail(kind, `${what}: ${msg} on ${ctx.endpoint} (404${code !== "" ? ` ${code}` : ""})`);
	}
	if (status === 409) return fail("Conflict", `${what}: conflict (409)`);
	return fail(status >= 500 ? "Server" : "InvalidResponse", `${what}: the Hub answered ${status} ${res.statusText}`.trimEnd());
}

/** A network-level failure (refused, reset, DNS, timeout) as a HubError naming the endpoint. */
export function networkError(err: unknown, ctx: HubRequestContext, what: string): HubError {
	if (err instanceof HubError) return err;
	const e = err as Error & { cause?: { code?: string; message?: string } };
	if (e?.name === "AbortError" && !(e.message ?? "").includes("timeout")) {
		return new HubError("Interrupted", ctx.repo, `${what}: interrupted`, undefined, { cause: err });
	}
	const detail = e?.name === "TimeoutError" ? "no answer in time" : (e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err));
	return new HubError(
		"Network",
		ctx.repo,
		`${what}: cannot reach ${ctx.endpoint} (${detail}); check the network or HF_ENDPOINT, or use --offline for cached models`,
		undefined,
		{ cause: err },
	);
}

/**
 * An error out of an @huggingface/hub call: ours (thrown by the fetch below) as it is; an abort as Interrupted;
 * anything else is the library refusing what the Hub sent (a malformed answer).
 */
export function asHubError(err: unknown, ctx: HubRequestContext, what: string): HubError {
	if (err instanceof HubError) return err;
	const e = err as Error;
	if (e?.name === "AbortError") return new HubError("Interrupted", ctx.repo, `${what}: interrupted`, undefined, { cause: err });
	return new HubError(
		"InvalidResponse",
		ctx.repo,
		`${what}: unexpected answer from ${ctx.endpoint}: ${e?.message ?? String(err)}`,
		undefined,
		{ cause: err },
	);
}

/**
 * A `fetch` for @huggingface/hub's functions (their documented `fetch` option): a bounded wait (`timeoutMs`,
 * 0 for none: uploads of large files take as long as they take), and every
 * failing response or network error thrown as a HubError before the library turns it into a generic one
 * (its HubApiError drops `X-Error-Code`, which is what tells a gated repo from a missing one).
 */
export function createHubFetch(
	ctx: HubRequestContext,
	what: string,
	opts: { signal?: AbortSignal; timeoutMs?: number } = {},
): typeof fetch {
	const timeoutMs = opts.timeoutMs ?? METADATA_TIMEOUT_MS;
	return async (input, init) => {
		const signals = [
			...(timeoutMs > 0 ? [AbortSignal.timeout(timeoutMs)] : []),
			...(opts.signal !== undefined ? [opts.signal] : []),
			...(init?.signal ? [init.signal] : []),
		];
		let res: Response;
		try {
			res = await fetch(input, { ...init, signal: AbortSignal.any(signals) });
		} catch (err) {
			throw networkError(err, ctx, what);
		}
		if (!res.ok) throw await hubErrorFromResponse(res, ctx, what);
		return res;
	};
}
