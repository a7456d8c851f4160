"""
Writes test/fixtures/mergekit-compat/<method>.json: small random tensors in bfloat16, float16 and float32, the
parameters of a recipe, and what mergekit computes for them (reference.py). lm-merge's compat tests replay every
case and compare bit for bit.

    apt-get install python3-torch libopenblas0-pthread     # Debian: torch 1.13 and numpy 1.24 for /usr/bin/python3
    /usr/bin/python3 scripts/mergekit-compat/generate.py   # from the repository root

The output is deterministic for a given torch build (torch.manual_seed per case). Tensors are stored as the
little-endian bytes of their dtype, base64-encoded; DARE and DELLA cases also store the masks torch.bernoulli drew
(and DELLA the keep probabilities), since lm-merge draws its own masks from its seeded streams.
"""

from __future__ import annotations

import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref  # noqa: E402
from fixture_io import OUT, Cases, cast, encode, name_of, tensors  # noqa: E402

def gen_linear():
    c = Cases("linear")
    for i, (dt, ws, norm, n) in enumerate([
        (torch.bfloat16, [0.3, 0.5, 0.2], True, 3),
        (torch.float16, [0.7, 0.6], False, 2),
        (torch.float32, [0.3, 0.45, 0.25], True, 3),
        (torch.bfloat16, [1.3, -0.35], True, 2),
    ]):
        base, models = tensors(100 + i, (12, 20), dt, n - 1, spread=0.02)
        xs = [base] + models
        out = ref.linear(xs, ws, norm)
        c.add(f"linear-{name_of(dt)}-{n}models", dt, None, xs, {"normalize": norm}, [{"weight": w} for w in ws], out)
    # float32 files merged with dtype: bfloat16 (cast on load)
    base, models = tensors(110, (40,), torch.bfloat16, 1, stored="float32")
    xs = [base] + models
    out = ref.linear(cast(xs, torch.bfloat16), [0.6, 0.4], True)
    c.add("linear-bfloat16-from-float32", torch.bfloat16, None, xs, {"normalize": True}, [{"weight": 0.6}, {"weight": 0.4}], out, input_dtype="float32")
    c.write()


def gta_case(c, name, seed, dt, shape, n, kind, consensus, weights, densities, params, extra_mp=None, stored=None):
    base, models = tensors(seed, shape, dt, n, stored=stored)
    if stored is not None:
        b_, ms_ = base.to(dt), cast(models, dt)
    else:
        b_, ms_ = base, models
    gammas = [mp.get("gamma", 0.01) for mp in (extra_mp or [{}] * n)]
    epsilons = [mp.get("epsilon", 0.15) for mp in (extra_mp or [{}] * n)]
    masks, probs = None, None
    extra = {}
    if kind in ("random", "della_magprune"):
        torch.manual_seed(seed)
        masks, probs = [], []
        for m, x in enumerate(ms_):
            d = x - b_
            if kind == "random":
                p = ref.bernoulli_probability(d, densities[m])
            else:
                p = ref.della_probabilities(d, densities[m], epsilons[m])
                probs.append(p)
            masks.append(torch.bernoulli(p.float()).to(torch.bool).reshape(d.shape))
        extra["masks"] = [encode(mk) for mk in masks]
        if probs:
            extra["probabilities"] = [{"dtype": name_of(p.dtype), "data": encode(p)} for p in probs]
    out = ref.task_vectors_merge(
        b_, ms_, weights, sparsify=kind, consensus=consensus, normalize=params.get("normalize", False),
        lam=params.get("lambda", 1.0), rescale=params.get("rescale", False), densities=densities, gammas=gammas,
        epsilons=epsilons, masks=masks,
    )
    mps = []
    for m in range(n):
        mp = {"weight": weights[m]}
        if densities is not None:
            mp["density"] = densities[m]
        if extra_mp:
            mp.update(extra_mp[m])
        mps.append(mp)
    c.add(name, dt, base, models, params, mps, out, extra, input_dtype=stored)


