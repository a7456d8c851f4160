import { MethodError, PlanError } from "../errors.js";
import { suggestName } from "../suggest.js";
import { arceeFusionMethod } from "./arcee-fusion.js";
import { breadcrumbsMethod, breadcrumbsTiesMethod } from "./breadcrumbs.js";
import { dareLinearMethod, dareTiesMethod } from "./dare.js";
import { dellaLinearMethod, dellaMethod } from "./della.js";
import { karcherMethod } from "./karcher.js";
import { linearMethod } from "./linear.js";
import { modelStockMethod } from "./model-stock.js";
import { multislerpMethod } from "./multislerp.js";
import { nearswapMethod } from "./nearswap.js";
import { nuslerpMethod } from "./nuslerp.js";
import { passthroughMethod } from "./passthrough.js";
import { ramMethod, ramplusTlMethod } from "./ram.js";
import { sceMethod } from "./sce.js";
import { slerpMethod } from "./slerp.js";
import { taskArithmeticMethod } from "./task-arithmetic.js";
import { tiesMethod } from "./ties.js";
import type { MergeMethod } from "./types.js";

/** Every built-in method, in the order `merge methods` lists them. The one place a method is registered. */
export const BUILTIN_METHODS: readonly MergeMethod[] = Object.freeze([
	linearMethod,
	slerpMethod,
	nuslerpMethod,
	multislerpMethod,
	karcherMethod,
	taskArithmeticMethod,
	tiesMethod,
	dareTiesMethod,
	dareLinearMethod,
	breadcrumbsMethod,
	breadcrumbsTiesMethod,
	dellaMethod,
	dellaLinearMethod,
	sceMethod,
	modelStockMethod,
	nearswapMethod,
	arceeFusionMethod,
	ramMethod,
	ramplusTlMethod,
	passthroughMethod,
]);

/** A lookup table of merge methods by name. */
export interface MethodRegistry {
	/** The method called `name` (case-insensitive, "-" accepted for "_"); PlanError "UnknownMethod" otherwise. */
	get(name: string): MergeMethod;
	/** Whether a method of that name is registered (same spelling rules as `get`). */
	has(name: string): boolean;
	/** All methods, in registration order. */
	list(): readonly MergeMethod[];
}

/** "Dare-TIES" → "dare_ties". */
function canonical(name: string): string {
	return name.trim().toLowerCase().replaceAll("-", "_");
}

/** Builds a registry from an explicit list (BUILTIN_METHODS, optionally plus your own); duplicate names throw. */
export function createRegistry(methods: readonly MergeMethod[]): MethodRegistry {
	const byName = new Map<string, MergeMethod>();
	for (const method of methods) {
		const key = canonical(method.name);
		if (byName.has(key)) {
			throw new MethodError("InvalidInput", method.name, `a method named "${method.name}" is already registered`);
		}
		byName.set(key, method);
	}
	const list = Object.freeze([...byName.values()]);
	return {
		get(name: string): MergeMethod {
			const found = byName.get(canonical(name));
			if (found !== undefined) return found;
			const names = list.map((m) => m.name);
			const hint = suggestName(canonical(name), names);
			throw new PlanError(
				"UnknownMethod",
				`unknown merge method "${name}"${hint !== undefined ? `; did you mean "${hint}"?` : ""} (available: ${names.join(", ")})`,
			);
		},
		has: (name: string) => byName.has(canonical(name)),
		list: () => list,
	};
}
