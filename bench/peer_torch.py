"""Benchmark PEER, not part of hybridize: the same cases as bench/ ('large' sizes), timed in
PyTorch eager on the same GPU, so BENCHMARKS.md can give WebGPU/PyTorch ratios from one run.

    python3 bench/peer_torch.py [--train-step --layers N] > peer.json

fp32 cases run with TF32 off (torch.backends.cuda.matmul.allow_tf32 = False), the like-for-like
peer of fp32 WGSL; TF32 and bf16 matmuls are printed as the tensor-core ceiling for reference.
"""
import argparse
import json
import math

import torch
import torch.nn.functional as F

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
dev = "cuda"


def bench(fn, min_ms=300.0, reps=3, min_samples=5):
    """Median ms of fn() over repeated timed runs (reps per sample), after a warm-up, with CUDA events."""
    fn()
    torch.cuda.synchronize()
    times = []
    total = 0.0
    while len(times) < min_samples or (total < min_ms and len(times) < 50):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(reps):
            fn()
        end.record()
        torch.cuda.synchronize()
        ms = start.elapsed_time(end) / reps
        times.append(ms)
        total += ms * reps
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


def segsum(x):
    """x [..., T] -> [..., T, T]: out[..., t, s] = x[s+1] + ... + x[t] for s <= t, -inf above (stable form)."""
    T = x.shape[-1]
    rows = x[..., None].expand(*x.shape, T)  # rows[..., t, s] = x[t]
    below = torch.ones(T, T, dtype=torch.bool, device=x.device).tril(-1)
    sums = rows.masked_fill(~below, 0).cumsum(dim=-2)
    return sums.masked_fill(~torch.ones(T, T, dtype=torch.bool, device=x.device).tril(), float("-inf"))


def ssd_chunked(X, A, B, C, Q):
    """Mamba-2's chunked SSD in einsum form (ssd_minimal_discrete's four steps), one B/C group:
    X [b, T, h, p], A [b, T, h] log-decays, B, C [b, T, 1, n] -> Y [b, T, h, p]."""
    b, T, h, p = X.shape
    c = T // Q
    X = X.reshape(b, c, Q, h, p)
    A = A.reshape(b, c, Q, h).permute(0, 3, 1, 2)  # b h c l
    B = B.reshape(b, c, Q, -1)
    C = C.reshape(b, c, Q, -1)
    A_cum = A.cumsum(dim=-1)
    # 1. diagonal blocks: (C Bᵀ ∘ L) X within each chunk
    L = torch.exp(segsum(A))
    Y_diag = torch.einsum("bcln,bcsn,bhcls,bcshp->bclhp", C, B, L, X)
    # 2. each chunk's final state from its own inputs
    decay_states = torch.exp(A_cum[..., -1:] - A_cum)
    states = torch.einsum("bcln,bhcl,bclhp->bchpn", B, decay_states, X)
    # 3. states passed between chunks
    states = torch.cat([torch.zeros_like(states[:, :1]), states], dim=1)
    decay_chunk = torch.exp(segsum(F.pad(A_cum[..., -1], (1, 0))))
    states = torch.einsum("bhzc,bchpn->bzhpn", decay_chunk, states)[:, :-1]
    # 4. state entering each chunk -> outputs
    Y_off = torch.einsum("bcln,bchpn,bhcl->bclhp", C, states, torch.exp(A_cum))
    return (Y_diag + Y_off).reshape(b, T, h, p)


