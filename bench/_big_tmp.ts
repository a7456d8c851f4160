import { readFileSync } from "node:fs";
import { decodeToF32 } from "../src/io/convert.js";
import { runCompat } from "../src/methods/compat/registry.js";
import { rngKey } from "../src/tensor/rng.js";
const doc = JSON.parse(readFileSync("/tmp/i12c/big/big.json", "utf8"));
const D: Record<string, "BF16" | "F16" | "F32"> = { bfloat16: "BF16", float16: "F16", float32: "F32" };
const dec = (b: string, d: string) => { const x = Buffer.from(b, "base64"); return decodeToF32(new Uint8Array(x.buffer, x.byteOffset, x.byteLength), D[d]! as never); };
for (const c of doc.cases) {
  if (process.argv[2] && !c.name.startsWith(process.argv[2])) continue;
  const dt = D[c.dtype]!;
  const out = runCompat(c.method, { tensorName: c.name, shape: c.shape, base: dec(c.base, c.inputDtype), models: c.models.map((m: string) => dec(m, c.inputDtype)), params: c.params, modelParams: c.modelParams }, dt, { seed: 0, rngKey: (m, p = 0) => rngKey(0, "x", m, p), warn: () => {} });
  const want = dec(c.expected.data, c.expected.dtype);
  let diff = 0;
  for (let i = 0; i < want.length; i++) if (out[i] !== want[i] && !(Number.isNaN(out[i]!) && Number.isNaN(want[i]!))) diff++;
  console.log(c.name.padEnd(20), `${diff}/${want.length}`);
}