def gen_task_arithmetic():
    c = Cases("task_arithmetic")
    gta_case(c, "ta-bfloat16-lambda", 200, torch.bfloat16, (12, 20), 2, None, False, [0.7, 0.4], None, {"normalize": False, "lambda": 0.9})
    gta_case(c, "ta-float16-normalize", 201, torch.float16, (12, 20), 2, None, False, [0.3, 0.6], None, {"normalize": True})
    gta_case(c, "ta-float32-3models", 202, torch.float32, (40,), 3, None, False, [0.5, 0.3, 0.3], None, {"normalize": False, "lambda": 1.3})
    gta_case(c, "ta-bfloat16-from-float32", 203, torch.bfloat16, (12, 20), 2, None, False, [0.6, 0.45], None, {"normalize": True}, stored="float32")
    c.write()


def gen_ties():
    c = Cases("ties")
    gta_case(c, "ties-bfloat16-2models", 300, torch.bfloat16, (12, 20), 2, "magnitude", True, [0.5, 0.3], [0.5, 0.3], {"normalize": True})
    gta_case(c, "ties-bfloat16-3models", 301, torch.bfloat16, (12, 20), 3, "magnitude", True, [0.7, 0.3, 0.45], [0.4, 0.6, 0.55], {"normalize": True})
    gta_case(c, "ties-float16-2models", 302, torch.float16, (12, 20), 2, "magnitude", True, [0.5, 0.35], [0.5, 0.7], {"normalize": True})
    gta_case(c, "ties-bfloat16-1d-lambda", 303, torch.bfloat16, (40,), 2, "magnitude", True, [0.6, 0.6], [0.35, 0.5], {"normalize": False, "lambda": 0.7})
    gta_case(c, "ties-bfloat16-rescale", 304, torch.bfloat16, (12, 20), 2, "magnitude", True, [0.5, 0.3], [0.3, 0.6], {"normalize": True, "rescale": True})
    gta_case(c, "ties-float32-2models", 305, torch.float32, (12, 20), 2, "magnitude", True, [0.5, 0.3], [0.5, 0.3], {"normalize": True})
    gta_case(c, "ties-bfloat16-1model", 306, torch.bfloat16, (12, 20), 1, "magnitude", True, [0.5], [0.5], {"normalize": True})
    gta_case(c, "ties-float16-negative-weight", 307, torch.float16, (40,), 2, "magnitude", True, [0.8, -0.3], [0.6, 0.6], {"normalize": False})
    c.write()


def gen_breadcrumbs():
    for method, consensus in (("breadcrumbs", False), ("breadcrumbs_ties", True)):
        c = Cases(method)
        gta_case(c, f"{method}-bfloat16", 400, torch.bfloat16, (12, 20), 2, "magnitude_outliers", consensus, [0.6, 0.5], [0.7, 0.5], {"normalize": consensus}, extra_mp=[{"gamma": 0.1}, {"gamma": 0.05}])
        gta_case(c, f"{method}-float16", 401, torch.float16, (12, 20), 2, "magnitude_outliers", consensus, [0.6, 0.5], [0.6, 0.8], {"normalize": False}, extra_mp=[{"gamma": 0.02}, {"gamma": 0.1}])
        # gamma·N < 1: mergekit's slice [n_bot:-0] is empty and the task vector is zeroed
        gta_case(c, f"{method}-bfloat16-ntop0", 402, torch.bfloat16, (40,), 2, "magnitude_outliers", consensus, [0.5, 0.5], [0.5, 0.5], {"normalize": False}, extra_mp=[{"gamma": 0.01}, {"gamma": 0.1}])
        c.write()


def gen_dare():
    for method, consensus in (("dare_ties", True), ("dare_linear", False)):
        c = Cases(method)
        gta_case(c, f"{method}-bfloat16-l1", 500, torch.bfloat16, (12, 20), 2, "random", consensus, [0.5, 0.4], [0.5, 0.3], {"rescale": True, "normalize": False})
        gta_case(c, f"{method}-float16-l1", 501, torch.float16, (12, 20), 2, "random", consensus, [0.5, 0.4], [0.7, 0.3], {"rescale": True, "normalize": consensus})
        gta_case(c, f"{method}-bfloat16-inverse-density", 502, torch.bfloat16, (12, 20), 2, "random", consensus, [0.5, 0.4], [0.3, 0.7], {"rescale": "inverse_density", "normalize": False})
        gta_case(c, f"{method}-float16-no-rescale", 503, torch.float16, (40,), 2, "random", consensus, [0.6, 0.4], [0.5, 0.5], {"rescale": False, "normalize": False, "lambda": 1.2})
        c.write()


