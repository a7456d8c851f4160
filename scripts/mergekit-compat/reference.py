"""
What mergekit computes for one tensor when a recipe says `dtype: bfloat16` (or float16, float32), written from a
reading of mergekit's merge_methods/*.py and sparsify.py (mergekit 0.1.x) as plain torch code. This is the
independent reference for lm-merge's `compat: mergekit` mode: generate.py runs it on small random tensors and
commits the results as test fixtures (CI has no torch).

Torch version. Debian bookworm ships torch 1.13; mergekit runs on torch 2.x, which changed how a Python number
meets a bfloat16/float16 tensor and how a few reductions round. Where the two differ, the helpers below spell
out torch 2.x's rule with explicit float32 arithmetic (each helper says which torch 2.x kernel it stands for);
everything else is torch's own op, so torch decides the rounding of every intermediate:

  * elementwise ops on bfloat16/float16 tensors compute in float32 and round once to the tensor's dtype;
  * `tensor * python_float` and `tensor / python_float` (mul_kernel / div_true_kernel, reduced-float branch) use
    the number as float32, not rounded to the tensor's dtype (torch 1.13 rounds it first);
  * `tensor + python_float`, comparisons and clamp bounds round the number to the tensor's dtype (both versions);
  * sum, mean, norm, dot and softmax accumulate in float32 and round once (torch 1.13 rounds a bfloat16 mean's
    sum before dividing, has no float16 softmax/clamp/exp on CPU and accumulates a bfloat16 dot in bfloat16);
    the reduced-float softmax is spelled out in the order of torch 2.x's kernel (lane_tree_sum);
  * sorts: mergekit's argsort/topk are not stable; on CUDA torch's radix sort keeps equal keys in index order,
    on CPU the order depends on the build (std::sort, x86-simd-sort). The reference uses the index order.

Randomness (DARE and DELLA masks) cannot be reproduced: callers pass the masks, drawn with torch.bernoulli from
the probabilities this code computes, and the fixtures store them.
"""

from __future__ import annotations

import numpy as np
import torch

BF16, F16, F32 = torch.bfloat16, torch.float16, torch.float32
REDUCED = (BF16, F16)


# --- torch 2.x rules, spelled out -------------------------------------------------------------------------------


def mul_s(x: torch.Tensor, s: float) -> torch.Tensor:
    """`x * s` with a Python number: torch 2.x multiplies in float32 by float32(s), then rounds once."""
    return (x.float() * s).to(x.dtype) if x.dtype in REDUCED else x * s


def div_s(x: torch.Tensor, s) -> torch.Tensor:
    """`x / s` with a Python number or a 0-dim tensor as the divisor: float32 division, one rounding."""
    if x.dtype in REDUCED:
        d = s.float() if isinstance(s, torch.Tensor) else s
        return (x.float() / d).to(x.dtype)
    return x / s


def ew(fn, x: torch.Tensor) -> torch.Tensor:
    """A unary op (exp, log, sin, acos, ...) on a reduced-float tensor: float32 math, one rounding."""
    return fn(x.float()).to(x.dtype) if x.dtype in REDUCED else fn(x)


def narrow(s: float, dtype: torch.dtype) -> float:
    """A Python number as a tensor of `dtype` sees it in `+`, comparisons and clamp (rounded to the dtype)."""
    return torch.tensor(s, dtype=dtype).item()


def clamp_(x: torch.Tensor, lo=None, hi=None) -> torch.Tensor:
    lo = None if lo is None else narrow(lo, x.dtype)
    hi = None if hi is None else narrow(hi, x.dtype)
    return torch.clamp(x.float(), min=lo, max=hi).to(x.dtype)


def sum_(x: torch.Tensor, dim=None, keepdim: bool = False) -> torch.Tensor:
    """sum: float32 accumulation, one rounding to x's dtype."""
    f = x.float()
    r = f.sum() if dim is None else f.sum(dim, keepdim=keepdim)
    return r.to(x.dtype)


def mean_(x: torch.Tensor, dim, keepdim: bool = False) -> torch.Tensor:
    """torch 2.x mean on CPU for bf16/f16: float32 sum, float32 division by the count, one rounding."""
    f = x.float()
    dims = dim if isinstance(dim, (list, tuple)) else [dim]
    count = 1
    for d in dims:
        count *= x.shape[d]
    return (f.sum(dim, keepdim=keepdim) / count).to(x.dtype)


