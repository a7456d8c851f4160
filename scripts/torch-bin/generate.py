"""
Writes test/fixtures/torch-bin/: small real `torch.save` checkpoints for lm-merge's PyTorch `.bin` reader, each with
the bytes torch itself says the tensors hold, plus crafted hostile files the reader must refuse.

    apt-get install python3-torch                  # Debian: torch 1.13 for /usr/bin/python3
    /usr/bin/python3 scripts/torch-bin/generate.py # from the repository root

What it writes (CI has no torch: the small files are committed):
- tiny-mistral/          a tiny MistralForCausalLM state dict (bf16, `model.state_dict()` with its `_metadata`), zip
                         format, with config.json; tiny-mistral-st/ holds the same tensors as model.safetensors
                         (written here by a few lines of Python, independently of lm-merge's writer)
- tiny-mistral-legacy/   the same state dict in the pre-1.6 (non-zip) format
- tiny-mistral-sharded/  the same state dict split into two shards + pytorch_model.bin.index.json
- dtypes.bin             one tensor per storage type (f64 f32 f16 bf16 i64 i32 i16 i8 u8 bool)
- views.bin, views-legacy.bin   shared storages: offsets, slices, transposes, steps, stride-0 expansion, ties, 0-d
- expected.json          per file and tensor: dtype, shape and the hex of the contiguous little-endian bytes
- hostile/*.bin          pickles that call os.system / builtins.eval / other globals, huge sizes, missing storages,
                         compressed (zip-bomb) entries, duplicate entries, `..` paths, big-endian markers, a tar
"""

from __future__ import annotations

import collections
import io
import json
import os
import pickle
import shutil
import struct
import tarfile
import zipfile

import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "test", "fixtures", "torch-bin")

DTYPE_NAMES = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}

# The tiny model: the shapes lm-merge's own tiny fixtures use (src/fixtures/tiny-model.ts defaults).
LAYERS, HIDDEN, INTERMEDIATE, HEADS, KV_HEADS, VOCAB = 2, 16, 32, 4, 2, 64
HEAD_DIM = HIDDEN // HEADS


def raw_bytes(t: torch.Tensor) -> bytes:
    """The contiguous little-endian bytes of a tensor (bf16 through an int16 view: numpy has no bfloat16)."""
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def describe(sd) -> dict:
    return {k: {"dtype": DTYPE_NAMES[v.dtype], "shape": list(v.shape), "hex": raw_bytes(v).hex()} for k, v in sd.items()}


