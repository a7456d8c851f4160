"""PyTorch float32 reference for the llama bench: a plain Mistral forward pass (written for this bench, straight
from the model's definition: RMSNorm, rotate-half RoPE, grouped-query causal attention, SiLU-gated MLP), timed on
a prefill. It reads the bench's safetensors checkpoint itself (bf16/f16/f32), so it needs only torch.

Protocol (one process, driven by bench/llama-bench.ts so its timings interleave with the other backends'):
  argv: MODEL_DIR THREADS
  stdin "prefill N" -> stdout "seconds S" (a prefill of N deterministic tokens, logits of the last position)
  stdin "quit"      -> exit
"""
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = np.frombuffer(data[start:end], dtype=np.uint8)
        if info["dtype"] == "BF16":
            bits = raw.view(np.uint16).astype(np.uint32) << 16
            arr = bits.view(np.float32)
        elif info["dtype"] == "F16":
            arr = raw.view(np.float16).astype(np.float32)
        elif info["dtype"] == "F32":
            arr = raw.view(np.float32)
        else:
            raise ValueError(f"{path}: tensor {name}: dtype {info['dtype']} not handled")
        out[name] = torch.from_numpy(arr.copy()).reshape(info["shape"])
    return out


def load(model_dir):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    w = {}
    for name in sorted(os.listdir(model_dir)):
        if name.endswith(".safetensors"):
            w.update(read_safetensors(os.path.join(model_dir, name)))
    return cfg, w


def rms_norm(x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Mistral:
    def __init__(self, cfg, w):
        self.cfg, self.w = cfg, w
        self.hidden = cfg["hidden_size"]
        self.heads = cfg["num_attention_heads"]
        self.kv_heads = cfg.get("num_key_value_heads", self.heads)
        self.head_dim = cfg.get("head_dim") or self.hidden // self.heads
        self.eps = cfg.get("rms_norm_eps", 1e-6)
        theta = cfg.get("rope_theta", 10000.0)
        self.inv_freq = 1.0 / (theta ** (torch.arange(0, self.head_dim, 2, dtype=torch.float64) / self.head_dim))
        self.lm_head = w.get("lm_head.weight", w["model.embed_tokens.weight"])

    @torch.inference_mode()
    def last_logits(self, ids):
        T, hd, g = len(ids), self.head_dim, self.heads // self.kv_heads
        x = self.w["model.embed_tokens.weight"][torch.tensor(ids)]
        angles = torch.outer(torch.arange(T, dtype=torch.float64), self.inv_freq)
        cos = torch.cat((angles.cos(), angles.cos()), -1).float()
        sin = torch.cat((angles.sin(), angles.sin()), -1).float()
        mask = torch.full((T, T), float("-inf")).triu(1)
        for l in range(self.cfg["num_hidden_layers"]):
            p = f"model.layers.{l}."
            h = rms_norm(x, self.w[p + "input_layernorm.weight"], self.eps)
            q = (h @ self.w[p + "self_attn.q_proj.weight"].T).view(T, self.heads, hd).transpose(0, 1)
            k = (h @ self.w[p + "self_attn.k_proj.weight"].T).view(T, self.kv_heads, hd).transpose(0, 1)
            v = (h @ self.w[p + "self_attn.v_proj.weight"].T).view(T, self.kv_heads, hd).transpose(0, 1)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            k = k.repeat_interleave(g, dim=0)
            v = v.repeat_interleave(g, dim=0)
            att = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(hd) + mask, dim=-1) @ v
            x = x + att.transpose(0, 1).reshape(T, self.heads * hd) @ self.w[p + "self_attn.o_proj.weight"].T
            h = rms_norm(x, self.w[p + "post_attention_layernorm.weight"], self.eps)
            gate = h @ self.w[p + "mlp.gate_proj.weight"].T
            up = h @ self.w[p + "mlp.up_proj.weight"].T
            x = x + (torch.nn.functional.silu(gate) * up) @ self.w[p + "mlp.down_proj.weight"].T
        last = rms_norm(x[-1:], self.w["model.norm.weight"], self.eps)
        return (last @ self.lm_head.T)[0]


def main():
    model_dir, threads = sys.argv[1], int(sys.argv[2])
    torch.set_num_threads(threads)
    cfg, w = load(model_dir)
    model = Mistral(cfg, w)
    vocab = cfg["vocab_size"]
    model.last_logits(list(range(3, 67)))  # warm-up
    print("ready", flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        if cmd[0] == "prefill":
            n = int(cmd[1])
            ids = [3 + (i * 7919 + 17) % (vocab - 3) for i in range(n)]
            t0 = time.perf_counter()
            logits = model.last_logits(ids)
            seconds = time.perf_counter() - t0
            if not bool(torch.isfinite(logits).all()):
                raise RuntimeError("non-finite logits")
            print(f"seconds {seconds}", flush=True)


if __name__ == "__main__":
    main()
