"""
The fixture format of generate.py: tensors as base64 little-endian bytes of their dtype, one JSON file per method
(test/helpers/mergekit-fixtures.ts reads it), and the random inputs each case starts from.
"""

from __future__ import annotations

import base64
import json
import os

import numpy as np
import torch

DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "fixtures", "mergekit-compat")


def encode(t: torch.Tensor) -> str:
    t = t.contiguous().reshape(-1)
    if t.dtype in (torch.bfloat16, torch.float16):
        raw = t.view(torch.int16).numpy().astype("<i2").tobytes()
    elif t.dtype == torch.float32:
        raw = t.numpy().astype("<f4").tobytes()
    elif t.dtype == torch.bool:
        raw = t.to(torch.uint8).numpy().tobytes()
    else:
        raise TypeError(t.dtype)
    return base64.b64encode(raw).decode("ascii")


def name_of(dtype: torch.dtype) -> str:
    return {v: k for k, v in DTYPES.items()}[dtype]


def tensors(seed, shape, dtype, count, spread=0.01, scale=0.05, independent=False, stored=None):
    """A base and `count` models: close to the base (many equal bf16 deltas), or independent draws."""
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(shape, generator=g) * scale
    models = [torch.randn(shape, generator=g) * scale if independent else base + torch.randn(shape, generator=g) * spread for _ in range(count)]
    store = DTYPES[stored] if stored is not None else dtype
    return base.to(store), [m.to(store) for m in models]


class Cases:
    def __init__(self, method: str):
        self.method = method
        self.cases: list[dict] = []

    def add(self, name, dtype, base, models, params, model_params, output, extra=None, input_dtype=None):
        case = {
            "name": name,
            "dtype": name_of(dtype),
            "inputDtype": input_dtype or name_of(dtype),
            "shape": list(models[0].shape),
            "params": params,
            "modelParams": model_params,
            "base": None if base is None else encode(base),
            "models": [encode(m) for m in models],
            "expected": {"dtype": name_of(output.dtype), "data": encode(output)},
        }
        if extra:
            case.update(extra)
        self.cases.append(case)

    def write(self):
        os.makedirs(OUT, exist_ok=True)
        doc = {
            "method": self.method,
            "generator": "scripts/mergekit-compat/generate.py",
            "torch": torch.__version__,
            "numpy": np.__version__,
            "cases": self.cases,
        }
        with open(os.path.join(OUT, f"{self.method}.json"), "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")


def cast(xs, dtype):
    return [x.to(dtype) for x in xs]
