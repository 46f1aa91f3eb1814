#!/usr/bin/env python3
"""Pack the runs of scripts/natural-teachers-h200.sh into what a device call can bring back (at most 8 files of
16 MiB, 64 MiB in all; scripts/gpu-env.sh's machine), best runs first, and print a summary table.

    python3 scripts/natural-teachers-pack.py RUNS_DIR OUT_DIR

RUNS_DIR holds VARIANT/ (train-natural-teacher.py's RUN_DIR) and VARIANT.log per variant. OUT_DIR gets, in this
order, as long as the limits allow:
    summary.json           per variant: steps, schedule, best step, val and test figures, when retrieval emerged
    logs.tgz               every VARIANT.log, VARIANT/log.jsonl, VARIANT/result.json, RUNS_DIR/*.txt
    best.tgz               VARIANT/best/ (the transformers folder) of as many variants as fit in one file, the
                           best first (ranked by val exact match at 20 pairs)
    resume-VARIANT.tar     VARIANT/state-stable.pt (for RESUME_FROM), best variants first, while room is left; a
                           file over FILE_MAX is split into NAME.part0, NAME.part1, ... (join them with cat)
"""

import io
import json
import sys
import tarfile
from pathlib import Path

FILE_MAX = 15 * 2**20
TOTAL_MAX = 62 * 2**20
FILES_MAX = 8


def read_log(run):
    path = run / "log.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def summarise(run):
    log = read_log(run)
    evals = [e for e in log if "val" in e]
    result = json.loads((run / "result.json").read_text()) if (run / "result.json").exists() else None
    exact20 = [(e["step"], e["val"]["pairs=20"]["exact_acc"]) for e in evals]
    # The evaluation best/ holds: the last of the best (train-natural-teacher.py keeps a tie's later checkpoint).
    best_eval = max(reversed(evals), key=lambda e: e["val"]["pairs=20"]["exact_acc"], default=None)
    losses = [e for e in log if "kv_loss" in e]
    return dict(
        finished=result is not None,
        steps_run=result["steps_run"] if result else (losses[-1]["step"] + 1 if losses else 0),
        decay_start=result["decay_start"] if result else next((e["decay_start"] for e in log if "decay_start" in e), None),
        best_step=result["best_step"] if result else (best_eval["step"] if best_eval else None),
        best_val_exact20=max((x for _, x in exact20), default=-1.0),
        # The first evaluation at which half the val prompts at 20 pairs were answered exactly.
        emerged_step=next((s for s, x in exact20 if x >= 0.5), None),
        last_losses=losses[-1] if losses else None,
        val=result["val"] if result else (best_eval["val"] if best_eval else None),
        test=result["test"] if result else None,
    )


def tar_bytes(members, gz):
    """members: (path on disk, name in the archive)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tar:
        for path, name in members:
            tar.add(path, arcname=name)
    return buf.getvalue()


def main():
    runs, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    variants = sorted(p.name for p in runs.iterdir() if p.is_dir())
    summary = {v: summarise(runs / v) for v in variants}
    ranked = sorted(variants, key=lambda v: -summary[v]["best_val_exact20"])
    budget = dict(files=FILES_MAX, bytes=TOTAL_MAX)

    def emit(name, data):
        parts = [data[i : i + FILE_MAX] for i in range(0, len(data), FILE_MAX)] or [b""]
        if len(parts) > budget["files"] or len(data) > budget["bytes"]:
            print(f"natural-teachers-pack: {name} ({len(data) / 2**20:.1f} MiB) left out: no room", file=sys.stderr)
            return
        for i, part in enumerate(parts):
            (out / (name if len(parts) == 1 else f"{name}.part{i}")).write_bytes(part)
        budget["files"] -= len(parts)
        budget["bytes"] -= len(data)

    emit("summary.json", (json.dumps(dict(ranked=ranked, variants=summary), indent=2) + "\n").encode())
    logs = [(p, p.name) for p in sorted(runs.glob("*.log")) + sorted(runs.glob("*.txt"))]
    for v in variants:
        logs += [(runs / v / f, f"{v}/{f}") for f in ("log.jsonl", "result.json") if (runs / v / f).exists()]
    emit("logs.tgz", tar_bytes(logs, gz=True))
    bests, packed = [], b""
    for v in (v for v in ranked if (runs / v / "best").is_dir()):
        data = tar_bytes([(runs / b / "best", f"{b}/best") for b in bests + [v]], gz=True)
        if len(data) <= FILE_MAX:
            bests, packed = bests + [v], data
    if bests:
        emit("best.tgz", packed)
    for v in (v for v in ranked if (runs / v / "state-stable.pt").exists()):
        emit(f"resume-{v}.tar", tar_bytes([(runs / v / "state-stable.pt", f"{v}/state-stable.pt")], gz=False))
    print(f"natural-teachers-pack: best.tgz holds {', '.join(bests) or 'nothing'}", file=sys.stderr)

    def cell(figures, pairs, key):
        x = (figures or {}).get(f"pairs={pairs}", {}).get(key)
        return "-" if x is None else f"{100 * x:.0f}%"

    print("| variant | steps (decay from) | best step | emerged (val exact@20 >= 50%) | val exact 10/20/40 | test exact 10/20/40 | test acc 10/20/40 |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for v in ranked:
        s = summary[v]
        val, test = s["val"], s["test"]
        print(f"| {v}{'' if s['finished'] else ' (unfinished)'} | {s['steps_run']} ({s['decay_start']}) | {s['best_step']} | {s['emerged_step']} | "
              + " / ".join(cell(val, p, "exact_acc") for p in (10, 20, 40)) + " | "
              + " / ".join(cell(test, p, "exact_acc") for p in (10, 20, 40)) + " | "
              + " / ".join(cell(test, p, "acc") for p in (10, 20, 40)) + " |")


if __name__ == "__main__":
    main()
