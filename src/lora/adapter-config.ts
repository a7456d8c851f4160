/**
 * `adapter_config.json` of a PEFT LoRA adapter: the keys that decide how its weights apply (r, lora_alpha,
 * rank_pattern, alpha_pattern, use_rslora, fan_in_fan_out) and the ones that select features lm-merge refuses rather
 * than apply wrongly (DoRA, LoRA biases, layer replication, other PEFT types). Defaults are PEFT's LoraConfig defaults.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { LoraError } from "../errors.js";

const ADAPTER_CONFIG_FILE = "adapter_config.json";

/** PEFT's defaults when a key is absent (peft/tuners/lora/config.py: r=8, lora_alpha=8). */
const DEFAULT_RANK = 8;
const DEFAULT_ALPHA = 8;

/** The parts of an adapter config that matter for applying it. */
export interface AdapterConfig {
	r: number;
	loraAlpha: number;
	/** Module-name regex → rank, matched as PEFT does: the first key whose `(.*\.)?(key)$` matches the whole name. */
	rankPattern: Array<[string, RegExp, number]>;
	alphaPattern: Array<[string, RegExp, number]>;
	useRslora: boolean;
	/** The target layer stores its weight as (in, out), like GPT-2's Conv1D. */
	fanInFanOut: boolean;
	targetModules: string[] | string | undefined;
	modulesToSave: string[];
	baseModelNameOrPath: string | undefined;
	/** The JSON as written. */
	raw: Record<string, unknown>;
}

/** Reads and checks `<dir>/adapter_config.json`. Throws LoraError "InvalidConfig" or "Unsupported". */
export async function readAdapterConfig(dir: string): Promise<AdapterConfig> {
	const file = join(dir, ADAPTER_CONFIG_FILE);
	let text: string;
	try {
		text = await readFile(file, "utf8");
	} catch (err) {
		throw new LoraError(
			"InvalidConfig",
			dir,
			`no readable ${ADAPTER_CONFIG_FILE} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): ` +
				`a LoRA adapter folder holds adapter_config.json and adapter_model.safetensors`,
		);
	}
	let json: unknown;
	try {
		json = JSON.parse(text);
	} catch (err) {
		throw new LoraError("InvalidConfig", dir, `${ADAPTER_CONFIG_FILE} is not valid JSON: ${(err as Error).message}`);
	}
	return parseAdapterConfig(json, dir);
}

/** Validates a parsed adapter_config.json; `dir` is named in errors. */
function parseAdapterConfig(json: unknown, dir: string): AdapterConfig {
	const bad = (message: string): never => {
		throw new LoraError("InvalidConfig", dir, `${ADAPTER_CONFIG_FILE}: ${message}`);
	};
	const unsupported = (message: string): never => {
		throw new LoraError("Unsupported", dir, `${ADAPTER_CONFIG_FILE}: ${message}`);
	};
	if (typeof json !== "object" || json === null || Array.isArray(json)) return bad("not a JSON object");
	const raw = json as Record<string, unknown>;
	const peftType = raw.peft_type;
	if (peftType !== undefined && peftType !== null && String(peftType).toUpperCase() !== "LORA")
		unsupported(`peft_type ${JSON.stringify(peftType)}: only LoRA adapters are applied`);
	if (raw.use_dora === true) unsupported("use_dora: DoRA adapters are not supported (their magnitude vectors rescale the merged weight)");
	if (raw.lora_bias === true) unsupported("lora_bias: LoRA adapters with a bias on lora_B are not supported");
	if (raw.layer_replication !== undefined && raw.layer_replication !== null) unsupported("layer_replication is not supported");
	const positiveInt = (key: string, v: unknown): number =>
		typeof v === "number" && Number.isSafeInteger(v) && v > 0 ? v : bad(`${key} must be a positive integer, got ${JSON.stringify(v)}`);
	const finite = (key: string, v: unknown): number =>
		typeof v === "number" && Number.isFinite(v) ? v : bad(`${key} must be a number, got ${JSON.stringify(v)}`);
	const bool = (key: string): boolean => {
		const v = raw[key];
		if (v === undefined || v === null) return false;
		return typeof v === "boolean" ? v : bad(`${key} must be true or false, got ${JSON.stringify(v)}`);
	};
	const patterns = (key: string, value: (k: string, v: unknown) => number): Array<[string, RegExp, number]> => {
		const v = raw[key];
		if (v === undefined || v === null) return [];
		if (typeof v !== "object" || Array.isArray(v)) return bad(`${key} must be an object of module pattern → value`);
		return Object.entries(v as Record<string, unknown>).map(([pattern, x]) => {
			let re: RegExp;
			try {
				re = new RegExp(`^(?:.*\\.)?(?:${pattern})$`);
			} catch (err) {
				return bad(`${key}: "${pattern}" is not a valid pattern (${(err as Error).message})`);
			}
			return [pattern, re, value(`${key}["${pattern}"]`, x)];
		});
	};
	const targets = raw.target_modules;
	if (
		targets !== undefined &&
		targets !== null &&
		typeof targets !== "string" &&
		!(Array.isArray(targets) && targets.every((t) => typeof t === "string"))
	) {
		bad("target_modules must be a string or a list of strings");
	}
	const toSave = raw.modules_to_save;
	if (toSave !== undefined && toSave !== null && !(Array.isArray(toSave) && toSave.every((t) => typeof t === "string")))
		bad("modules_to_save must be a list of strings");
	const base = raw.base_model_name_or_path;
	return {
		r: raw.r === undefined ? DEFAULT_RANK : positiveInt("r", raw.r),
		loraAlpha: raw.lora_alpha === undefined ? DEFAULT_ALPHA : finite("lora_alpha", raw.lora_alpha),
		rankPattern: patterns("rank_pattern", positiveInt),
		alphaPattern: patterns("alpha_pattern", finite),
		useRslora: bool("use_rslora"),
		fanInFanOut: bool("fan_in_fan_out"),
		targetModules: (targets ?? undefined) as string[] | string | undefined,
		modulesToSave: (toSave ?? []) as string[],
		baseModelNameOrPath: typeof base === "string" ? base : undefined,
		raw,
	};
}

/** The rank and scale PEFT uses for `module` (its name inside the model, e.g. `model.layers.0.self_attn.q_proj`). */
export function moduleScaling(config: AdapterConfig, module: string): { rank: number; alpha: number; scale: number } {
	const rank = config.rankPattern.find(([, re]) => re.test(module))?.[2] ?? config.r;
	const alpha = config.alphaPattern.find(([, re]) => re.test(module))?.[2] ?? config.loraAlpha;
	return { rank, alpha, scale: config.useRslora ? alpha / Math.sqrt(rank) : alpha / rank };
}