def gen_della():
    for method, consensus in (("della", True), ("della_linear", False)):
        c = Cases(method)
        gta_case(c, f"{method}-bfloat16", 600, torch.bfloat16, (12, 20), 2, "della_magprune", consensus, [0.5, 0.4], [0.5, 0.4], {"rescale": True, "normalize": consensus}, extra_mp=[{"epsilon": 0.15}, {"epsilon": 0.1}])
        gta_case(c, f"{method}-float16", 601, torch.float16, (12, 20), 2, "della_magprune", consensus, [0.5, 0.4], [0.6, 0.3], {"rescale": True, "normalize": False}, extra_mp=[{"epsilon": 0.2}, {"epsilon": 0.15}])
        gta_case(c, f"{method}-bfloat16-1d-wide", 602, torch.bfloat16, (300,), 2, "della_magprune", consensus, [0.5, 0.5], [0.5, 0.45], {"rescale": False, "normalize": False}, extra_mp=[{"epsilon": 0.15}, {"epsilon": 0.15}])
        c.write()


def gen_sce():
    c = Cases("sce")
    for i, (dt, topk, n, shape) in enumerate([
        (torch.bfloat16, 1.0, 2, (12, 20)),
        (torch.bfloat16, 0.5, 3, (12, 20)),
        (torch.float16, 0.3, 2, (12, 20)),
        (torch.float32, 0.6, 3, (40,)),
    ]):
        base, models = tensors(700 + i, shape, dt, n)
        out = ref.sce(base, models, topk)
        c.add(f"sce-{name_of(dt)}-topk{topk}", dt, base, models, {"select_topk": topk}, [{} for _ in models], out)
    c.write()


def gen_model_stock():
    c = Cases("model_stock")
    for i, (dt, n, fw, shape) in enumerate([
        (torch.bfloat16, 2, False, (12, 20)),
        (torch.bfloat16, 3, True, (12, 20)),
        (torch.float16, 2, False, (12, 20)),
        (torch.float16, 3, True, (40,)),
    ]):
        base, models = tensors(800 + i, shape, dt, n, spread=0.01)
        out = ref.model_stock(base, models, fw)
        c.add(f"model_stock-{name_of(dt)}-{n}models-fw{int(fw)}", dt, base, models, {"filter_wise": fw}, [{} for _ in models], out)
    c.write()


def gen_nearswap():
    c = Cases("nearswap")
    for i, (dt, t) in enumerate([(torch.bfloat16, 0.005), (torch.float16, 0.01), (torch.bfloat16, 0.3)]):
        base, models = tensors(900 + i, (12, 20), dt, 1)
        models[0].view(-1)[:7] = base.view(-1)[:7]  # equal entries: 1/0 → inf → 1
        out = ref.nearswap(base, models[0], t)
        c.add(f"nearswap-{name_of(dt)}-t{t}", dt, base, models, {"t": t}, [{}], out)
    c.write()


def gen_arcee_fusion():
    c = Cases("arcee_fusion")
    # (64, 100): rows longer than a vector with a 4-element tail, so the softmax's lane order is exercised
    for i, (dt, shape) in enumerate([(torch.bfloat16, (12, 20)), (torch.bfloat16, (40,)), (torch.float16, (12, 20)), (torch.float32, (12, 20)), (torch.bfloat16, (64, 100))]):
        base, models = tensors(1000 + i, shape, dt, 1, spread=0.02)
        out = ref.arcee_fusion(base, models[0])
        c.add(f"arcee_fusion-{name_of(dt)}-{'x'.join(map(str, shape))}", dt, base, models, {}, [{}], out)
    c.write()


def gen_slerp():
    c = Cases("slerp")
    for i, (dt, t, independent) in enumerate([
        (torch.bfloat16, 0.3, True),
        (torch.float16, 0.5, True),
        (torch.bfloat16, 0.7, False),
        (torch.float32, 0.25, True),
        (torch.bfloat16, 0.4, "colinear"),
    ]):
        base, models = tensors(1100 + i, (12, 20), dt, 1, independent=independent is True, spread=0.01)
        if independent == "colinear":
            models = [(base.float() * 1.01).to(dt)]
        out = ref.slerp(t, base, models[0])
        c.add(f"slerp-{name_of(dt)}-t{t}" + ("-lerp" if independent == "colinear" else ""), dt, base, models, {"t": t}, [{}], out)
    c.write()


