/**
 * What a merge does when a tensor it is about to write holds NaN or ±Infinity (issue 12, item 10). The encoders
 * notice such values on the way (encodeChecked, the compiled encode_bf16), and the writer calls the guard before
 * the bytes reach the file. The guard then looks at the tensor's inputs:
 *
 * - every input finite: the method produced the value (an overflow: huge weights with `normalize: false`, or a value
 *   beyond the output dtype such as 70000 in float16). That is an error naming the tensor, the method, the element
 *   and the value; the merge stops and its partial output is removed (or kept for --resume), never left complete.
 * - some input already holds NaN or ±Infinity: the output's values follow from the checkpoint itself, not from the
 *   merge, and mergekit would write them. They are written as they are, with one warning per tensor naming it.
 *   (A passthrough copy of such a tensor is a byte copy and is never checked at all.)
 */
import { MethodError } from "../errors.js";
import type { NonFiniteAt } from "../io/convert.js";
import { dtypeBytes, type FloatDtype, isFloatDtype, torchDtypeName } from "../io/dtypes.js";
import type { TensorSource } from "../io/types.js";

/** Bytes of an input read at a time while looking for NaN / ±Inf in it (only after the output held one). */
const SCAN_BYTES = 16 * 2 ** 20;

/** Largest finite value of each 16-bit dtype, for the error message. */
const LARGEST: Partial<Record<FloatDtype, string>> = { F16: "65504", BF16: "3.39e38" };

interface GuardedJob {
	/** The output tensor's name and the method's, for messages. */
	tensor: string;
	method: string;
	dtype: FloatDtype;
	/** The tensor's inputs (base first), as sources and tensor names. */
	inputs: Array<{ source: TensorSource; tensor: string }>;
	warn(message: string): void;
}

export class FiniteGuard {
	private inputScan: Promise<string | undefined> | undefined;
	private warned = false;

	constructor(private readonly job: GuardedJob) {}

	/** The writer's onNonFinite: throws MethodError kind "Numerical" unless an input explains the value. */
	readonly onNonFinite = async (at: NonFiniteAt): Promise<void> => {
		const { tensor, method, dtype } = this.job;
		this.inputScan ??= this.findNonFiniteInput();
		const source = await this.inputScan;
		const what = Number.isFinite(at.value)
			? `${at.value}, which is beyond the largest ${torchDtypeName(dtype)} value (${LARGEST[dtype] ?? "?"}) ` +
				`and becomes ${at.value > 0 ? "+" : "-"}Infinity,`
			: describe(at.value);
		if (source !== undefined) {
			if (!this.warned)
				this.job.warn(
					`tensor "${tensor}": the output holds non-finite values (${describe(at.value)} at element ${at.index}) ` +
						`because its input ${source} does; written as they are`,
				);
			this.warned = true;
			return;
		}
		const hint = Number.isFinite(at.value)
			? `write it as bfloat16 or float32 (the recipe's dtype / out_dtype)`
			: "check the recipe's weights and scales (with normalize: false, large weights overflow)";
		throw new MethodError(
			"Numerical",
			method,
			`tensor "${tensor}": the merge produced ${what} at element ${at.index}, although every input is finite; ${hint}`,
		);
	};

	/** The first input holding NaN or ±Inf, described ("tensor \"x\" of /path"), or undefined when all are finite. */
	private async findNonFiniteInput(): Promise<string | undefined> {
		for (const { source, tensor } of this.job.inputs) {
			const info = source.info(tensor);
			if (!isFloatDtype(info.dtype)) continue;
			const step = SCAN_BYTES - (SCAN_BYTES % dtypeBytes(info.dtype));
			for (let from = 0; from < info.byteLength; from += step) {
				const bytes = await source.readRaw(tensor, from, Math.min(info.byteLength, from + step));
				if (holdsNonFinite(bytes, info.dtype)) return `"${tensor}" of ${source.location}`;
			}
		}
		return undefined;
	}
}

function describe(v: number): string {
	return Number.isNaN(v) ? "NaN" : v > 0 ? "+Infinity" : "-Infinity";
}

/** Whether little-endian `dtype` data holds a NaN or an infinity (exponent bits all ones), read byte by byte. */
function holdsNonFinite(bytes: Uint8Array, dtype: FloatDtype): boolean {
	// The byte holding the top of the exponent, and the masks of the exponent bits in it and in the byte below.
	const [size, hiMask, loMask] =
		dtype === "F64" ? [8, 0x7f, 0xf0] : dtype === "F32" ? [4, 0x7f, 0x80] : dtype === "BF16" ? [2, 0x7f, 0x80] : [2, 0x7c, 0];
	for (let i = size - 1; i < bytes.length; i += size) {
		if ((bytes[i]! & hiMask) === hiMask && (bytes[i - 1]! & loMask) === loMask) return true;
	}
	return false;
}
