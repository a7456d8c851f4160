"""
mergekit's sparsify.py and generalized_task_arithmetic.py (task_arithmetic, ties, dare_*, breadcrumbs*, della*) as
torch code, following mergekit's order of operations; see torch2.py for the torch 2.x rules it relies on.
DARE and DELLA take the masks as arguments: torch.bernoulli draws from the global generator, which no other program
can replay, so generate.py draws them from the probabilities computed here and stores them.
"""

from __future__ import annotations

import torch

from torch2 import BF16, F32, clamp_, div_s, mul_s, narrow, stable_order, sum_, weights_tensor

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
