#!/usr/bin/env python3
"""Make a tiny random checkpoint in another tool's on-disk layout, with the logits of that tool's forward equations.

Usage: python3 scripts/make-format-references.py FORMAT OUT     (FORMAT: one of FORMATS below, or `all`)

Each format gets OUT/<format>/ (OUT itself when FORMAT is not `all`) holding the checkpoint as the tool writes it
(config.json and the weights under its tensor names) and `reference.safetensors`:

    input_ids   [2, S]         int32  the token ids fed in
    logits      [2, S, vocab]  f32    what the tool's forward equations give for them

The forward is this script's own PyTorch of the tool's equations, written from reading its model code (each
function cites the file and function it follows); nothing of the tool is imported, so it runs on a CPU with plain
torch and safetensors (no mamba_ssm, no causal_conv1d, no Triton). It computes in float64 from the float32 weights
read back from disk, and the scan is the step-by-step recurrence (the chunked kernels compute the same sums), so the
logits are the equations' exact value to float32 rounding.

Formats:
    mamba-ssm-mamba2   state-spaces/mamba's MambaLMHeadModel with Mamba2 layers (mamba_ssm 2.x): config.json as
                       save_pretrained writes it (MambaConfig's fields), pytorch_model.bin as it writes it, and
                       model.safetensors, the same state dict (the form hybridize reads)
    mamba-ssm-mamba3   mamba-ssm-mamba2's layout with Mamba3 layers (MIMO), its mixer computed by scripts/mamba3-reference.py
    mamba-in-llama     jxiw/MambaInLlama's mamba2/ hybrid of a Llama: config.json (the Llama's), mamba_config.json,
                       model.safetensors with model.layers.i.mamba.* in its Mamba layers
    phi-mamba          goombalab/phi-mamba's LMHeadModel (Phi-Mamba, MOHAWK's student): its nested config.json,
                       pytorch_model.bin as save_pretrained writes it, and model.safetensors, the same tensors

On the GPU machine, from the repository root (about 10 s):
    python3 scripts/make-format-references.py all fixtures/reference && \\
    tar cf $OUT/format-refs.tar fixtures/reference/{mamba-ssm-mamba2,mamba-ssm-mamba3,mamba-in-llama,phi-mamba}
"""

import json
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

SEQ = 48
SEED = 20261207


def rms_norm(x, weight, eps):
    """mamba_ssm/ops/triton/layer_norm.py rms_norm_ref: x / sqrt(mean(x^2) + eps) * weight."""
    return x * torch.rsqrt(x.square().mean(-1, keepdim=True) + eps) * weight


def gated_rms_norm(y, z, weight, eps, group_size):
    """mamba_ssm/ops/triton/layernorm_gated.py rms_norm_ref with norm_before_gate=False: gate by silu(z), then
    normalise each group of group_size channels apart."""
    y = y * F.silu(z)
    g = y.unflatten(-1, (-1, group_size))
    g = g * torch.rsqrt(g.square().mean(-1, keepdim=True) + eps)
    return g.flatten(-2) * weight


def causal_depthwise_conv(x, weight, bias):
    """x [B, L, C], weight [C, 1, W]: nn.Conv1d(groups=C, padding=W-1) cut to the first L outputs, as
    mamba_ssm/modules/mamba2.py Mamba2.forward does without causal_conv1d."""
    width = weight.shape[-1]
    out = F.conv1d(x.transpose(1, 2), weight, bias, padding=width - 1, groups=x.shape[-1])
    return out[..., : x.shape[1]].transpose(1, 2)


