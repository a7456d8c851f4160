import { EvaluationError } from "../../errors.js";
import { loadTfjsBackend } from "./tfjs.js";
import type { BackendLoader, BackendName } from "./types.js";

/**
 * The one list of evaluation backends. The llama backend is imported only when chosen: it pulls in
 * node-llama-cpp and the GGUF exporter, which a tfjs run never needs.
 */
const LOADERS: Record<BackendName, () => Promise<BackendLoader>> = {
	tfjs: async () => loadTfjsBackend,
	llama: async () => (await import("./llama.js")).loadLlamaBackend,
};

const BACKEND_NAMES = Object.keys(LOADERS) as BackendName[];

function isBackendName(s: string): s is BackendName {
	return Object.hasOwn(LOADERS, s);
}

/** The loader of backend `name`; an unknown name is EvaluationError "Config" listing the known ones. */
export async function backendLoader(name: string): Promise<BackendLoader> {
	if (!isBackendName(name)) throw new EvaluationError("Config", `unknown backend "${name}"; use one of ${BACKEND_NAMES.join(", ")}`);
	return LOADERS[name]();
}
