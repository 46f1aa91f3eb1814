"""Benchmark PEER, not part of hybridize: each MOHAWK step and find-heads' ablation loop at a real teacher's shapes,
as a PyTorch user would write them (bf16 autocast, SDPA attention, fp32 master weights and AdamW state, a chunked
SSD in einsum form), timed on the same GPU as hybridize's own run so BENCHMARKS.md can give ratios from one call.

    python3 bench/peer_mohawk.py TEACHER_DIR [--batch 4] [--seq 2048] [--compile] > peer-mohawk.json

TEACHER_DIR is a Llama checkpoint (scripts/real-teacher.py makes one). The student is the teacher with every layer's
attention replaced by a discrete Mamba-2 mixer (goombalab/phi-mamba's layout: in_proj -> [x | B | C] through a causal
depthwise conv, z, A_log; per-head B and C; y = SSD(x) + D x; out_proj(y * silu(z))) at the teacher's head count and
head dim, state N = head dim. The few attention heads a 2 % hybrid keeps are left out of the peer (they are 2 % of
the mixers' cost); hybridize's run keeps them.

Rows (ms per optimizer step, tokens/s, peak GPU memory):
- stage 1: one layer: the teacher's attention probabilities at that layer (no grad) against the student mixer's
  materialised mixing matrix, Frobenius loss, backward, AdamW over the mixer.
- stage 2: one block (norm, mixer, residual, norm, frozen MLP, residual) against the teacher block's output, L2 loss.
- stage 3: teacher forward without grad, student forward and backward, soft-target cross-entropy over the vocabulary,
  AdamW over every student weight.
- find-heads: every head of every layer ablated in turn (its slice of o_proj's input zeroed), one forward each on the
  same batch of samples, scoring the last position's log-probability.
"""
import argparse
import json
import math
import sys
import time

import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM

dev = "cuda"


def timed(fn, warmup=1, reps=3):
    """Median ms of fn() with CUDA events, after warm-up steps; also the peak memory it reached."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return times[len(times) // 2], torch.cuda.max_memory_allocated()


def segsum(x):
    """x [..., T] -> [..., T, T]: sum of x[s+1..t] for s <= t, -inf above the diagonal."""
    T = x.shape[-1]
    rows = x[..., None].expand(*x.shape, T)
    below = torch.ones(T, T, dtype=torch.bool, device=x.device).tril(-1)
    sums = rows.masked_fill(~below, 0).cumsum(dim=-2)
    return sums.masked_fill(~torch.ones(T, T, dtype=torch.bool, device=x.device).tril(), float("-inf"))


def ssd_chunked(X, A, B, C, Q=64):
    """Chunked SSD (ssd_minimal's four steps) with a B and C per head: X [b,T,h,p], A [b,T,h], B, C [b,T,h,n]."""
    b, T, h, p = X.shape
    c = T // Q
    X, B, C = (t.reshape(b, c, Q, h, -1) for t in (X, B, C))
    A = A.reshape(b, c, Q, h).permute(0, 3, 1, 2)
    A_cum = A.cumsum(-1)
    L = torch.exp(segsum(A))
    Y_diag = torch.einsum("bclhn,bcshn,bhcls,bcshp->bclhp", C, B, L, X)
    decay = torch.exp(A_cum[..., -1:] - A_cum)
    states = torch.einsum("bclhn,bhcl,bclhp->bchpn", B, decay, X)
    states = torch.cat([torch.zeros_like(states[:, :1]), states], 1)
    chunk_decay = torch.exp(segsum(F.pad(A_cum[..., -1], (1, 0))))
    states = torch.einsum("bhzc,bchpn->bzhpn", chunk_decay, states)[:, :-1]
    Y_off = torch.einsum("bclhn,bchpn,bhcl->bclhp", C, states, torch.exp(A_cum))
    return (Y_diag + Y_off).reshape(b, T, h, p)


class DiscreteMamba2(torch.nn.Module):
    def __init__(self, C, H, P, N, conv=4):
        super().__init__()
        self.H, self.P, self.N = H, P, N
        self.conv_dim = H * P + 2 * H * N
        self.in_proj = torch.nn.Linear(C, self.conv_dim + H * P + H, bias=False)
        self.conv1d = torch.nn.Conv1d(self.conv_dim, self.conv_dim, conv, groups=self.conv_dim, padding=conv - 1)
        self.z_bias = torch.nn.Parameter(torch.zeros(H * P))
        self.D = torch.nn.Parameter(torch.ones(H))
        self.out_proj = torch.nn.Linear(H * P, C, bias=False)

    def project(self, u):
        b, T, _ = u.shape
        xBC, z, A_log = self.in_proj(u).split([self.conv_dim, self.H * self.P, self.H], -1)
        xBC = self.conv1d(xBC.transpose(1, 2))[..., :T].transpose(1, 2)
        x, B, C = xBC.split([self.H * self.P, self.H * self.N, self.H * self.N], -1)
        dA = -F.softplus(A_log.float())  # log sigmoid(-A_log), the per-token log decay
        return x.view(b, T, self.H, self.P), B.view(b, T, self.H, self.N), C.view(b, T, self.H, self.N), z, dA

    def forward(self, u):
        x, B, C, z, dA = self.project(u)
        y = ssd_chunked(x, dA, B, C) + self.D[:, None] * x
        return self.out_proj((y.flatten(2) * F.silu(z + self.z_bias)).to(u.dtype))

    def mixing_matrix(self, u):
        """[b, H, T, T]: M[t, s] = C_t . B_s * exp(sum of dA over s+1..t), the SSD's causal matrix (D left out)."""
        _, B, C, _, dA = self.project(u)
        L = torch.exp(segsum(dA.permute(0, 2, 1)))
        return torch.einsum("bthn,bshn->bhts", C, B) * L


def student_of(teacher):
    """The teacher with every self_attn replaced by a discrete Mamba-2 (fp32 master weights)."""
    cfg = teacher.config
    P = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    student = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32).to(dev)
    student.load_state_dict(teacher.state_dict(), strict=False)
    for layer in student.model.layers:
        layer.self_attn = Mamba2Attn(DiscreteMamba2(cfg.hidden_size, cfg.num_attention_heads, P, P).to(dev))
    return student