def ssd_recurrence(x, dt, A, B, C, D):
    """The SSM of Mamba-2 step by step, as mamba_ssm/modules/mamba2.py Mamba2.step writes it (and the chunked
    mamba_chunk_scan_combined computes): per head h, state = exp(dt·A_h)·state + dt·x ⊗ B_g; y = state·C_g + D_h·x,
    head h reading group g = h // (heads / groups) (ssd_combined.py: pid_h // nheads_ngroups_ratio).
    x [b, L, H, P], dt [b, L, H] (after softplus), A [H], B and C [b, L, G, N], D [H] -> y [b, L, H, P]."""
    b, length, heads, p = x.shape
    per_group = heads // B.shape[2]
    B = B.repeat_interleave(per_group, dim=2)
    C = C.repeat_interleave(per_group, dim=2)
    state = x.new_zeros(b, heads, p, B.shape[-1])
    ys = []
    for t in range(length):
        decay = torch.exp(dt[:, t] * A)[..., None, None]
        state = state * decay + (dt[:, t, :, None, None] * x[:, t, :, :, None]) * B[:, t, :, None, :]
        ys.append(torch.einsum("bhpn,bhn->bhp", state, C[:, t]) + D[:, None] * x[:, t])
    return torch.stack(ys, dim=1)


def mamba2_mixer(w, u, cfg):
    """mamba_ssm/modules/mamba2.py Mamba2.forward (the path without the fused kernel): in_proj -> [z, xBC, dt];
    xBC through the causal depthwise conv and SiLU -> [x, B, C]; dt = softplus(dt + dt_bias), A = -exp(A_log);
    the SSD; the gated RMSNorm (eps 1e-5, group_size d_ssm / ngroups); out_proj."""
    d_inner = cfg["expand"] * cfg["d_model"]
    heads = d_inner // cfg["headdim"]
    gn = cfg["ngroups"] * cfg["d_state"]
    zxbcdt = F.linear(u, w["in_proj.weight"], w.get("in_proj.bias"))
    z, xbc, dt = torch.split(zxbcdt, [d_inner, d_inner + 2 * gn, heads], dim=-1)
    xbc = F.silu(causal_depthwise_conv(xbc, w["conv1d.weight"], w.get("conv1d.bias")))
    x, B, C = torch.split(xbc, [d_inner, gn, gn], dim=-1)
    dt = F.softplus(dt + w["dt_bias"])
    A = -torch.exp(w["A_log"])
    y = ssd_recurrence(
        x.unflatten(-1, (heads, cfg["headdim"])), dt, A,
        B.unflatten(-1, (cfg["ngroups"], cfg["d_state"])), C.unflatten(-1, (cfg["ngroups"], cfg["d_state"])), w["D"],
    ).flatten(-2)
    y = gated_rms_norm(y, z, w["norm.weight"], 1e-5, d_inner // cfg["ngroups"])
    return F.linear(y, w["out_proj.weight"], w.get("out_proj.bias"))


def sub(weights, prefix):
    return {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}


def mamba_ssm_lm(weights, ids, cfg, mixer):
    """mamba_ssm/models/mixer_seq_simple.py MambaLMHeadModel.forward over MixerModel.forward and Block (no MLP,
    RMSNorm blocks): h = embedding(ids); per layer h = h + mixer(RMSNorm(h)) (Block's residual = hidden + residual,
    then norm); logits = lm_head(RMSNorm_f(h)). Every RMSNorm's eps is MixerModel's norm_epsilon default, 1e-5."""
    h = weights["backbone.embedding.weight"][ids]
    for layer in range(cfg["n_layer"]):
        p = f"backbone.layers.{layer}."
        h = h + mixer(sub(weights, p + "mixer."), rms_norm(h, weights[p + "norm.weight"], 1e-5))
    h = rms_norm(h, weights["backbone.norm_f.weight"], 1e-5)
    return F.linear(h, weights["lm_head.weight"])


def mamba2_mixer_weights(gen, d_model, ssm):
    """Random weights of one Mamba2 module, drawn as its __init__ draws them (dt_bias the inverse softplus of dt in
    [1e-3, 0.1], A in [1, 16]) with D, the norm and the conv bias moved off their initial values so mistakes show."""
    d_inner = ssm["expand"] * d_model
    heads = d_inner // ssm["headdim"]
    conv_dim = d_inner + 2 * ssm["ngroups"] * ssm["d_state"]
    d_in_proj = 2 * d_inner + 2 * ssm["ngroups"] * ssm["d_state"] + heads
    normal = lambda *shape, std=1.0: torch.randn(*shape, generator=gen) * std
    dt = torch.exp(torch.rand(heads, generator=gen) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3)).clamp(min=1e-4)
    return {
        "in_proj.weight": normal(d_in_proj, d_model, std=d_model ** -0.5),
        "conv1d.weight": (torch.rand(conv_dim, 1, ssm["d_conv"], generator=gen) * 2 - 1) * ssm["d_conv"] ** -0.5,
        "conv1d.bias": normal(conv_dim, std=0.1),
        "dt_bias": dt + torch.log(-torch.expm1(-dt)),
        "A_log": torch.log(torch.rand(heads, generator=gen) * 15 + 1),
        "D": 1 + normal(heads, std=0.1),
        "norm.weight": 1 + normal(d_inner, std=0.1),
        "out_proj.weight": normal(d_model, d_inner, std=d_inner ** -0.5),
    }


