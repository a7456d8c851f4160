/**
 * Every dtype the safetensors format defines, with its size in bits. The reader accepts all of them
 * (inspect, passthrough copies); only the float ones decode to float32 for merging.
 */
export const DTYPES = {
	BOOL: { bits: 8, float: false },
	U8: { bits: 8, float: false },
	I8: { bits: 8, float: false },
	F4: { bits: 4, float: false },
	F6_E2M3: { bits: 6, float: false },
	F6_E3M2: { bits: 6, float: false },
	F8_E5M2: { bits: 8, float: false },
	F8_E4M3: { bits: 8, float: false },
	F8_E8M0: { bits: 8, float: false },
	F8_E4M3FNUZ: { bits: 8, float: false },
	F8_E5M2FNUZ: { bits: 8, float: false },
	I16: { bits: 16, float: false },
	U16: { bits: 16, float: false },
	F16: { bits: 16, float: true },
	BF16: { bits: 16, float: true },
	I32: { bits: 32, float: false },
	U32: { bits: 32, float: false },
	F32: { bits: 32, float: true },
	C64: { bits: 64, float: false },
	F64: { bits: 64, float: true },
	I64: { bits: 64, float: false },
	U64: { bits: 64, float: false },
} as const satisfies Record<string, { bits: number; float: boolean }>;

/** A safetensors dtype name as it appears in file headers (`"BF16"`, `"F32"`, `"I64"`, ...). */
export type Dtype = keyof typeof DTYPES;

/** The float dtypes that decode to / encode from float32 (merge inputs and outputs). */
export type FloatDtype = "F64" | "F32" | "F16" | "BF16";

export function isDtype(s: string): s is Dtype {
	return Object.hasOwn(DTYPES, s);
}

export function isFloatDtype(d: Dtype): d is FloatDtype {
	return DTYPES[d].float;
}

/** Bytes per element, for whole-byte dtypes. */
export function dtypeBytes(d: Dtype): number {
	return DTYPES[d].bits / 8;
}

/** Recipe / CLI names (`bfloat16`, `torch.float16`, `F32`, ...) → safetensors dtype. */
export function parseDtypeName(name: string): FloatDtype | undefined {
	const n = name
		.trim()
		.replace(/^torch\./, "")
		.toLowerCase();
	switch (n) {
		case "bfloat16":
		case "bf16":
			return "BF16";
		case "float16":
		case "fp16":
		case "f16":
		case "half":
			return "F16";
		case "float32":
		case "fp32":
		case "f32":
		case "float":
			return "F32";
		case "float64":
		case "f64":
		case "double":
			return "F64";
		default:
			return undefined;
	}
}

/** safetensors dtype → the `torch_dtype` string written in config.json. */
export function torchDtypeName(d: FloatDtype): string {
	return { BF16: "bfloat16", F16: "float16", F32: "float32", F64: "float64" }[d];
}
