#!/usr/bin/env python3
"""Compare a `hybridize forward --output` file with a transformers reference.safetensors, as JSON on stdout:
relative error (||out - ref|| / ||ref||, float64) of the logits and of every hidden_states.i, and next-token argmax
agreement over all positions.

    python3 scripts/compare-outputs.py OURS.safetensors REFERENCE.safetensors [--label NAME]
"""

import argparse
import json
import sys

import torch
from safetensors import safe_open


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double(), b.double()
    return (torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b)).item()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("ours")
    ap.add_argument("reference")
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    out = {"label": a.label}
    with safe_open(a.ours, framework="pt", device=dev) as ours, safe_open(a.reference, framework="pt", device=dev) as ref:
        have, want = ours.get_tensor("logits").float(), ref.get_tensor("logits").float()
        if not torch.isfinite(have).all():
            out["error"] = "non-finite logits"
        out["logits_rel_err"] = rel_err(have, want)
        agree = (have.argmax(-1) == want.argmax(-1)).float()
        out["argmax_agreement"] = agree.mean().item()
        out["positions"] = agree.numel()
        hidden = {}
        i = 0
        while f"hidden_states.{i}" in ref.keys() and f"hidden_states.{i}" in ours.keys():
            hidden[i] = rel_err(ours.get_tensor(f"hidden_states.{i}"), ref.get_tensor(f"hidden_states.{i}"))
            i += 1
        out["hidden_rel_err_max"] = max(hidden.values()) if hidden else None
        out["hidden_rel_err"] = hidden
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