def make_mamba_ssm_mamba2(out: Path, gen):
    """A 2-layer MambaLMHeadModel of Mamba2 layers: 2 groups (the per-group gated norm shows), vocab 250 padded to
    256, tied embeddings, chunk 16 (S = 48 crosses chunks in a chunked implementation)."""
    ssm = {"layer": "Mamba2", "d_state": 16, "d_conv": 4, "expand": 2, "headdim": 8, "ngroups": 2, "chunk_size": 16}
    cfg = {
        "d_model": 32, "d_intermediate": 0, "n_layer": 2, "vocab_size": 250, "ssm_cfg": ssm, "attn_layer_idx": [],
        "attn_cfg": {}, "rms_norm": True, "residual_in_fp32": True, "fused_add_norm": True,
        "pad_vocab_size_multiple": 16, "tie_embeddings": True,
    }
    vocab = 256
    weights = {"backbone.embedding.weight": torch.randn(vocab, cfg["d_model"], generator=gen)}
    for layer in range(cfg["n_layer"]):
        p = f"backbone.layers.{layer}."
        for k, v in mamba2_mixer_weights(gen, cfg["d_model"], ssm).items():
            weights[p + "mixer." + k] = v
        weights[p + "norm.weight"] = 1 + 0.1 * torch.randn(cfg["d_model"], generator=gen)
    weights["backbone.norm_f.weight"] = 1 + 0.1 * torch.randn(cfg["d_model"], generator=gen)
    # The state dict of a tied model holds lm_head.weight too (the same tensor); torch.save keeps it shared.
    weights["lm_head.weight"] = weights["backbone.embedding.weight"]
    # MambaLMHeadModel.save_pretrained: torch.save(state_dict) and json.dump(config.__dict__, indent=4).
    torch.save(weights, out / "pytorch_model.bin")
    (out / "config.json").write_text(json.dumps(cfg, indent=4))
    save_file({k: v.clone().contiguous() for k, v in weights.items()}, out / "model.safetensors")
    stored = {k: v.double() for k, v in load_file(out / "model.safetensors").items()}
    pickled = torch.load(out / "pytorch_model.bin")
    assert all(torch.equal(pickled[k], stored[k].float()) for k in pickled), "the two files differ"
    ids = torch.randint(0, cfg["vocab_size"], (2, SEQ), generator=gen)
    return ids, mamba_ssm_lm(stored, ids, cfg, lambda w, u: mamba2_mixer(w, u, ssm | {"d_model": cfg["d_model"]}))


