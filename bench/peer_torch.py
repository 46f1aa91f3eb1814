"""Benchmark PEER, not part of hybridize: the same cases as src/bench/cases.ts ('large' sizes),
timed in PyTorch eager on the same GPU, so BENCHMARKS.md can give WebGPU/PyTorch ratios from one run.

    python3 bench/peer_torch.py > peer.json

fp32 cases run with TF32 off (torch.backends.cuda.matmul.allow_tf32 = False), the like-for-like
peer of fp32 WGSL; TF32 and bf16 matmuls are printed as the tensor-core ceiling for reference.
"""
import json
import math

import torch

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
dev = "cuda"


def bench(fn, min_ms=300.0):
    """Median ms of fn() over repeated timed runs, after a warm-up, with CUDA events."""
    fn()
    torch.cuda.synchronize()
    times = []
    total = 0.0
    while len(times) < 5 or (total < min_ms and len(times) < 50):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(3):
            fn()
        end.record()
        torch.cuda.synchronize()
        ms = start.elapsed_time(end) / 3
        times.append(ms)
        total += ms * 3
    times.sort()
    return times[len(times) // 2]


def rand(*shape, dtype=torch.float32):
    return torch.rand(*shape, device=dev, dtype=dtype) - 0.5


def rope(x, cos, sin):
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], dim=-1)


def eager_attention(q, k, v):
    # q [B, T, Hq, D], k/v [B, T, Hkv, D]: repeat kv heads, matmul, causal softmax, matmul.
    B, T, Hq, D = q.shape
    rep = Hq // k.shape[2]
    qh = q.transpose(1, 2)
    kh = k.transpose(1, 2).repeat_interleave(rep, dim=1)
    vh = v.transpose(1, 2).repeat_interleave(rep, dim=1)
    s = (qh @ kh.transpose(-1, -2)) / math.sqrt(D)
    mask = torch.ones(T, T, device=dev, dtype=torch.bool).triu(1)
    p = s.masked_fill(mask, float("-inf")).softmax(-1)
    return (p @ vh).transpose(1, 2)


def main():
    results = []

    def add(name, ms):
        results.append({"name": name, "ms": ms})

    for n in (2048, 4096):
        a, b = rand(n, n), rand(n, n)
        add(f"matmul {n}³", bench(lambda: a @ b))
    a, b = rand(4096, 4096), rand(4096, 4096)
    torch.backends.cuda.matmul.allow_tf32 = True
    add("matmul 4096³ (tf32, reference)", bench(lambda: a @ b))
    torch.backends.cuda.matmul.allow_tf32 = False
    ah, bh = a.bfloat16(), b.bfloat16()
    add("matmul 4096³ (bf16, reference)", bench(lambda: ah @ bh))

    for label, (T, I, O) in {"qkv": (8192, 2048, 3072), "mlp up": (8192, 2048, 8192), "lm head": (2048, 2048, 128256)}.items():
        x, w = rand(T, I), rand(O, I)
        add(f"linear {label} {T}x{I} -> {O}", bench(lambda: torch.nn.functional.linear(x, w)))

    B, T, Hq, Hkv, D = 1, 2048, 32, 8, 64
    q, k, v = rand(B, T, Hq, D), rand(B, T, Hkv, D), rand(B, T, Hkv, D)
    add(f"attention causal T={T} Hq={Hq} Hkv={Hkv} D={D}", bench(lambda: eager_attention(q, k, v)))

    T, C = 8192, 2048
    x, w, y = rand(T, C), rand(C), rand(T, C)
    add(f"rmsnorm {T}x{C}", bench(lambda: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w))
    add(f"swiglu {T}x{C}", bench(lambda: torch.nn.functional.silu(x) * y))
    T, H, D = 8192, 32, 64
    xr, cos, sin = rand(1, T, H, D), rand(T, D // 2), rand(T, D // 2)
    add(f"rope T={T} H={H} D={D}", bench(lambda: rope(xr, cos, sin)))

    print(json.dumps({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "results": results}, indent=2))


if __name__ == "__main__":
    main()
