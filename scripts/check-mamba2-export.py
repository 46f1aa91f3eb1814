#!/usr/bin/env python3
"""Check `hybridize export --format transformers-mamba2` in transformers itself: the exported folder is loaded
as Mamba2ForCausalLM (CPU, fp32, so the pure-PyTorch path) and its logits on INPUT_IDS are compared with those
hybridize computed for the student, printed as JSON on stdout; exits 1 unless the relative error is <= 1e-4, every
tensor loaded, and the logits are finite. scripts/make-mamba2-export-check.ts makes all three files with Node:

    npx vite-node scripts/make-mamba2-export-check.ts -- fixtures/llama-tiny mamba2-check
    python3 scripts/check-mamba2-export.py mamba2-check/hf mamba2-check/ids.safetensors mamba2-check/ours.safetensors

or, for a student of your own that fits:

    npx hybridize export STUDENT --format transformers-mamba2 --out hf
    npx hybridize forward STUDENT --input ids.safetensors --output ours.safetensors --device cpu
    python3 scripts/check-mamba2-export.py hf ids.safetensors ours.safetensors
"""

import argparse
import json
import sys
from pathlib import Path

import torch
from safetensors import safe_open


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double(), b.double()
    return (torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b)).item()


def compare(exported: Path, ids_path: Path, ours_path: Path, label: str) -> dict:
    import transformers
    from transformers import Mamba2ForCausalLM

    model, info = Mamba2ForCausalLM.from_pretrained(str(exported), output_loading_info=True)
    model = model.float().eval().to("cpu")
    with safe_open(str(ids_path), framework="pt") as f:
        ids = f.get_tensor("input_ids").long()
    with safe_open(str(ours_path), framework="pt") as f:
        ours = f.get_tensor("logits").float()
    with torch.no_grad():
        theirs = model(input_ids=ids).logits.float()
    err = rel_err(ours, theirs)
    missing = [k for k in info.get("missing_keys", []) if not (k == "lm_head.weight" and model.config.tie_word_embeddings)]
    out = {
        "label": label,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "path": "pure-PyTorch (CPU)",
        "logits_rel_err": err,
        "argmax_agreement": (ours.argmax(-1) == theirs.argmax(-1)).float().mean().item(),
        "positions": int(ids.numel()),
        "missing_keys": missing,
        "unexpected_keys": list(info.get("unexpected_keys", [])),
        "mismatched_keys": [list(map(str, k)) for k in info.get("mismatched_keys", [])],
        "finite": bool(torch.isfinite(ours).all() and torch.isfinite(theirs).all()),
    }
    out["pass"] = out["finite"] and err <= 1e-4 and not missing and not out["unexpected_keys"] and not out["mismatched_keys"]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("exported", type=Path, help="the folder `hybridize export --format transformers-mamba2` wrote")
    ap.add_argument("ids", type=Path, help="safetensors file holding input_ids [batch, seq]")
    ap.add_argument("ours", type=Path, help="`hybridize forward STUDENT --input IDS --output OURS` of the exported student")
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    result = compare(a.exported, a.ids, a.ours, a.label)
    print(json.dumps(result))
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