def mamba3_reference_module():
    """scripts/mamba3-reference.py, this repository's own PyTorch of mamba_ssm's Mamba3 mixer (its docstring cites
    mamba_ssm/modules/mamba3.py and the MIMO step reference it follows), loaded from its file (its name has a dash)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("mamba3_reference", Path(__file__).with_name("mamba3-reference.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_mamba_ssm_mamba3(out: Path, gen):
    """A 2-layer MambaLMHeadModel of Mamba3 layers, MIMO rank 2 with 2 B/C groups and the per-head out norm
    (rope_fraction 0.5, A_floor 1e-4: what scripts/mamba3-reference.py computes), vocab 250 padded to 256, tied
    embeddings; the same files as mamba-ssm-mamba2."""
    ref = mamba3_reference_module()
    ssm = {"layer": "Mamba3", "d_state": 8, "expand": 2, "headdim": 8, "ngroups": 2, "rope_fraction": 0.5, "A_floor": 1e-4,
           "is_mimo": True, "mimo_rank": 2, "is_outproj_norm": True, "chunk_size": 8}
    cfg = {
        "d_model": 16, "d_intermediate": 0, "n_layer": 2, "vocab_size": 250, "ssm_cfg": ssm, "attn_layer_idx": [],
        "attn_cfg": {}, "rms_norm": True, "residual_in_fp32": True, "fused_add_norm": True,
        "pad_vocab_size_multiple": 16, "tie_embeddings": True,
    }
    mixer_cfg = {"d_model": 16, "nheads": 4, "headdim": 8, "d_state": 8, "ngroups": 2, "mimo_rank": 2, "is_outproj_norm": True}
    weights = {"backbone.embedding.weight": torch.randn(256, cfg["d_model"], generator=gen)}
    for layer in range(cfg["n_layer"]):
        p = f"backbone.layers.{layer}."
        for k, v in ref.random_weights(mixer_cfg, gen).items():
            weights[p + "mixer." + k] = v.float()
        weights[p + "norm.weight"] = 1 + 0.1 * torch.randn(cfg["d_model"], generator=gen)
    weights["backbone.norm_f.weight"] = 1 + 0.1 * torch.randn(cfg["d_model"], generator=gen)
    weights["lm_head.weight"] = weights["backbone.embedding.weight"]
    torch.save(weights, out / "pytorch_model.bin")
    (out / "config.json").write_text(json.dumps(cfg, indent=4))
    save_file({k: v.clone().contiguous() for k, v in weights.items()}, out / "model.safetensors")
    stored = {k: v.double() for k, v in load_file(out / "model.safetensors").items()}
    ids = torch.randint(0, cfg["vocab_size"], (2, SEQ), generator=gen)
    return ids, mamba_ssm_lm(stored, ids, cfg, lambda w, u: ref.reference(mixer_cfg, w, u))


def llama_attention(w, x, cfg):
    """transformers' LlamaAttention (models/llama/modeling_llama.py, eager): q, k, v projections, RoPE by
    rotate_half with inv_freq = theta^(-2i/D) over positions 0..S-1, grouped-query causal softmax attention scaled
    by D^-0.5, o_proj."""
    b, length, _ = x.shape
    heads, kv, d = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    q = F.linear(x, w["q_proj.weight"]).view(b, length, heads, d).transpose(1, 2)
    k = F.linear(x, w["k_proj.weight"]).view(b, length, kv, d).transpose(1, 2)
    v = F.linear(x, w["v_proj.weight"]).view(b, length, kv, d).transpose(1, 2)
    inv_freq = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    angles = torch.arange(length, dtype=torch.float64)[:, None] * inv_freq[None, :]
    cos, sin = torch.cat([angles, angles], -1).cos(), torch.cat([angles, angles], -1).sin()
    rotate_half = lambda t: torch.cat([-t[..., d // 2:], t[..., : d // 2]], -1)
    q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
    k, v = k.repeat_interleave(heads // kv, dim=1), v.repeat_interleave(heads // kv, dim=1)
    scores = (q @ k.transpose(-1, -2)) * d ** -0.5
    scores = scores.masked_fill(torch.ones(length, length, dtype=torch.bool).triu(1), float("-inf"))
    out = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, length, heads * d)
    return F.linear(out, w["o_proj.weight"])


def llama_mlp(w, x):
    """transformers' LlamaMLP, as MambaInLlama's MLP (mamba2/hybrid_model.py): down(silu(gate(x)) * up(x))."""
    return F.linear(F.silu(F.linear(x, w["gate_proj.weight"])) * F.linear(x, w["up_proj.weight"]), w["down_proj.weight"])


def mamba_in_llama_mixer(w, u, mcfg):
    """MambaInLlama's Mamba2 (mamba2/hybrid_mamba_layer.py Mamba2.forward, repeat_kv_before_conv false, the
    causal_conv1d path): heads = ngroups of headdim = d_state; in_proj -> [z (d_inner), xBC (d_xb + d_xb + d_inner),
    dt (heads)]; the causal conv and SiLU; x and B (d_xb each, heads of d_state) repeated up to the heads by
    repeat_kv (each of d_inner / d_xb consecutive heads reads one); C one group per head; the SSD; the gated norm
    with group_size d_inner / ngroups; out_proj."""
    ssm = mcfg["ssm_cfg"]
    d_inner, d_xb, n, heads = mcfg["d_inner"], mcfg["d_xb"], ssm["d_state"], ssm["ngroups"]
    zxbcdt = F.linear(u, w["in_proj.weight"], w.get("in_proj.bias"))
    z, xbc, dt = torch.split(zxbcdt, [d_inner, d_inner + 2 * d_xb, heads], dim=-1)
    xbc = F.silu(causal_depthwise_conv(xbc, w["conv1d.weight"], w.get("conv1d.bias")))
    x, B, C = torch.split(xbc, [d_xb, d_xb, d_inner], dim=-1)
    rep = d_inner // d_xb
    x = x.unflatten(-1, (d_xb // n, n)).repeat_interleave(rep, dim=2)
    B = B.unflatten(-1, (d_xb // n, n)).repeat_interleave(rep, dim=2)
    y = ssd_recurrence(x, F.softplus(dt + w["dt_bias"]), -torch.exp(w["A_log"]), B, C.unflatten(-1, (heads, n)), w["D"]).flatten(-2)
    y = gated_rms_norm(y, z, w["norm.weight"], 1e-5, d_inner // heads)
    return F.linear(y, w["out_proj.weight"], w.get("out_proj.bias"))


def mamba_in_llama_lm(weights, ids, cfg, mcfg):
    """transformers' LlamaForCausalLM with MambaInLlama's MambaDecoderLayer (mamba2/hybrid_model.py) in the layers
    not in attn_layers: h += mixer(input_layernorm(h)); h += mlp(post_attention_layernorm(h)); logits =
    lm_head(norm(h)). The Mamba layers' norms use mamba_config's rms_norm_eps, the rest config.json's."""
    h = weights["model.embed_tokens.weight"][ids]
    for layer in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        attention = layer in mcfg["attn_layers"]
        eps = cfg["rms_norm_eps"] if attention else mcfg["rms_norm_eps"]
        x = rms_norm(h, weights[p + "input_layernorm.weight"], eps)
        h = h + (llama_attention(sub(weights, p + "self_attn."), x, cfg) if attention else mamba_in_llama_mixer(sub(weights, p + "mamba."), x, mcfg))
        h = h + llama_mlp(sub(weights, p + "mlp."), rms_norm(h, weights[p + "post_attention_layernorm.weight"], eps))
    return F.linear(rms_norm(h, weights["model.norm.weight"], cfg["rms_norm_eps"]), weights["lm_head.weight"])


