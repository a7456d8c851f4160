"""
torch 2.x's arithmetic on bfloat16 / float16 tensors, spelled out on top of Debian's torch 1.13 where the two differ.
The reference (reference.py, task_vectors.py) calls these helpers wherever a mergekit method meets one of the rules
below; every other op is torch's own, so torch decides the rounding of every intermediate:

  * elementwise ops on bfloat16/float16 tensors compute in float32 and round once to the tensor's dtype;
  * `tensor * python_float` and `tensor / python_float` (mul_kernel / div_true_kernel, reduced-float branch) use
    the number as float32, not rounded to the tensor's dtype (torch 1.13 rounds it first);
  * `tensor + python_float`, comparisons and clamp bounds round the number to the tensor's dtype (both versions);
  * sum, mean, norm, dot and softmax accumulate in float32 and round once (torch 1.13 rounds a bfloat16 mean's
    sum before dividing, has no float16 softmax/clamp/exp on CPU and accumulates a bfloat16 dot in bfloat16);
    the reduced-float softmax is spelled out in the order of torch 2.x's kernel (lane_tree_sum);
  * sorts: mergekit's argsort/topk are not stable; on CUDA torch's radix sort keeps equal keys in index order,
    on CPU the order depends on the build (std::sort, x86-simd-sort). These helpers use the index order.
"""

from __future__ import annotations

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