class Mamba2Attn(torch.nn.Module):
    """Takes a decoder layer's self_attn call (hidden_states, kwargs) and returns what it returns: (out, None)."""

    def __init__(self, mixer):
        super().__init__()
        self.mixer = mixer

    def forward(self, hidden_states, *args, **kwargs):
        return self.mixer(hidden_states), None


def attention_probs(layer, x, cos_sin):
    """The teacher layer's attention probabilities [b, Hq, T, T] for input x (before the layer's input norm)."""
    attn = layer.self_attn
    h = layer.input_layernorm(x)
    b, T, _ = h.shape
    D = attn.head_dim
    q = attn.q_proj(h).view(b, T, -1, D).transpose(1, 2)
    k = attn.k_proj(h).view(b, T, -1, D).transpose(1, 2)
    cos, sin = cos_sin
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb
    q, k = apply_rotary_pos_emb(q, k, cos, sin)
    k = k.repeat_interleave(q.shape[1] // k.shape[1], 1)
    s = (q @ k.transpose(-1, -2)) / math.sqrt(D)
    s = s.masked_fill(torch.ones(T, T, dtype=torch.bool, device=dev).triu(1), float("-inf"))
    return s.float().softmax(-1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("teacher")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--layer", type=int, default=0)
    ap.add_argument("--heads-samples", type=int, default=8)
    ap.add_argument("--heads-seq", type=int, default=256)
    ap.add_argument("--compile", action="store_true", help="also time stage 3 under torch.compile")
    ap.add_argument("--skip", default="", help="comma-separated rows to skip: stage1,stage2,stage3,find-heads")
    a = ap.parse_args()
    skip = set(filter(None, a.skip.split(",")))
    torch.manual_seed(0)
    teacher = AutoModelForCausalLM.from_pretrained(a.teacher, dtype=torch.bfloat16, attn_implementation="sdpa").to(dev).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    cfg = teacher.config
    V, b, T = cfg.vocab_size, a.batch, a.seq
    ids = torch.randint(0, V, (b, T), device=dev)
    tokens = b * T
    results = []

    def add(name, ms, peak, n_tokens):
        row = {"name": name, "ms": ms, "tokens_per_s": n_tokens / (ms / 1000), "peak_gib": peak / 2**30}
        results.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)

    base = teacher.model
    pos = torch.arange(T, device=dev)[None].expand(b, T)
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        hidden = teacher(ids, output_hidden_states=True, use_cache=False).hidden_states
        x_in, x_out = hidden[a.layer].detach(), hidden[a.layer + 1].detach()
        cos_sin = base.rotary_emb(x_in, pos)
    del hidden
    P = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    layer = base.layers[a.layer]

    def teacher_forward():
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            teacher(ids, use_cache=False)

    ms, peak = timed(teacher_forward)
    add(f"teacher forward (no grad) B={b} T={T}", ms, peak, tokens)

    if "stage1" not in skip:
        mixer = DiscreteMamba2(cfg.hidden_size, cfg.num_attention_heads, P, P).to(dev)
        opt = torch.optim.AdamW(mixer.parameters(), lr=1e-4)

        def stage1():
            with torch.autocast("cuda", dtype=torch.bfloat16):
                with torch.no_grad():
                    target = attention_probs(layer, x_in, cos_sin)
                m = mixer.mixing_matrix(layer.input_layernorm(x_in))
                loss = torch.linalg.matrix_norm(m.float() - target).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        ms, peak = timed(stage1)
        add(f"stage 1 one layer B={b} T={T} H={cfg.num_attention_heads}", ms, peak, tokens)
        del mixer, opt

    if "stage2" not in skip:
        mixer = DiscreteMamba2(cfg.hidden_size, cfg.num_attention_heads, P, P).to(dev)
        opt = torch.optim.AdamW(mixer.parameters(), lr=1e-4)

        def stage2():
            with torch.autocast("cuda", dtype=torch.bfloat16):
                h = x_in + mixer(layer.input_layernorm(x_in))
                h = h + layer.mlp(layer.post_attention_layernorm(h))
                loss = torch.linalg.vector_norm((h - x_out).float(), dim=-1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        ms, peak = timed(stage2)
        add(f"stage 2 one block B={b} T={T}", ms, peak, tokens)
        del mixer, opt

    if "stage3" not in skip:
        torch.cuda.empty_cache()
        student = student_of(teacher)
        opt = torch.optim.AdamW(student.parameters(), lr=1e-4)

        def stage3_loss(model):
            with torch.autocast("cuda", dtype=torch.bfloat16):
                with torch.no_grad():
                    target = teacher(ids, use_cache=False).logits.float().softmax(-1)
                logits = model(ids, use_cache=False).logits.float()
                return -(target * logits.log_softmax(-1)).sum(-1).mean()

        def stage3(model=student):
            loss = stage3_loss(model)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        ms, peak = timed(stage3)
        add(f"stage 3 B={b} T={T} (eager)", ms, peak, tokens)
        if a.compile:
            compiled = torch.compile(student)
            t = time.time()
            stage3(compiled)
            print(f"torch.compile warm-up {time.time() - t:.0f} s", file=sys.stderr)
            ms, peak = timed(lambda: stage3(compiled))
            add(f"stage 3 B={b} T={T} (torch.compile, reference)", ms, peak, tokens)
        del student, opt

    if "find-heads" not in skip:
        torch.cuda.empty_cache()
        S, L = a.heads_samples, a.heads_seq
        sample_ids = torch.randint(0, V, (S, L), device=dev)
        H = cfg.num_attention_heads
        heads = [(l, h) for l in range(cfg.num_hidden_layers) for h in range(H)]
        state = {}

        def zero_head(module, args):
            l, h = state["head"]
            x = args[0].clone()
            x[..., h * P:(h + 1) * P] = 0
            return (x,)

        hooks = [base.layers[l].self_attn.o_proj.register_forward_pre_hook(
            lambda m, args, l=l: zero_head(m, args) if state["head"][0] == l else None) for l in range(cfg.num_hidden_layers)]

        def find_heads():
            scores = []
            with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
                for head in heads:
                    state["head"] = head
                    logits = teacher(sample_ids, use_cache=False, logits_to_keep=1).logits
                    scores.append(logits.float().log_softmax(-1)[:, -1, 0].mean())
            return torch.stack(scores).cpu()

        ms, peak = timed(find_heads, warmup=1, reps=1)
        for hk in hooks:
            hk.remove()
        add(f"find-heads {len(heads)} heads x {S} samples x {L} tokens", ms, peak, len(heads) * S * L)

    print(json.dumps({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "teacher": a.teacher,
                      "date": time.strftime("%Y-%m-%d"), "results": results}, indent=2))


if __name__ == "__main__":
    main()