def make_mamba_in_llama(out: Path, gen):
    """A 3-layer MambaInLlama of a GQA Llama (4 query heads, 2 KV heads of 8): layers 0 and 2 Mamba2 as
    MambaInLlama makes them (d_inner = heads × head_dim, d_xb = KV heads × head_dim, d_state = head_dim,
    ngroups = heads), layer 1 attention. config.json as transformers writes a Llama's, mamba_config.json as
    MambaTransformerHybridModelWrapper.save_config writes it, model.safetensors under the wrapped model's names."""
    cfg = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 256, "hidden_size": 32,
        "intermediate_size": 48, "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
        "hidden_act": "silu", "max_position_embeddings": 256, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
        "rope_scaling": None, "attention_bias": False, "attention_dropout": 0.0, "mlp_bias": False,
        "tie_word_embeddings": False, "torch_dtype": "float32", "bos_token_id": 1, "eos_token_id": 2,
    }
    ssm = {"expand": 1, "ngroups": 4, "d_state": 8, "d_conv": 4, "chunk_size": 16}
    mcfg = {
        "d_model": 32, "ssm_cfg": ssm, "rms_norm_eps": 1e-5, "vocab_size": 256, "d_inner": 32, "d_xb": 16,
        "intermediate_size": 48, "hidden_act": "silu", "n_layer": 3, "attn_layers": [1],
    }
    d, inner, xb, heads = 32, 32, 16, 4
    normal = lambda *shape, std: torch.randn(*shape, generator=gen) * std
    weights = {"model.embed_tokens.weight": normal(256, d, std=1.0), "lm_head.weight": normal(256, d, std=d ** -0.5)}
    for layer in range(3):
        p = f"model.layers.{layer}."
        if layer in mcfg["attn_layers"]:
            for name, rows in [("q", 32), ("k", 16), ("v", 16)]:
                weights[p + f"self_attn.{name}_proj.weight"] = normal(rows, d, std=d ** -0.5)
            weights[p + "self_attn.o_proj.weight"] = normal(d, 32, std=32 ** -0.5)
        else:
            mixer = mamba2_mixer_weights(gen, d, {"expand": 1, "headdim": 8, "ngroups": heads, "d_state": 8, "d_conv": 4})
            # MambaInLlama's shapes: in_proj gives d_inner + 2 d_xb + d_inner + heads rows, the conv d_inner + 2 d_xb channels.
            mixer["in_proj.weight"] = normal(2 * inner + 2 * xb + heads, d, std=d ** -0.5)
            mixer["conv1d.weight"] = (torch.rand(inner + 2 * xb, 1, 4, generator=gen) * 2 - 1) * 0.5
            mixer["conv1d.bias"] = normal(inner + 2 * xb, std=0.1)
            for k, v in mixer.items():
                weights[p + "mamba." + k] = v
        weights[p + "mlp.gate_proj.weight"] = normal(48, d, std=d ** -0.5)
        weights[p + "mlp.up_proj.weight"] = normal(48, d, std=d ** -0.5)
        weights[p + "mlp.down_proj.weight"] = normal(d, 48, std=48 ** -0.5)
        weights[p + "input_layernorm.weight"] = 1 + normal(d, std=0.1)
        weights[p + "post_attention_layernorm.weight"] = 1 + normal(d, std=0.1)
    weights["model.norm.weight"] = 1 + normal(d, std=0.1)
    (out / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    (out / "mamba_config.json").write_text(json.dumps(mcfg, indent=4))
    save_file({k: v.contiguous() for k, v in weights.items()}, out / "model.safetensors", metadata={"format": "pt"})
    stored = {k: v.double() for k, v in load_file(out / "model.safetensors").items()}
    ids = torch.randint(0, cfg["vocab_size"], (2, SEQ), generator=gen)
    return ids, mamba_in_llama_lm(stored, ids, cfg, mcfg)


def discrete_mamba2_mixer(w, u, core):
    """phi-mamba's modules/mixers/discrete_mamba2.py Mixer.forward: in_proj -> [xBC, z, A_log]; xBC through the
    causal depthwise conv with no activation ('identity') -> [x (n_v_heads of headdim), B, C (n_qk_heads of
    d_state)]; mamba_chunk_scan_combined(x / softplus(A_log), dt = softplus(A_log), A = -1) is, step by step,
    state = exp(-softplus(A_log))·state + x ⊗ B; y = state·C + D·x (D applied to the undivided x);
    out_proj(y · silu(z + z_bias)). Its padding of the sequence to whole chunks is causal, so left out."""
    d_inner = core["expand"] * u.shape[-1]
    nv, nqk, n = core["n_v_heads"], core["n_qk_heads"], core["d_state"]
    proj = F.linear(u, w["in_proj.weight"], w.get("in_proj.bias"))
    xbc, z, a_log = torch.split(proj, [d_inner + 2 * nqk * n, d_inner, nv], dim=-1)
    xbc = causal_depthwise_conv(xbc, w["conv1d.weight"], w.get("conv1d.bias"))
    x, B, C = torch.split(xbc, [d_inner, nqk * n, nqk * n], dim=-1)
    x = x.unflatten(-1, (nv, d_inner // nv))
    dt = F.softplus(a_log)
    y = ssd_recurrence(x / dt[..., None], dt, -torch.ones(nv, dtype=x.dtype), B.unflatten(-1, (nqk, n)), C.unflatten(-1, (nqk, n)), torch.zeros(nv, dtype=x.dtype))
    y = (y + w["D"][:, None] * x).flatten(-2)
    return F.linear(y * F.silu(z + w.get("z_bias", 0)), w["out_proj.weight"], w.get("out_proj.bias"))


def gelu_new(x):
    """transformers' NewGELUActivation (the gelu_new of phi-mamba's PhiMLP): the tanh approximation."""
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def phi_mamba_lm(weights, ids, cfg):
    """phi-mamba's modules/lm_head.py LMHeadModel.forward over modules/backbone.py MixerModel and
    modules/phi_block.py Block: h = embedding(ids); per layer x = LayerNorm(h) (eps 1e-5) and
    h = mixer(x) + fc2(gelu_new(fc1(x))) + h (parallel, not sequential); logits = lm_head(final LayerNorm(h)), with
    the head's bias."""
    core = cfg["Block1"]["core_input"]
    d = cfg["MixerModel"]["input"]["d_model"]
    h = weights["backbone.embedding.weight"][ids]
    for layer in range(cfg["MixerModel"]["input"]["n_layer"]):
        p = f"backbone.layers.{layer}."
        x = F.layer_norm(h, (d,), weights[p + "input_layernorm.weight"], weights[p + "input_layernorm.bias"], 1e-5)
        mlp = F.linear(gelu_new(F.linear(x, weights[p + "mlp.fc1.weight"], weights[p + "mlp.fc1.bias"])), weights[p + "mlp.fc2.weight"], weights[p + "mlp.fc2.bias"])
        h = discrete_mamba2_mixer(sub(weights, p + "mixer."), x, core) + mlp + h
    h = F.layer_norm(h, (d,), weights["backbone.final_layernorm.weight"], weights["backbone.final_layernorm.bias"], 1e-5)
    return F.linear(h, weights["lm_head.weight"], weights["lm_head.bias"])


def make_phi_mamba(out: Path, gen):
    """A 2-layer Phi-Mamba: 4 value heads of 8 sharing 2 B/C heads of state 8, vocab 250 padded to 256, no biases
    on the projections (so z_bias exists) and the conv's bias; config.json as LMHeadModel.save_pretrained writes
    Config.to_dict(), the weights as pytorch_model.bin and model.safetensors (the form hybridize reads)."""
    core = {"d_state": 8, "n_v_heads": 4, "n_qk_heads": 2, "d_conv": 4, "conv_bias": True, "expand": 1, "chunk_size": 16, "activation": "identity", "bias": False}
    cfg = {
        "LanguageModel": {"input": {"vocab_size": 250, "pad_vocab_size_multiple": 8}},
        "MixerModel": {"input": {"d_model": 32, "n_layer": 2, "lm_head_prenorm": "layer"}},
        "Block1": {"n_layers": 2, "BlockType": "modules.phi_block", "block_input": {"resid_dropout": 0.0}, "CoreType": "modules.mixers.discrete_mamba2", "core_input": core},
    }
    d, vocab, inner, conv_dim = 32, 256, 32, 32 + 2 * 2 * 8
    normal = lambda *shape, std: torch.randn(*shape, generator=gen) * std
    weights = {"backbone.embedding.weight": normal(vocab, d, std=1.0)}
    for layer in range(2):
        p = f"backbone.layers.{layer}."
        weights |= {
            p + "mixer.in_proj.weight": normal(conv_dim + inner + 4, d, std=d ** -0.5),
            p + "mixer.z_bias": normal(inner, std=0.1),
            p + "mixer.conv1d.weight": (torch.rand(conv_dim, 1, 4, generator=gen) * 2 - 1) * 0.5,
            p + "mixer.conv1d.bias": normal(conv_dim, std=0.1),
            p + "mixer.D": 1 + normal(4, std=0.1),
            p + "mixer.out_proj.weight": normal(d, inner, std=inner ** -0.5),
            p + "mlp.fc1.weight": normal(4 * d, d, std=d ** -0.5), p + "mlp.fc1.bias": normal(4 * d, std=0.1),
            p + "mlp.fc2.weight": normal(d, 4 * d, std=(4 * d) ** -0.5), p + "mlp.fc2.bias": normal(d, std=0.1),
            p + "input_layernorm.weight": 1 + normal(d, std=0.1), p + "input_layernorm.bias": normal(d, std=0.1),
        }
    weights |= {
        "backbone.final_layernorm.weight": 1 + normal(d, std=0.1), "backbone.final_layernorm.bias": normal(d, std=0.1),
        "lm_head.weight": normal(vocab, d, std=d ** -0.5), "lm_head.bias": normal(vocab, std=0.1),
    }
    torch.save(weights, out / "pytorch_model.bin")
    (out / "config.json").write_text(json.dumps(cfg))
    save_file({k: v.contiguous() for k, v in weights.items()}, out / "model.safetensors")
    stored = {k: v.double() for k, v in load_file(out / "model.safetensors").items()}
    ids = torch.randint(0, 250, (2, SEQ), generator=gen)
    return ids, phi_mamba_lm(stored, ids, cfg)


FORMATS = {
    "mamba-ssm-mamba2": make_mamba_ssm_mamba2,
    "mamba-in-llama": make_mamba_in_llama,
    "phi-mamba": make_phi_mamba,
    "mamba-ssm-mamba3": make_mamba_ssm_mamba3,
}


def make(name: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        ids, logits = FORMATS[name](out, gen)
    assert torch.isfinite(logits).all(), f"{name}: non-finite logits"
    save_file({"input_ids": ids.to(torch.int32).contiguous(), "logits": logits.float().contiguous()}, out / "reference.safetensors")
    print(f"{name}: {out} logits {list(logits.shape)} std {logits.std().item():.3f}", file=sys.stderr)


def main(argv):
    if len(argv) != 3 or argv[1] not in [*FORMATS, "all"]:
        print(f"usage: {argv[0]} FORMAT OUT  (FORMAT: {', '.join(FORMATS)} or all)", file=sys.stderr)
        return 2
    torch.set_default_dtype(torch.float32)
    if argv[1] == "all":
        for name in FORMATS:
            make(name, Path(argv[2]) / name)
    else:
        make(argv[1], Path(argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
