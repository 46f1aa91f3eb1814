#!/usr/bin/env python3
"""Make the tiny reference checkpoints under fixtures/reference/ with Hugging Face transformers.

What it makes: one folder per fixture, each holding the checkpoint as `save_pretrained` writes it
(config.json, generation_config.json, model.safetensors or shards + model.safetensors.index.json) and
`reference.safetensors` with what transformers computes for it:

    input_ids          [2, S]         int32  the token ids fed in
    logits             [2, S, vocab]  f32    the model's output logits
    hidden_states.i    [2, S, hidden] f32    `output_hidden_states=True`, in transformers' order
                                             (fixtures/reference/README.md says what each index is)

Fixtures: llama-rope-llama3, llama-tied-headdim, phi-partial04, llama-sharded-bf16, mamba2-tiny, llama-tiny,
phi-tiny
(see fixtures/reference/README.md). Every reference is computed from the checkpoint reloaded from disk
with `from_pretrained`, in float32, on the CPU (no CUDA kernels, no TF32, no mamba_ssm/causal_conv1d).
Norm weights and all biases are perturbed away from their initial values so that a mistake in them shows.

How to run it: it needs torch, transformers and safetensors, which the GPU machine has (PyTorch 2.11,
transformers 5.17). Through the device tool's `run`, from the repository root:

    export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1; \
    python3 scripts/make-references.py fixtures/reference 2>&1 | grep -v 'it/s]' | tee $OUT/log.txt; \
    tar cf $OUT/refs.tar fixtures/reference

then, here: `tar xf <files_at>/refs.tar`. It takes about 20 s. Arguments: the output folder, then
optionally fixture names to make only those. Exits non-zero if a fixture failed its checks (the others
are still written).
"""

import copy
import json
import sys
import traceback
from pathlib import Path

import safetensors
import torch
import transformers
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    Mamba2Config,
    Mamba2ForCausalLM,
    PhiConfig,
    PhiForCausalLM,
)

from hf_layout import to_v4_layout

BATCH = 2
SEQ = 48
DEVICE = torch.device("cpu")
# A wider init than transformers' 0.02 makes attention non-uniform, so a RoPE mistake moves the logits a lot.
INIT_RANGE = 0.1


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """||a - b|| / ||b|| over all elements, in float64."""
    a, b = a.double(), b.double()
    return (torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b)).item()


@torch.no_grad()
def perturb(model: torch.nn.Module, extra=()) -> None:
    """Norm weights -> 1 + 0.1 N(0,1); every bias -> 0.1 N(0,1); `extra` names (suffixes) get += 0.1 N(0,1)."""
    for name, p in model.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        if "norm" in name and leaf == "weight":
            p.copy_(1 + 0.1 * torch.randn_like(p))
        elif leaf == "bias":
            p.copy_(0.1 * torch.randn_like(p))
        elif any(name.endswith(suffix) for suffix in extra):
            p.add_(0.1 * torch.randn_like(p))


def base_parts(model):
    """(embedding module, decoder layers, final norm module) of a causal LM."""
    base = model.base_model
    norm = next(getattr(base, n) for n in ("norm", "final_layernorm", "norm_f") if hasattr(base, n))
    return model.get_input_embeddings(), base.layers, norm


@torch.no_grad()
def run_model(model, input_ids):
    """Forward pass with output_hidden_states; also records each layer's input/output and the final norm's
    output through hooks, and returns a description of what each hidden_states index equals."""
    emb, layers, norm = base_parts(model)
    seen = {}

    def first(x):
        return x[0] if isinstance(x, (tuple, list)) else x

    hooks = []
    for i, layer in enumerate(layers):
        hooks.append(layer.register_forward_pre_hook(
            lambda m, args, kwargs, i=i: seen.__setitem__(
                f"input of layer {i}", (args[0] if args else kwargs["hidden_states"]).clone()),
            with_kwargs=True))
        hooks.append(layer.register_forward_hook(
            lambda m, args, out, i=i: seen.__setitem__(f"output of layer {i}", first(out).clone())))
    hooks.append(norm.register_forward_hook(
        lambda m, args, out: seen.__setitem__("final norm output", first(out).clone())))
    hooks.append(emb.register_forward_hook(
        lambda m, args, out: seen.__setitem__("embeddings", first(out).clone())))
    try:
        out = model(input_ids=input_ids, output_hidden_states=True, use_cache=False, return_dict=True)
    finally:
        for h in hooks:
            h.remove()
    hidden = [h.float().contiguous() for h in out.hidden_states]
    meaning = []
    for h in hidden:
        names = [k for k, v in seen.items() if v.shape == h.shape and torch.equal(v.float(), h)]
        meaning.append(" = ".join(names) if names else "?")
    return out.logits.float().contiguous(), hidden, meaning


