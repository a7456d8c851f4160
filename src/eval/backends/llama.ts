import { EvalError } from "../../errors.js";
import type { BackendLoadOptions, ForwardBackend } from "./types.js";

export async function loadLlamaBackend(_model: string, _opts: BackendLoadOptions): Promise<ForwardBackend> {
	throw new EvalError("Backend", "the llama backend is not built yet");
}
