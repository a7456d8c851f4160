"""
What mergekit computes for one tensor when a recipe says `dtype: bfloat16` (or float16, float32), written from a
reading of mergekit's merge_methods/*.py and sparsify.py (mergekit 0.1.x) as plain torch code. This is the
independent reference for lm-merge's `compat: mergekit` mode: generate.py runs it on small random tensors and
commits the results as test fixtures (CI has no torch).

Torch version: Debian's torch is 1.13, mergekit runs on torch 2.x; torch2.py spells out torch 2.x's rules where the
two differ (how a Python number meets a bf16/f16 tensor, float32 means and softmax, the sort order at ties), and
every other op is torch's own, so torch decides the rounding of every intermediate.

Randomness (DARE and DELLA masks) cannot be reproduced: callers pass the masks, drawn with torch.bernoulli from
the probabilities this code computes, and the fixtures store them.
"""

from __future__ import annotations

import numpy as np
import torch

from task_vectors import bernoulli_probability, della_probabilities, task_vectors_merge  # noqa: F401 (generate.py)
from torch2 import REDUCED, clamp_, div_s, dot_, ew, mean_, mul_s, narrow, norm_, softmax_, stable_order, sum_, weights_tensor

# --- the other methods ---------------------------------------------------------------------------------------------


def linear(models, weights, normalize=True):
    stacked = torch.stack(models, dim=0)
    w = weights_tensor(weights, stacked.dtype, stacked.dim())
    res = sum_(w * stacked, 0)
    if normalize:
        res = res / sum_(w, 0)
    return res