def save_reference(folder: Path, input_ids, logits, hidden):
    tensors = {"input_ids": input_ids.to(torch.int32).contiguous(), "logits": logits}
    for i, h in enumerate(hidden):
        tensors[f"hidden_states.{i}"] = h
    save_file(tensors, str(folder / "reference.safetensors"), metadata={"format": "pt"})


def weight_files(folder: Path):
    return sorted(p.name for p in folder.glob("*.safetensors") if p.name != "reference.safetensors")


def tensor_dtypes(folder: Path):
    """{tensor name: dtype string} over the checkpoint's weight files."""
    out = {}
    for name in weight_files(folder):
        with safe_open(str(folder / name), framework="pt") as f:
            for key in f.keys():
                out[key] = str(f.get_slice(key).get_dtype())
    return out


def reload_and_check(cls, folder: Path, built, input_ids, **kwargs):
    """Reload the saved float32 checkpoint, check it computes what the in-memory model computed (which ran
    with transformers' default attention, hence the 1e-5), return it."""
    model = cls.from_pretrained(str(folder), dtype=torch.float32, **kwargs).to(DEVICE).eval()
    with torch.no_grad():
        want = built(input_ids=input_ids, use_cache=False).logits.float()
        have = model(input_ids=input_ids, use_cache=False).logits.float()
    err = rel_err(have, want)
    print(f"  reload vs built: rel err {err:.3e}")
    if err > 1e-5:
        raise AssertionError(f"reloaded checkpoint differs from the built model (rel err {err:.3e})")
    return model


def make_input_ids(vocab: int, seq: int):
    return torch.randint(0, vocab, (BATCH, seq), device=DEVICE)


def finish(folder: Path, model, input_ids):
    logits, hidden, meaning = run_model(model, input_ids)
    save_reference(folder, input_ids, logits, hidden)
    print(f"  input_ids {list(input_ids.shape)}, logits {list(logits.shape)} std {logits.std().item():.4f}")
    for i, m in enumerate(meaning):
        print(f"  hidden_states.{i} {list(hidden[i].shape)}: {m}")
    config = json.loads((folder / "config.json").read_text())
    rope_keys = {k: config.get(k) for k in ("rope_parameters", "rope_theta", "rope_scaling",
                                            "partial_rotary_factor", "dtype", "torch_dtype") if k in config}
    print(f"  config.json: {json.dumps(rope_keys)}")
    print(f"  weight files: {weight_files(folder)}")
    return logits


def llama_rope_llama3(folder: Path):
    rope = {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0, "original_max_position_embeddings": 16}
    cfg = LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=128,
                      rope_parameters=rope, initializer_range=INIT_RANGE, tie_word_embeddings=False)
    built = LlamaForCausalLM(cfg).to(DEVICE).eval()
    perturb(built)
    built.save_pretrained(str(folder))
    to_v4_layout(folder)
    ids = make_input_ids(256, 64)
    model = reload_and_check(LlamaForCausalLM, folder, built, ids, attn_implementation="eager")
    print(f"  reloaded rope_parameters: {model.config.rope_parameters}")
    if {k: model.config.rope_parameters.get(k) for k in rope} != rope:
        raise AssertionError("the v4-layout config.json did not reload to the same rope parameters")
    logits = finish(folder, model, ids)
    try:  # a diagnostic only: how far plain RoPE (same weights) lands from llama3 RoPE
        plain_cfg = copy.deepcopy(model.config)
        plain_cfg.rope_parameters = {"rope_type": "default", "rope_theta": 500000.0}
        plain = LlamaForCausalLM(plain_cfg).to(DEVICE).eval()
        plain.load_state_dict(model.state_dict())
        with torch.no_grad():
            other = plain(input_ids=ids, use_cache=False).logits.float()
        print(f"  default-rope logits vs llama3-rope logits: rel err {rel_err(other, logits):.3e}")
    except Exception as e:
        print(f"  (default-rope comparison skipped: {e!r})")