def gen_nuslerp():
    c = Cases("nuslerp")
    for i, (dt, ws, with_base, row_wise, flatten) in enumerate([
        (torch.bfloat16, [0.6, 0.4], True, False, True),
        (torch.bfloat16, [0.3, 0.7], False, False, True),
        (torch.bfloat16, [0.5, 0.5], True, False, False),
        (torch.float16, [0.2, 0.6], True, True, False),
        (torch.float16, [0.5, 0.25], False, False, False),
    ]):
        base, models = tensors(1200 + i, (12, 20), dt, 2, independent=not with_base, spread=0.02)
        out = ref.nuslerp(models, ws, base if with_base else None, row_wise, flatten)
        params = {"nuslerp_row_wise": row_wise, "nuslerp_flatten": flatten}
        c.add(f"nuslerp-{name_of(dt)}-base{int(with_base)}-rw{int(row_wise)}-fl{int(flatten)}", dt, base if with_base else None, models, params, [{"weight": w} for w in ws], out)
    c.write()


def gen_multislerp():
    c = Cases("multislerp")
    for i, (dt, ws, with_base, n) in enumerate([
        (torch.bfloat16, [0.5, 0.3, 0.2], True, 3),
        (torch.bfloat16, [0.6, 0.4], False, 2),
        (torch.float16, [1.0, 2.0, 1.0], True, 3),
        (torch.float32, [0.3, 0.7], True, 2),
    ]):
        base, models = tensors(1300 + i, (12, 20), dt, n, independent=not with_base, spread=0.02)
        out = ref.multislerp(models, ws, base if with_base else None)
        c.add(f"multislerp-{name_of(dt)}-{n}models-base{int(with_base)}", dt, base if with_base else None, models, {"normalize_weights": True, "eps": 1e-8}, [{"weight": w} for w in ws], out)
    c.write()


def gen_karcher():
    c = Cases("karcher")
    # (64, 100): float32 norms over 6400 values, where their summation order shows in the result
    for i, (dt, n, with_base, shape) in enumerate([(torch.bfloat16, 3, False, (12, 20)), (torch.bfloat16, 2, True, (12, 20)), (torch.float16, 3, True, (12, 20)),
                                                   (torch.float32, 2, False, (12, 20)), (torch.bfloat16, 2, True, (64, 100))]):
        base, models = tensors(1400 + i, shape, dt, n, spread=0.02, independent=not with_base)
        inputs = models + ([base] if with_base else [])  # a base is one more input, placed last
        out = ref.karcher(inputs, 10, 1e-5)
        c.add(f"karcher-{name_of(dt)}-{n}models-base{int(with_base)}-{'x'.join(map(str, shape))}", dt, base if with_base else None, models, {"max_iter": 10, "tol": 1e-5}, [{} for _ in models], out)
    c.write()


def gen_passthrough():
    c = Cases("passthrough")
    for i, (dt, scale) in enumerate([(torch.bfloat16, 0.3), (torch.float16, 0.7)]):
        base, _ = tensors(1500 + i, (12, 20), dt, 0)
        out = ref.passthrough(base, scale)
        c.add(f"passthrough-{name_of(dt)}-scale{scale}", dt, None, [base], {}, [{"scale": scale}], out)
    c.write()


def gen_reductions():
    """torch's own float32 norms (linalg.vector_norm of x.float(), as karcher takes them) of bf16 vectors of many
    lengths: checks the summation order lm-merge reproduces (8 lanes, then the tail)."""
    doc = {"generator": "scripts/mergekit-compat/generate.py", "torch": torch.__version__, "norms": []}
    g = torch.Generator().manual_seed(1600)
    for n in (1, 7, 8, 9, 20, 100, 1000, 4099, 20000):
        x = (torch.randn(n, generator=g) * 0.05).to(torch.bfloat16)
        doc["norms"].append({"values": encode(x), "norm": encode(torch.linalg.vector_norm(x.float()).reshape(1))})
    with open(os.path.join(OUT, "reductions.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    torch.set_num_threads(1)
    for gen in (gen_linear, gen_task_arithmetic, gen_ties, gen_breadcrumbs, gen_dare, gen_della, gen_sce, gen_model_stock,
                gen_nearswap, gen_arcee_fusion, gen_slerp, gen_nuslerp, gen_multislerp, gen_karcher, gen_passthrough, gen_reductions):
        gen()
    print(f"wrote fixtures to {os.path.normpath(OUT)}")