def norm_(x: torch.Tensor, dim=None, keepdim: bool = False) -> torch.Tensor:
    """torch.norm / linalg.vector_norm of a reduced-float tensor: float32 accumulation and sqrt, one rounding."""
    return torch.linalg.vector_norm(x.float(), dim=dim, keepdim=keepdim).to(x.dtype)


def dot_(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """torch.dot (dot_with_fp32_arith in torch 2.x): float32 products and sum, one rounding."""
    return (a.float() * b.float()).sum().to(a.dtype)


LANES = 8  # float32 lanes of an AVX2 vector: the CPU kernels' accumulation order on x86 without AVX-512


def lane_tree_sum(e: torch.Tensor, tail_in_lanes: bool) -> torch.Tensor:
    """Sum over the last dim in the order of torch's vectorised float32 reductions: 8 lanes accumulate the whole
    vectors, vec_reduce_all combines them as ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7)); the n mod 8 tail is either added
    into lanes 0.. first (vec::reduce_all) or one by one afterwards (the reduced-float softmax kernel)."""
    n = e.shape[-1]
    body = n - n % LANES
    acc = torch.zeros(e.shape[:-1] + (LANES,), dtype=torch.float32)
    for k in range(0, body, LANES):
        acc = acc + e[..., k:k + LANES]
    if tail_in_lanes and body < n:
        acc[..., : n - body] = acc[..., : n - body] + e[..., body:]
    s = ((acc[..., 0] + acc[..., 4]) + (acc[..., 2] + acc[..., 6])) + ((acc[..., 1] + acc[..., 5]) + (acc[..., 3] + acc[..., 7]))
    if not tail_in_lanes:
        for k in range(body, n):
            s = s + e[..., k]
    return s


def softmax_(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Softmax along the last dim. Reduced floats (torch 2.x's reduced-float kernel): a float32 buffer, exp(x - max),
    the sum in lane order with the tail added last, then x * (1/sum), rounded once. float32: torch's own kernel."""
    assert dim in (-1, x.dim() - 1)
    if x.dtype not in REDUCED:
        return torch.softmax(x, dim)
    f = x.float()
    e = torch.exp(f - f.max(dim=-1, keepdim=True).values)
    inv = 1 / lane_tree_sum(e, tail_in_lanes=False)
    return (e * inv.unsqueeze(-1)).to(x.dtype)


def stable_order(keys: torch.Tensor, descending: bool, dim: int = -1) -> torch.Tensor:
    """argsort keeping equal keys in index order (torch's CUDA sort; mergekit's CPU order is build-dependent)."""
    return torch.sort(keys, dim=dim, descending=descending, stable=True).indices


def weights_tensor(weights, dtype: torch.dtype, ndim: int) -> torch.Tensor:
    """torch.tensor(list_of_floats, dtype=D), unsqueezed to broadcast against a stack of `ndim` dims."""
    w = torch.tensor(weights, dtype=dtype)
    while w.dim() < ndim:
        w = w.unsqueeze(-1)
    return w


# --- sparsify.py -------------------------------------------------------------------------------------------------


def rescaled_masked(t: torch.Tensor, mask: torch.Tensor, l1: bool) -> torch.Tensor:
    masked = t * mask
    if not l1:
        return masked
    before = sum_(t.abs())
    after = sum_(masked.abs())
    eps = narrow(1e-7, t.dtype)
    if before.item() < eps or after.item() < eps:
        return masked
    return masked * (before / after)


def magnitude(t: torch.Tensor, density: float, l1: bool) -> torch.Tensor:
    if density >= 1:
        return t
    k = int(density * t.numel())
    assert k > 0
    w = t.abs().view(-1).float()
    top = stable_order(w, descending=True)[:k]
    mask = torch.zeros_like(t)
    mask.view(-1)[top] = 1
    return rescaled_masked(t, mask, l1)


def magnitude_outliers(t: torch.Tensor, density: float, gamma: float, l1: bool) -> torch.Tensor:
    if density >= 1:
        return t
    n = t.numel()
    target = int(density * n)
    n_top = int(gamma * n)
    n_bot = n - target - n_top
    if n_bot < 0:
        n_top += n_bot
        n_bot = 0
    w = t.abs().view(-1).float()
    order = stable_order(w, descending=False)
    mask = torch.zeros_like(t)
    mask.view(-1)[order[n_bot:-n_top]] = 1  # mergekit's slice: empty when n_top == 0
    return rescaled_masked(t, mask, l1)


def bernoulli_work_dtype(dtype: torch.dtype) -> torch.dtype:
    """sparsify.py on CPU: bfloat16 stays bfloat16, float16 (no CPU bernoulli) and float32 work in float32."""
    return BF16 if dtype == BF16 else F32


def bernoulli_probability(t: torch.Tensor, density: float) -> torch.Tensor:
    return torch.full_like(t, density, dtype=bernoulli_work_dtype(t.dtype))


def random_drop(t: torch.Tensor, density: float, rescale, mask: torch.Tensor) -> torch.Tensor:
    """DARE given its mask. rescale True: L1 match (mergekit >= 0.1); "inverse_density": mergekit <= 0.0.6."""
    if density >= 1:
        return t
    if rescale == "inverse_density":
        return div_s(t * mask.to(t.dtype), density)
    work = bernoulli_work_dtype(t.dtype)
    return rescaled_masked(t.to(work), mask.to(work), rescale is True).to(t.dtype)


def della_probabilities(t: torch.Tensor, density: float, epsilon: float) -> torch.Tensor:
    work = bernoulli_work_dtype(t.dtype)
    rows = t.unsqueeze(0) if t.dim() < 2 else t
    mags = rows.abs()
    order = stable_order(mags, descending=False, dim=1)
    ranks = torch.argsort(order, dim=1).to(work) + 1
    lo = ranks.min(dim=1, keepdim=True).values
    hi = ranks.max(dim=1, keepdim=True).values
    rank_norm = clamp_((ranks - lo) / (hi - lo), 0, 1)
    return mul_s(mul_s(rank_norm, 2), epsilon) + (density - epsilon)


def della_drop(t: torch.Tensor, density: float, epsilon: float, l1: bool, mask: torch.Tensor) -> torch.Tensor:
    if density >= 1:
        return t
    if density <= 0:
        return torch.zeros_like(t)
    work = bernoulli_work_dtype(t.dtype)
    rows = t.unsqueeze(0) if t.dim() < 2 else t
    res = rescaled_masked(rows.to(work), mask.to(work).reshape(rows.shape), l1)
    return res.to(t.dtype).reshape(t.shape)


# --- generalized_task_arithmetic.py --------------------------------------------------------------------------------


def task_vectors_merge(base, models, weights, *, sparsify=None, consensus=False, normalize=False, lam=1.0,
                       rescale=False, densities=None, gammas=None, epsilons=None, masks=None):
    dtype = base.dtype
    deltas = []
    for m, x in enumerate(models):
        d = x.to(dtype) - base
        density = 1.0 if densities is None else densities[m]
        if sparsify == "magnitude":
            d = magnitude(d, density, rescale is True)
        elif sparsify == "magnitude_outliers":
            d = magnitude_outliers(d, density, gammas[m], rescale is True)
        elif sparsify == "random":
            d = random_drop(d, density, rescale, masks[m])
        elif sparsify == "della_magprune":
            d = della_drop(d, density, epsilons[m], rescale is True, masks[m])
        deltas.append(d)
    stacked = torch.stack(deltas, dim=0)
    w = weights_tensor(weights, dtype, stacked.dim())
    weighted = stacked * w
    if consensus:
        sign = weighted.sign().to(dtype)
        majority = (sum_(weighted, 0) >= 0).to(dtype) * 2 - 1
        agree = sign == majority
        mixed = sum_(weighted * agree, 0)
        divisor = sum_(w * agree, 0)
        divisor[divisor == 0] = 1
    else:
        mixed = sum_(weighted, 0)
        divisor = sum_(w, 0)
        divisor[divisor.abs() < narrow(1e-8, dtype)] = 1
    if normalize:
        mixed = mixed / divisor
    if lam != 1:
        mixed = mul_s(mixed, lam)
    return (base + mixed).to(dtype)


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