def llama_tied_headdim(folder: Path):
    cfg = LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, head_dim=24, max_position_embeddings=128,
                      attention_bias=True, mlp_bias=True, tie_word_embeddings=True,
                      initializer_range=INIT_RANGE)
    built = LlamaForCausalLM(cfg).to(DEVICE).eval()
    perturb(built)
    built.save_pretrained(str(folder))
    if "lm_head.weight" in tensor_dtypes(folder):
        print("  save_pretrained kept lm_head.weight: dropping it from model.safetensors")
        with safe_open(str(folder / "model.safetensors"), framework="pt") as f:
            kept = {k: f.get_tensor(k) for k in f.keys() if k != "lm_head.weight"}
        save_file(kept, str(folder / "model.safetensors"), metadata={"format": "pt"})
    names = tensor_dtypes(folder)
    print(f"  {len(names)} tensors, q_proj {built.model.layers[0].self_attn.q_proj.weight.shape}")
    ids = make_input_ids(256, SEQ)
    model = reload_and_check(LlamaForCausalLM, folder, built, ids, attn_implementation="eager")
    if model.lm_head.weight.data_ptr() != model.model.embed_tokens.weight.data_ptr():
        raise AssertionError("reloaded lm_head is not tied to embed_tokens")
    finish(folder, model, ids)


def phi_partial04(folder: Path):
    # hidden 80 / 4 heads = head_dim 20; 20 * 0.4 = 8 rotary dims (integer and even).
    cfg = PhiConfig(vocab_size=256, hidden_size=80, intermediate_size=160, num_hidden_layers=2,
                    num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=128,
                    partial_rotary_factor=0.4, rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                                                "partial_rotary_factor": 0.4},
                    hidden_act="gelu_new", initializer_range=INIT_RANGE, tie_word_embeddings=False)
    built = PhiForCausalLM(cfg).to(DEVICE).eval()
    perturb(built)
    built.save_pretrained(str(folder))
    to_v4_layout(folder)
    ids = make_input_ids(256, SEQ)
    model = reload_and_check(PhiForCausalLM, folder, built, ids, attn_implementation="eager")
    rope = model.config.rope_parameters
    print(f"  reloaded rope_parameters: {rope}")
    if float(rope.get("partial_rotary_factor", -1)) != 0.4 or float(rope["rope_theta"]) != 10000.0:
        raise AssertionError("the v4-layout config.json did not reload to the same rope parameters")
    attn = model.model.layers[0].self_attn
    inv_freq = getattr(getattr(model.model, "rotary_emb", None), "inv_freq", None)
    print(f"  head_dim {getattr(attn, 'head_dim', '?')}, rotary dims {getattr(attn, 'rotary_ndims', '?')}, "
          f"inv_freq {None if inv_freq is None else list(inv_freq.shape)}")
    finish(folder, model, ids)


def llama_sharded_bf16(folder: Path):
    cfg = LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=128,
                      initializer_range=INIT_RANGE, tie_word_embeddings=False)
    built = LlamaForCausalLM(cfg).to(DEVICE).eval()
    perturb(built)
    built = built.to(torch.bfloat16)
    total = sum(p.numel() * p.element_size() for p in built.parameters())
    for parts in (2.5, 2.2, 3.5, 2.0):
        for old in folder.glob("*"):
            old.unlink()
        built.save_pretrained(str(folder), max_shard_size=int(total / parts) + 1)
        shards = weight_files(folder)
        if 2 <= len(shards) <= 3:
            break
    print(f"  {total} bytes of bf16 weights in {len(shards)} shards: {shards}")
    if not 2 <= len(shards) <= 3 or not (folder / "model.safetensors.index.json").exists():
        raise AssertionError(f"expected 2-3 shards and an index, got {shards}")
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text())
    if config.get("dtype") != "bfloat16":
        print(f"  config.json said dtype {config.get('dtype')!r}: setting bfloat16")
        config["dtype"] = "bfloat16"
        config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    dtypes = set(tensor_dtypes(folder).values())
    if dtypes != {"BF16"}:
        raise AssertionError(f"expected only BF16 tensors, got {dtypes}")
    ids = make_input_ids(256, SEQ)
    # The reference: the bf16 weights widened to f32 (exact), with the RoPE tables computed in f32.
    # `built` cannot serve, since .to(bfloat16) also rounded its inv_freq buffer.
    as_bf16 = LlamaForCausalLM.from_pretrained(str(folder), dtype=torch.bfloat16,
                                               attn_implementation="eager").to(DEVICE).eval()
    if {p.dtype for p in as_bf16.parameters()} != {torch.bfloat16}:
        raise AssertionError("the bf16 checkpoint did not load as bf16")
    bf16_buffers = {k: v.dtype for k, v in as_bf16.named_buffers()}
    model = LlamaForCausalLM.from_pretrained(str(folder), dtype=torch.float32,
                                             attn_implementation="eager").to(DEVICE).eval()
    widened = {k: v.float() for k, v in as_bf16.named_parameters()}
    for k, v in model.named_parameters():
        if not torch.equal(v, widened[k]):
            raise AssertionError(f"{k}: the f32 load is not the bf16 weights widened")
    fresh = dict(LlamaForCausalLM(model.config).named_buffers())
    for k, v in model.named_buffers():
        print(f"  buffer {k} {v.dtype}: max |diff| from a fresh f32 model {(v - fresh[k]).abs().max().item():.3e}")
    with torch.no_grad():
        upcast = as_bf16.float()(input_ids=ids, use_cache=False).logits
        want = model(input_ids=ids, use_cache=False).logits
    print(f"  bf16-loaded buffers {bf16_buffers}; its .float() logits vs reference: "
          f"rel err {rel_err(upcast, want):.3e}")
    finish(folder, model, ids)