def slerp(t: float, base: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """slerp.py: numpy float32 throughout (numpy 2 keeps Python numbers float32: NEP 50), cast back at the end."""
    v0 = base.float().numpy()
    v1 = other.float().numpy()
    a, c = v0.copy(), v1.copy()
    tt = np.float32(t)

    def normalize(v):
        n = np.linalg.norm(v)
        return v / n if n > np.float32(1e-8) else v

    v0, v1 = normalize(v0), normalize(v1)
    dot = np.sum(v0 * v1)
    if np.abs(dot) > np.float32(0.9995):
        res = np.float32(1 - t) * a + tt * c
    else:
        theta0 = np.arccos(dot)
        sin0 = np.sin(theta0)
        theta_t = theta0 * tt
        s0 = np.sin(theta0 - theta_t) / sin0
        s1 = np.sin(theta_t) / sin0
        res = s0 * a + s1 * c
    return torch.from_numpy(np.ascontiguousarray(res, dtype=np.float32)).to(base.dtype)


def nuslerp_core(t, v0, v1, row_wise, flatten):
    shape = v0.shape
    dim = 0 if row_wise else -1

    def unit(x):
        return x / clamp_(norm_(x, dim=-1, keepdim=True), lo=1e-7)

    if flatten:
        v0, v1 = v0.reshape(-1), v1.reshape(-1)
    elif dim != -1:
        v0, v1 = v0.transpose(dim, -1), v1.transpose(dim, -1)
    cos = sum_(unit(v0) * unit(v1), -1, keepdim=True)
    theta = ew(torch.acos, clamp_(cos, -1, 1))
    sin_theta = ew(torch.sin, theta)
    colinear = (sin_theta.abs() < narrow(1e-8, sin_theta.dtype)).squeeze()
    res = (ew(torch.sin, mul_s(theta, 1 - t)) * v0 + ew(torch.sin, mul_s(theta, t)) * v1) / sin_theta
    res[colinear] = mul_s(v0[colinear], 1 - t) + mul_s(v1[colinear], t)
    if dim != -1 and not flatten:
        res = res.transpose(dim, -1)
    return res.reshape(shape)


def nuslerp(models, weights, base=None, row_wise=False, flatten=True):
    s = weights[0] + weights[1]
    t = 0.5 if abs(s) < 1e-6 else weights[1] / s
    if base is not None:
        return base + nuslerp_core(t, models[0] - base, models[1] - base, row_wise, flatten)
    return nuslerp_core(t, models[0], models[1], row_wise, flatten)


def multislerp(models, weights, base=None, normalize_weights=True, eps=1e-8):
    if len(models) == 1:
        return models[0]
    stacked = torch.stack(models, dim=0)
    if base is not None:
        stacked = stacked - base
    flat = stacked.reshape(stacked.shape[0], -1)
    w = torch.tensor(weights, dtype=stacked.dtype)
    if normalize_weights:
        w = w / sum_(w)
    norms = norm_(flat, dim=-1, keepdim=True)
    units = flat / (norms + eps)
    mean = sum_(units * w.view(-1, 1), 0)
    mean_norm = norm_(mean)
    if mean_norm.item() < narrow(eps, mean.dtype):
        if stacked.shape[0] == 2:
            res = (stacked[0] * w[0] + stacked[1] * w[1]).reshape(stacked.shape[1:])
            return res + base if base is not None else res
        raise ValueError("weighted directions cancel")
    mean = mean / mean_norm
    dots = sum_(units * mean, -1, keepdim=True)
    tangents = units - dots * mean
    tangent = sum_(tangents * w.view(-1, 1), 0)
    tangent_norm = norm_(tangent) + eps
    res = mean * ew(torch.cos, tangent_norm) + tangent * (ew(torch.sin, tangent_norm) / tangent_norm)
    avg_norm = sum_(norms.squeeze(-1) * w)
    res = (res * avg_norm).reshape(stacked.shape[1:])
    return res + base if base is not None else res


def karcher(tensors, max_iter=10, tol=1e-5):
    if len(tensors) == 1:
        return tensors[0]
    dtype = tensors[0].dtype
    alphas = [1.0 / len(tensors)] * len(tensors)
    norms, units = [], []
    for x in tensors:
        n = torch.linalg.vector_norm(x.float())
        if n.item() == 0.0:
            norms.append(0.0)
            units.append(torch.zeros_like(x))
        else:
            norms.append(n.item())
            units.append(div_s(x, n))
    valid = [i for i, n in enumerate(norms) if n > tol]
    if not valid:
        return torch.zeros_like(tensors[0])
    total = sum(alphas[i] for i in valid)
    va = [alphas[i] / total for i in valid]
    vu = [units[i] for i in valid]
    mean = torch.zeros_like(vu[0])
    for a, u in zip(va, vu):
        mean = mean + mul_s(u, a)
    mean_norm = torch.linalg.vector_norm(mean.float()).item()
    mean = vu[0].clone() if mean_norm < tol else div_s(mean, mean_norm)
    for _ in range(max_iter):
        tangent = torch.zeros_like(mean)
        for a, u in zip(va, vu):
            dot = clamp_(dot_(mean.reshape(-1), u.reshape(-1)), -1.0, 1.0)
            theta = ew(torch.acos, dot)
            if theta.item() < tol:
                continue
            coef = mul_s(theta / ew(torch.sin, theta), a)
            tangent = tangent + coef * (u - dot * mean)
        tn = torch.linalg.vector_norm(tangent.float())
        if tn.item() < tol:
            break
        # cos(tn) and sin(tn) are float32 0-dim tensors in front of a bf16/f16 tensor: rounded to its dtype.
        mean = torch.cos(tn).to(dtype) * mean + torch.sin(tn).to(dtype) * div_s(tangent, tn)
        un = torch.linalg.vector_norm(mean.float())
        if un.item() > tol:
            mean = div_s(mean, un)
    scale = sum(a * n for a, n in zip(alphas, norms))
    return mul_s(mean, scale)


def model_stock(base, models, filter_wise=False):
    shape = base.shape
    if filter_wise:
        w0 = base.unsqueeze(0) if base.dim() == 1 else base
        ws = [w.unsqueeze(0) if w.dim() == 1 else w for w in models]
    else:
        w0 = base.reshape(-1)
        ws = [w.reshape(-1) for w in models]
    offsets = [w - w0 for w in ws]
    cos_thetas = []
    for i in range(len(offsets)):
        for j in range(i + 1, len(offsets)):
            prod = norm_(offsets[i], dim=-1) * norm_(offsets[j], dim=-1)
            cos = clamp_(sum_(offsets[i] * offsets[j], -1) / clamp_(prod, lo=1e-6), -1, 1)
            cos_thetas.append(cos)
    cos_theta = mean_(torch.stack(cos_thetas), 0).unsqueeze(-1)
    n = len(ws)
    t = mul_s(cos_theta, n) / (mul_s(cos_theta, n - 1) + 1)
    w_avg = 0
    for w in ws:
        w_avg = w_avg + w
    w_avg = div_s(w_avg, len(ws))
    return (t * w_avg + (1 - t) * w0).reshape(shape)


def sce(base, models, select_topk=1.0):
    tvs = torch.stack([x - base for x in models], dim=0)
    dtype = base.dtype
    if select_topk < 1:
        var = torch.var(tvs, dim=0, unbiased=False)  # Welford with double accumulators, rounded to the dtype
        nonzero = torch.count_nonzero(var)
        k = int(nonzero * select_topk)
        if k == 0:
            tvs = tvs * torch.zeros_like(tvs)
        else:
            top = stable_order(var.abs().reshape(-1), descending=True)[:k]
            mask = torch.zeros_like(var)
            mask.view(-1)[top] = 1
            tvs = tvs * mask.unsqueeze(0)
    sign = tvs.sign().to(dtype)
    majority = (sum_(tvs, 0) >= 0).to(dtype) * 2 - 1
    erase = sign == majority
    weights = mean_(tvs * tvs, list(range(1, tvs.dim())))
    total = sum_(weights).item()
    if abs(total) < 1e-6:
        weights = div_s(torch.ones_like(weights), weights.shape[0])
    else:
        weights = div_s(weights, total)
    while weights.dim() < tvs.dim():
        weights = weights.unsqueeze(-1)
    erased = weights * erase
    merged = sum_(tvs * erased, 0)
    return base + merged / clamp_(sum_(erased, 0), lo=1e-6)


def nearswap(base, other, t):
    lw = (base - other).abs()
    lw = mul_s(lw.reciprocal(), t)  # `t / lw` is lw.reciprocal() * t in torch's Tensor.__rtruediv__
    lw = torch.nan_to_num(lw, nan=1.0, posinf=1.0, neginf=1.0)
    lw = clamp_(lw, 0.0, 1.0)
    return (lw * other + (1 - lw) * base).to(base.dtype)


def arcee_fusion(base, other):
    diff = (other - base).abs()
    p = softmax_(other, -1) + 1e-8
    q = softmax_(base, -1) + 1e-8
    kl = sum_(p * ew(torch.log, p / q), -1)
    importance = diff * kl.unsqueeze(-1)
    flat = importance.reshape(-1)
    ordered = torch.sort(flat.float()).values.to(flat.dtype)
    at = (torch.tensor([0.25, 0.5, 0.75]) * (flat.numel() - 1)).long()
    q1, median, q3 = ordered[at]
    threshold = median + mul_s(q3 - q1, 1.5)
    mask = (importance >= threshold).float()
    return base + (other - base) * mask  # float32: the float mask promotes the result (mergekit issue #604)


def passthrough(x, scale=None):
    return x if scale is None else mul_s(x, scale)
