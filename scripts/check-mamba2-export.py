#!/usr/bin/env python3
"""Check `hybridize export --format transformers-mamba2` in transformers itself: the exported folder is loaded
as Mamba2ForCausalLM (CPU, fp32, so the pure-PyTorch path) and its logits are compared with those hybridize
computed for the student, printed as JSON on stdout; exits 1 unless the relative error is <= 1e-4, every
tensor loaded, and the logits are finite.

    # a student that fits (rewrite keeps the teacher's MLPs and a per-head gated norm: this zeroes the
    # MLPs, makes the norm one group with the blocks' epsilon, and perturbs the SSM weights)
    npx hybridize find-heads fixtures/llama-tiny --out heads.json
    npx hybridize rewrite fixtures/llama-tiny --heads heads.json --keep 0 --mixer mamba2 --out rewritten
    python3 scripts/check-mamba2-export.py make-student rewritten student
    npx hybridize export student --format transformers-mamba2 --out student-hf
    python3 scripts/check-mamba2-export.py input student-hf ids.safetensors
    npx hybridize forward student --input ids.safetensors --output ours.safetensors --device cpu
    python3 scripts/check-mamba2-export.py compare student-hf ids.safetensors ours.safetensors
"""

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double(), b.double()
    return (torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b)).item()


def make_student(rewritten: Path, out: Path, seed: int) -> dict:
    """What test/export/transformers-mamba2.test.ts does to a rewritten student, so that it fits Mamba2ForCausalLM."""
    out.mkdir(parents=True, exist_ok=False)
    config = json.loads((rewritten / "config.json").read_text())
    config["mixer"]["norm_groups"] = 1
    config["mixer"]["norm_eps"] = config["teacher_config"].get("rms_norm_eps", 1e-6)
    gen = torch.Generator().manual_seed(seed)
    tensors = {}
    for file in sorted(rewritten.glob("*.safetensors")):
        with safe_open(str(file), framework="pt") as f:
            for name in f.keys():
                t = f.get_tensor(name).float()
                if ".mlp.down_proj." in name:
                    t = torch.zeros_like(t)
                if ".ssm." in name:
                    t = t + (torch.rand(t.shape, generator=gen) - 0.5) * 0.2
                tensors[name] = t.contiguous()
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    for f in rewritten.iterdir():
        if f.is_file() and not f.name.startswith("model") and f.name != "config.json":
            shutil.copy(f, out / f.name)
    return {"student": str(out), "tensors": len(tensors)}


def write_input(exported: Path, path: Path, batch: int, seq: int, seed: int) -> dict:
    vocab = json.loads((exported / "config.json").read_text())["vocab_size"]
    ids = torch.randint(0, vocab, (batch, seq), generator=torch.Generator().manual_seed(seed), dtype=torch.int64)
    save_file({"input_ids": ids}, str(path), metadata={"format": "pt"})
    return {"input_ids": str(path), "shape": [batch, seq]}


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
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make-student", help="an exportable copy of a student from `hybridize rewrite --keep 0 --mixer mamba2`")
    m.add_argument("rewritten", type=Path)
    m.add_argument("out", type=Path)
    m.add_argument("--seed", type=int, default=0)
    i = sub.add_parser("input", help="random input_ids for the exported model's vocabulary")
    i.add_argument("exported", type=Path)
    i.add_argument("ids", type=Path)
    i.add_argument("--batch", type=int, default=2)
    i.add_argument("--seq", type=int, default=64)
    i.add_argument("--seed", type=int, default=0)
    c = sub.add_parser("compare", help="transformers' logits on the export against `hybridize forward --output`")
    c.add_argument("exported", type=Path)
    c.add_argument("ids", type=Path)
    c.add_argument("ours", type=Path)
    c.add_argument("--label", default="")
    a = ap.parse_args()
    if a.cmd == "make-student":
        print(json.dumps(make_student(a.rewritten, a.out, a.seed)))
        return 0
    if a.cmd == "input":
        print(json.dumps(write_input(a.exported, a.ids, a.batch, a.seq, a.seed)))
        return 0
    result = compare(a.exported, a.ids, a.ours, a.label)
    print(json.dumps(result))
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