def mamba2_tiny(folder: Path):
    cfg = Mamba2Config(vocab_size=256, hidden_size=64, num_hidden_layers=2, num_heads=8, head_dim=16,
                       state_size=16, n_groups=1, expand=2, chunk_size=16, conv_kernel=4,
                       tie_word_embeddings=False)
    built = Mamba2ForCausalLM(cfg).to(DEVICE).eval()
    perturb(built, extra=(".D", ".dt_bias", ".A_log"))
    built.save_pretrained(str(folder))
    ids = make_input_ids(256, SEQ)
    force_torch_path()
    model = reload_and_check(Mamba2ForCausalLM, folder, built, ids)
    force_torch_path()
    for bad in ("mamba_ssm", "causal_conv1d"):
        if bad in sys.modules:
            raise AssertionError(f"{bad} was imported: the reference must come from the pure-PyTorch path")
    finish(folder, model, ids)


def llama_tiny(folder: Path):
    """The plain small Llama most tests build on: GQA 4q/2kv, vocab 512, untied, transformers 5 layout."""
    cfg = LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=256,
                      bos_token_id=1, eos_token_id=2, tie_word_embeddings=False)
    built = LlamaForCausalLM(cfg).to(DEVICE).eval()
    perturb(built)
    built.save_pretrained(str(folder))
    ids = make_input_ids(512, SEQ)
    model = reload_and_check(LlamaForCausalLM, folder, built, ids, attn_implementation="eager")
    finish(folder, model, ids)


def phi_tiny(folder: Path):
    """The plain small Phi (Phi-1.5/2 architecture): parallel block, LayerNorm, biases, partial rotary 0.5."""
    cfg = PhiConfig(vocab_size=512, hidden_size=64, intermediate_size=256, num_hidden_layers=2,
                    num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=256,
                    partial_rotary_factor=0.5, rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                                                "partial_rotary_factor": 0.5},
                    hidden_act="gelu_new", bos_token_id=1, eos_token_id=2, tie_word_embeddings=False)
    built = PhiForCausalLM(cfg).to(DEVICE).eval()
    perturb(built)
    built.save_pretrained(str(folder))
    ids = make_input_ids(512, SEQ)
    model = reload_and_check(PhiForCausalLM, folder, built, ids, attn_implementation="eager")
    finish(folder, model, ids)


def force_torch_path():
    """Mamba2Mixer.forward takes cuda_kernels_forward only when `is_fast_path_available` and the weights
    are on CUDA; the models here are on the CPU, and this switches the flag off as well."""
    import transformers.models.mamba2.modeling_mamba2 as mamba2_module

    mamba2_module.is_fast_path_available = False


FIXTURES = {
    "llama-rope-llama3": llama_rope_llama3,
    "llama-tied-headdim": llama_tied_headdim,
    "phi-partial04": phi_partial04,
    "llama-sharded-bf16": llama_sharded_bf16,
    "mamba2-tiny": mamba2_tiny,
    "llama-tiny": llama_tiny,
    "phi-tiny": phi_tiny,
}


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "fixtures/reference")
    only = set(sys.argv[2:]) or set(FIXTURES)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    print(f"python {sys.version.split()[0]}, torch {torch.__version__}, transformers {transformers.__version__}, "
          f"safetensors {safetensors.__version__}")
    failed = []
    for seed, (name, build) in enumerate(FIXTURES.items()):
        if name not in only:
            continue
        print(f"== {name} (seed {seed})")
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*"):
            old.unlink()
        torch.manual_seed(seed)
        try:
            build(folder)
        except Exception:
            traceback.print_exc()
            failed.append(name)
        size = sum(p.stat().st_size for p in folder.glob("*"))
        print(f"  {size} bytes in {sorted(p.name for p in folder.glob('*'))}")
    print("FAILED: " + ", ".join(failed) if failed else "all fixtures made")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