class Llama(torch.nn.Module):
    """Llama-3.2-1B shapes (tied embeddings), eager fp32: the peer of bench/train-step.ts."""

    def __init__(self, layers, C=2048, H=32, Hkv=8, D=64, F_=8192, V=128256, T=2048):
        super().__init__()
        self.H, self.Hkv, self.D = H, Hkv, D
        self.embed = torch.nn.Embedding(V, C)
        self.blocks = torch.nn.ModuleList()
        for _ in range(layers):
            blk = torch.nn.Module()
            blk.n1, blk.n2 = torch.nn.Parameter(torch.ones(C)), torch.nn.Parameter(torch.ones(C))
            blk.q = torch.nn.Linear(C, H * D, bias=False)
            blk.k = torch.nn.Linear(C, Hkv * D, bias=False)
            blk.v = torch.nn.Linear(C, Hkv * D, bias=False)
            blk.o = torch.nn.Linear(H * D, C, bias=False)
            blk.gate = torch.nn.Linear(C, F_, bias=False)
            blk.up = torch.nn.Linear(C, F_, bias=False)
            blk.down = torch.nn.Linear(F_, C, bias=False)
            self.blocks.append(blk)
        self.norm = torch.nn.Parameter(torch.ones(C))
        half = D // 2
        angles = torch.arange(T)[:, None] * 500000.0 ** (-torch.arange(half) / half)
        self.register_buffer("cos", angles.cos())
        self.register_buffer("sin", angles.sin())

    @staticmethod
    def rms(x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w

    def forward(self, ids, labels):
        b, t = ids.shape
        h = self.embed(ids)
        for blk in self.blocks:
            x = self.rms(h, blk.n1)
            q = rope(blk.q(x).view(b, t, self.H, self.D), self.cos, self.sin)
            k = rope(blk.k(x).view(b, t, self.Hkv, self.D), self.cos, self.sin)
            v = blk.v(x).view(b, t, self.Hkv, self.D)
            h = h + blk.o(eager_attention(q, k, v).reshape(b, t, -1))
            y = self.rms(h, blk.n2)
            h = h + blk.down(F.silu(blk.gate(y)) * blk.up(y))
        logits = self.rms(h, self.norm) @ self.embed.weight.t()
        return F.cross_entropy(logits.view(b * t, -1), labels.view(-1))


def report(results):
    print(json.dumps({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "results": results}, indent=2))


def matmul_shapes(add):
    """bench/matmul-shapes.ts's peer: the bf16 matmuls of a stage-3 step whose shapes do not fill 128x128 tiles (issue 20)."""
    for label, (m, n, k, trans_b) in {"in_proj": (8192, 8224, 2048, True), "lm head": (1046, 128256, 2048, True), "lm head dx": (1046, 2048, 128256, False)}.items():
        a = rand(m, k).bfloat16()
        b = (rand(n, k) if trans_b else rand(k, n)).bfloat16()
        add(f"matmul f16 {label} {m}x{n}x{k}{' Bᵀ' if trans_b else ''}", bench((lambda: a @ b.T) if trans_b else (lambda: a @ b)))
        del a, b


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--train-step", action="store_true")
    parser.add_argument("--layers", type=int, default=16)
    parser.add_argument("--matmul-shapes-only", action="store_true", help="only matmul_shapes (scripts/matmul-shapes-h200.sh)")
    args = parser.parse_args()
    results = []

    def add(name, ms):
        results.append({"name": name, "ms": ms})

    if args.matmul_shapes_only:
        matmul_shapes(add)
        report(results)
        return

    for n in (2048, 4096):
        a, b = rand(n, n), rand(n, n)
        add(f"matmul {n}³", bench(lambda: a @ b))
    a, b = rand(4096, 4096), rand(4096, 4096)
    torch.backends.cuda.matmul.allow_tf32 = True
    add("matmul 4096³ (tf32, reference)", bench(lambda: a @ b))
    torch.backends.cuda.matmul.allow_tf32 = False
    ah, bh = a.bfloat16(), b.bfloat16()
    # The f16-input WGSL matmul's target peer: bf16 on the tensor cores (f32 accumulation).
    add("matmul f16 4096³", bench(lambda: ah @ bh))
    a16, b16 = a.half(), b.half()
    add("matmul 4096³ (fp16, reference)", bench(lambda: a16 @ b16))

    for label, (T, I, O) in {"qkv": (8192, 2048, 3072), "mlp up": (8192, 2048, 8192), "lm head": (2048, 2048, 128256)}.items():
        x, w = rand(T, I), rand(O, I)
        add(f"linear {label} {T}x{I} -> {O}", bench(lambda: torch.nn.functional.linear(x, w)))

    B, T, Hq, Hkv, D = 1, 2048, 32, 8, 64
    q, k, v = rand(B, T, Hq, D), rand(B, T, Hkv, D), rand(B, T, Hkv, D)
    add(f"attention causal T={T} Hq={Hq} Hkv={Hkv} D={D}", bench(lambda: eager_attention(q, k, v)))
    qg, kg, vg = (t.clone().requires_grad_() for t in (q, k, v))
    gy = rand(B, T, Hq, D)
    add(f"attention fwd+bwd causal T={T} Hq={Hq} Hkv={Hkv} D={D}", bench(lambda: torch.autograd.grad(eager_attention(qg, kg, vg), (qg, kg, vg), gy)))

    T, C = 8192, 2048
    x, w, y = rand(T, C), rand(C), rand(T, C)
    add(f"rmsnorm {T}x{C}", bench(lambda: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w))
    add(f"swiglu {T}x{C}", bench(lambda: torch.nn.functional.silu(x) * y))
    T, H, D = 8192, 32, 64
    xr, cos, sin = rand(1, T, H, D), rand(T, D // 2), rand(T, D // 2)
    add(f"rope T={T} H={H} D={D}", bench(lambda: rope(xr, cos, sin)))
    del x, y, xr

    Bt, T, H, P, Q = 8, 2048, 32, 64, 64
    for N in (64, 16):
        X, A, Bm, Cm, dY = rand(Bt, T, H, P), rand(Bt, T, H) * 0.1, rand(Bt, T, 1, N), rand(Bt, T, 1, N), rand(Bt, T, H, P)
        shape = f"B={Bt} T={T} H={H} P={P} N={N} Q={Q}"
        add(f"ssd chunked fwd {shape}", bench(lambda: ssd_chunked(X, A, Bm, Cm, Q)))
        leaves = [t.clone().requires_grad_() for t in (X, A, Bm, Cm)]
        add(f"ssd chunked fwd+bwd {shape}", bench(lambda: torch.autograd.grad(ssd_chunked(*leaves, Q), leaves, dY)))
        del X, A, Bm, Cm, dY, leaves

    # split+concat: the 1B hybrid's in_proj output cut into its parts and joined in another order, forward and backward.
    T, parts = 8192, [6144, 2048, 32]
    xs = rand(T, sum(parts)).requires_grad_()
    gs = rand(T, sum(parts))
    def split_concat():
        conv, z, a = torch.split(xs, parts, dim=1)
        return torch.cat([z, a, conv], dim=1)
    add(f"split+concat fwd+bwd {T}x{sum(parts)} -> [{','.join(map(str, parts))}]", bench(lambda: torch.autograd.grad(split_concat(), xs, gs)))
    # linear mixed: what torch.autocast runs for the MLP up projection (bf16 operands, the weight's cast cached).
    T, I, O = 8192, 2048, 8192
    xl, wl, gl = rand(T, I).requires_grad_(), rand(O, I).requires_grad_(), rand(T, O)
    def mixed_linear():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            y = torch.nn.functional.linear(xl, wl)
        return torch.autograd.grad(y, (xl, wl), gl)
    add(f"linear mixed fwd+bwd {T}x{I} -> {O}", bench(mixed_linear))
    del xs, gs, xl, wl, gl
    matmul_shapes(add)

    if args.train_step:
        torch.cuda.empty_cache()
        torch.manual_seed(0)
        with torch.device(dev):
            model = Llama(args.layers)
        with torch.no_grad():
            for p_ in model.parameters():
                if p_.dim() > 1:
                    p_.uniform_(-0.02, 0.02)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-5, betas=(0.9, 0.95), weight_decay=0.1)
        ids = torch.randint(0, 128256, (4, 2048), device=dev)
        labels = ids.roll(-1)

        def step():
            opt.zero_grad(set_to_none=True)
            model(ids, labels).backward()
            opt.step()

        add(f"train step llama-1b L={args.layers} B=4 T=2048 C=2048 V=128256", bench(step, min_ms=0, reps=1, min_samples=3))

    report(results)


if __name__ == "__main__":
    main()