class RMSNorm(nn.Module):
    def __init__(self, n: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.q_proj = nn.Linear(HIDDEN, HEADS * HEAD_DIM, bias=False)
        self.k_proj = nn.Linear(HIDDEN, KV_HEADS * HEAD_DIM, bias=False)
        self.v_proj = nn.Linear(HIDDEN, KV_HEADS * HEAD_DIM, bias=False)
        self.o_proj = nn.Linear(HEADS * HEAD_DIM, HIDDEN, bias=False)


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.gate_proj = nn.Linear(HIDDEN, INTERMEDIATE, bias=False)
        self.up_proj = nn.Linear(HIDDEN, INTERMEDIATE, bias=False)
        self.down_proj = nn.Linear(INTERMEDIATE, HIDDEN, bias=False)


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.self_attn = Attention()
        self.mlp = Mlp()
        self.input_layernorm = RMSNorm(HIDDEN)
        self.post_attention_layernorm = RMSNorm(HIDDEN)


class Body(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed_tokens = nn.Embedding(VOCAB, HIDDEN)
        self.layers = nn.ModuleList([Layer() for _ in range(LAYERS)])
        self.norm = RMSNorm(HIDDEN)


class TinyMistral(nn.Module):
    def __init__(self):
        super().__init__()
        self.model = Body()
        self.lm_head = nn.Linear(HIDDEN, VOCAB, bias=False)


def tiny_mistral_state_dict():
    g = torch.Generator().manual_seed(1234)
    m = TinyMistral()
    with torch.no_grad():
        for name, p in m.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            p.copy_(1 + 0.05 * noise if name.endswith("norm.weight") else 0.02 * noise)
    return m.to(torch.bfloat16).state_dict()


def mistral_config() -> dict:
    return {
        "architectures": ["MistralForCausalLM"],
        "model_type": "mistral",
        "bos_token_id": 1,
        "eos_token_id": 2,
        "hidden_act": "silu",
        "hidden_size": HIDDEN,
        "intermediate_size": INTERMEDIATE,
        "max_position_embeddings": 128,
        "num_attention_heads": HEADS,
        "num_hidden_layers": LAYERS,
        "num_key_value_heads": KV_HEADS,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000,
        "sliding_window": None,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
        "vocab_size": VOCAB,
    }


def write_json(path: str, value) -> None:
    with open(path, "w") as f:
        json.dump(value, f, indent=2)
        f.write("\n")


def write_safetensors(path: str, sd) -> None:
    """The safetensors layout, by hand: u64 header length, JSON header padded with spaces to 8 bytes, data."""
    header, offset, blobs = {}, 0, []
    for k, v in sd.items():
        b = raw_bytes(v)
        header[k] = {"dtype": DTYPE_NAMES[v.dtype], "shape": list(v.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def model_folders(expected: dict) -> None:
    sd = tiny_mistral_state_dict()
    for name in ("tiny-mistral", "tiny-mistral-st", "tiny-mistral-legacy", "tiny-mistral-sharded"):
        d = os.path.join(OUT, name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        write_json(os.path.join(d, "config.json"), mistral_config())
    torch.save(sd, os.path.join(OUT, "tiny-mistral", "pytorch_model.bin"))
    write_safetensors(os.path.join(OUT, "tiny-mistral-st", "model.safetensors"), sd)
    torch.save(sd, os.path.join(OUT, "tiny-mistral-legacy", "pytorch_model.bin"), _use_new_zipfile_serialization=False)
    # Two shards as transformers writes them: consecutive tensors, each shard its own state dict, plus the index.
    names = list(sd.keys())
    half = len(names) // 2
    weight_map, total = {}, 0
    for i, part in enumerate((names[:half], names[half:])):
        shard = f"pytorch_model-{i + 1:05d}-of-00002.bin"
        torch.save(collections.OrderedDict((k, sd[k]) for k in part), os.path.join(OUT, "tiny-mistral-sharded", shard))
        for k in part:
            weight_map[k] = shard
            total += sd[k].numel() * sd[k].element_size()
    write_json(os.path.join(OUT, "tiny-mistral-sharded", "pytorch_model.bin.index.json"), {"metadata": {"total_size": total}, "weight_map": weight_map})
    expected["tiny-mistral"] = describe(sd)


def dtypes_file(expected: dict) -> None:
    g = torch.Generator().manual_seed(7)
    x = torch.randn(3, 5, generator=g) * 100
    sd = collections.OrderedDict()
    sd["f64"] = x.to(torch.float64)
    sd["f32"] = x.clone()
    sd["f16"] = x.to(torch.float16)
    sd["bf16"] = x.to(torch.bfloat16)
    sd["i64"] = torch.tensor([[-(2**40), 2**40 + 3, -1], [0, 7, 2**62]], dtype=torch.int64)
    sd["i32"] = torch.tensor([-(2**31), 2**31 - 1, 5], dtype=torch.int32)
    sd["i16"] = torch.tensor([-32768, 32767, -2], dtype=torch.int16)
    sd["i8"] = torch.tensor([-128, 127, 3, -4], dtype=torch.int8)
    sd["u8"] = torch.tensor([0, 255, 17], dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, True, True], dtype=torch.bool)
    torch.save(sd, os.path.join(OUT, "dtypes.bin"))
    expected["dtypes.bin"] = describe(sd)


def views_state_dict():
    g = torch.Generator().manual_seed(11)
    base = torch.randn(5, 7, generator=g)
    sd = collections.OrderedDict()
    sd["base"] = base
    sd["rows"] = base[1:4]  # contiguous, storage offset 7
    sd["cols"] = base[:, 2:5]  # non-contiguous rows
    sd["transposed"] = base.t()  # strides (1, 7)
    sd["stepped"] = base[::2, 1::3]  # strides (14, 3), offset 1
    sd["element"] = base[2, 3]  # 0-d view at offset 17
    sd["expanded"] = torch.arange(3, dtype=torch.float32).expand(4, 3)  # stride 0 along dim 0
    emb = torch.randn(6, 4, generator=g).to(torch.bfloat16)
    sd["embed.weight"] = emb
    sd["lm_head.weight"] = emb  # tied: the same tensor under two names
    sd["half_t"] = torch.randn(3, 4, generator=g).to(torch.float16).t()
    sd["empty"] = torch.zeros(0, 3)
    return sd


def views_files(expected: dict) -> None:
    sd = views_state_dict()
    torch.save(sd, os.path.join(OUT, "views.bin"))
    torch.save(sd, os.path.join(OUT, "views-legacy.bin"), _use_new_zipfile_serialization=False)
    expected["views.bin"] = describe(sd)
    expected["views-legacy.bin"] = describe(sd)


# ---- hostile files: each is a torch-style zip (or legacy stream) whose pickle or container is malicious ----


class Evil:
    """Pickles as a call of `fn(*args)`: what a malicious checkpoint does to run code at load time."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


def torch_zip(path: str, pkl: bytes, records: dict | None = None, prefix: str = "archive", compress: dict | None = None, extra: list | None = None) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(f"{prefix}/data.pkl", pkl)
        for key, data in (records or {}).items():
            z.writestr(f"{prefix}/data/{key}", data, compress_type=(compress or {}).get(key, zipfile.ZIP_STORED))
        z.writestr(f"{prefix}/version", b"3\n")
        for name, data in extra or []:
            z.writestr(name, data)


def saved_pickle(sd) -> tuple[bytes, dict]:
    """The data.pkl and storage records torch.save writes for `sd`."""
    buf = io.BytesIO()
    torch.save(sd, buf)
    z = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    prefix = z.namelist()[0].split("/")[0]
    pkl = z.read(f"{prefix}/data.pkl")
    records = {n.split("/")[-1]: z.read(n) for n in z.namelist() if "/data/" in n}
    return pkl, records


def hostile_files() -> None:
    d = os.path.join(OUT, "hostile")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    marker = "/tmp/lm-merge-pwned"
    torch_zip(os.path.join(d, "os-system.bin"), pickle.dumps({"w": Evil(os.system, f"touch {marker}")}, protocol=2))
    torch_zip(os.path.join(d, "builtins-eval.bin"), pickle.dumps(collections.OrderedDict(w=Evil(eval, f"open('{marker}', 'w')")), protocol=2))
    torch_zip(os.path.join(d, "other-global.bin"), pickle.dumps({"w": Evil(getattr, [], "append")}, protocol=2))
    # A storage type from the allow-list called like a function: not what torch writes, refused too.
    torch_zip(os.path.join(d, "storage-called.bin"), pickle.dumps({"w": Evil(torch.FloatStorage, 4)}, protocol=2))
    small = collections.OrderedDict(w=torch.arange(6, dtype=torch.float32).reshape(2, 3))
    pkl, records = saved_pickle(small)
    # Huge declared sizes: the same pickle with the shape (2, 3) rewritten to (2**40, 2**40).
    huge = pkl.replace(b"K\x02K\x03\x86", b"\x8a\x06\x00\x00\x00\x00\x00\x01\x8a\x06\x00\x00\x00\x00\x00\x01\x86")
    assert huge != pkl
    torch_zip(os.path.join(d, "huge-size.bin"), huge, records)
    # A view reaching past its storage: shape (2, 3) → (4, 3) on a 6-element storage.
    past = pkl.replace(b"K\x02K\x03\x86", b"K\x04K\x03\x86")
    assert past != pkl
    torch_zip(os.path.join(d, "past-storage.bin"), past, records)
    torch_zip(os.path.join(d, "missing-storage.bin"), pkl, {})
    # Zip bomb: a storage record stored DEFLATE-compressed (torch never compresses; nothing is inflated).
    bomb = {k: v + b"\0" * 10_000_000 for k, v in records.items()}
    torch_zip(os.path.join(d, "compressed.bin"), pkl, bomb, compress={k: zipfile.ZIP_DEFLATED for k in records})
    # The same entry name twice (zipfile warns; the second would shadow the first in some readers).
    with_dupe = os.path.join(d, "duplicate-entry.bin")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch_zip(with_dupe, pkl, records, extra=[("archive/data/0", b"\xff" * 24)])
    torch_zip(os.path.join(d, "dotdot.bin"), pkl, records, extra=[("archive/../../evil", b"x")])
    torch_zip(os.path.join(d, "big-endian.bin"), pkl, records, extra=[("archive/byteorder", b"big")])
    # Legacy stream claiming a big-endian writer.
    buf = io.BytesIO()
    torch.save(small, buf, _use_new_zipfile_serialization=False)
    legacy = buf.getvalue()
    assert b"little_endianq\x02\x88" in legacy
    with open(os.path.join(d, "legacy-big-endian.bin"), "wb") as f:
        f.write(legacy.replace(b"little_endianq\x02\x88", b"little_endianq\x02\x89"))
    # A tar checkpoint (PyTorch < 0.4): refused as unsupported.
    with tarfile.open(os.path.join(d, "tar.bin"), "w") as t:
        info = tarfile.TarInfo("pickle")
        info.size = 4
        t.addfile(info, io.BytesIO(b"\x80\x02N."))


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    expected: dict = {}
    model_folders(expected)
    dtypes_file(expected)
    views_files(expected)
    hostile_files()
    write_json(os.path.join(OUT, "expected.json"), expected)
    print(f"wrote {OUT} with torch {torch.__version__}")


if __name__ == "__main__":
    main()
