#!/usr/bin/env python3
"""Train a natural fixture teacher in PyTorch: a transformers LlamaForCausalLM or PhiForCausalLM from scratch, with
next-token losses only (no attention guide, no head map), on the rows `npm run fixtures` trains on: dictionaries
with their questions (answers supervised), running Brown text (train part) and look-back rows. The rows come from
the project's TypeScript (scripts/natural-teacher-data.ts `stream`, through a pipe), so both trainers read the same
data; this one is fast enough for tens of thousands of steps in one device call.

    python3 scripts/train-natural-teacher.py VARIANT --data DIR --out RUN_DIR --end-at UNIX_SECONDS
        [--data-cmd "node .gpu/natural-teacher-data.mjs"] [--resume STATE.pt] [--max-steps N] [--device cuda]
        [--eval-every STEPS] [--override JSON]

VARIANT names an entry of VARIANTS below. DIR is what `natural-teacher-data prepare` wrote (tokenizer, base
configs, Brown stream, held-out evaluation sets). The schedule is warmup-stable-decay (main.ts): a linear warmup of
WARMUP steps, the peak rate, then a linear decay over the last fifth of the steps. How many steps fit is not known
in advance on a shared GPU, so the decay starts when the time left is what a decay of a quarter of the steps taken
so far needs (a fifth of the total) at the speed measured so far; the state at that moment (weights and optimizer,
fp32) is saved as RUN_DIR/state-stable.pt, from which --resume continues the stable phase in a later call and
decays at its end (the warmup-stable-decay recipe's branch point). RUN_DIR gets:
    log.jsonl        every 50th step's losses and lr, and every evaluation
    best/            a transformers folder (bf16 safetensors, v4-layout config, fixture tokenizer, training.json):
                     the checkpoint with the best exact match at 20 pairs on the `val` held-out set
    result.json      the schedule run, the best step, and `test` (another seed of held-out keys) scored on best/
    state-stable.pt  see above

Evaluation is kv-retrieval on held-out keys scored as `hybridize eval` scores it: acc (log-likelihood of every
candidate value, first best on ties), argmax_acc (the answer's first token is the argmax) and exact_acc (every
answer token is: greedy decoding writes the answer).
"""

import argparse
import json
import math
import os
import queue
import shlex
import shutil
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from transformers import LlamaConfig, LlamaForCausalLM, PhiConfig, PhiForCausalLM
from transformers.utils import logging as hf_logging

from hf_layout import to_v4_layout

# The phi-spread recipe (src/fixtures/main.ts RECIPE and specs.ts): the data side's keys are natural-data.ts
# NaturalRecipe's; `steps` is the length the dictionary curriculum grows over (80 % of it, 6 to 32 pairs).
BASE = dict(
    arch="llama", config={}, seed=11, lr=1e-2, init_std=0.08, weight_decay=0.1, clip=1.0, text_weight=0.5,
    look_back_weight=0.5,
    data=dict(steps=2400, curriculum=0.8, maxPairs=32, kvRows=32, textRows=4, lookBackRows=16, queries=6,
              recall=True, dataSeed=0),
)
THETA_1M = {"rope_theta": 1e6}
# Llama-3's own rope scaling ("llama3") turned up: wavelengths over 64 tokens slowed 1e4-fold, those under 16 kept,
# so 10 of each 16-dim head's dims hardly turn over a sequence: the nearest a LlamaForCausalLM (which rotates every
# dim of a head) comes to Phi's unrotated half, and a config hybridize and transformers both load.
LLAMA3_SLOW = {"rope_scaling": {"rope_type": "llama3", "factor": 1e4, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                "original_max_position_embeddings": 64}}
# Every variant is BASE with these keys replaced (`config`: keys merged into the base config.json of its arch).
VARIANTS = {
    # phi-spread's own recipe and init seed: run 7 learnt retrieval this way (WebGPU, 1,691 steps).
    "phi": dict(arch="phi", seed=12),
    # The same recipe on llama-tiny's shape (6 x 8 heads of 16, GQA 4 KV heads, tied, rope_theta 1e4).
    "llama": dict(),
    # Slow rotary pairs almost position-free, as Phi's unrotated half of each head is.
    "llama-theta1m": dict(config=THETA_1M),
    # Heads of 32: width 256, 8 query heads, 4 KV heads (still 48 heads).
    "llama-hd32": dict(config={"hidden_size": 256, "intermediate_size": 768, "head_dim": 32}),
    # A lower peak rate (runs at 1e-2 may have been too hot for SwiGLU and RMSNorm).
    "llama-lr3e-3": dict(lr=3e-3),
    # MQAR (Zoology): many questions about each dictionary.
    "llama-mqar": dict(data=dict(queries=16)),
    # More running text: four times the rows, at full weight.
    "llama-theta1m-text": dict(config=THETA_1M, text_weight=1.0, data=dict(textRows=16)),
    # Four times the rows a step: the GPU has room, and the answers are few per row.
    "llama-theta1m-big": dict(config=THETA_1M, data=dict(kvRows=128, textRows=16, lookBackRows=64)),
    # Thirteenth-session sweep: llama-lr3e-3 (the only Llama whose val curve moved) with one of the Phi's differences
    # each, then all of them at once; a lower rate; a smaller init.
    "llama-lr1e-3": dict(lr=1e-3),
    "llama-lr3e-3-std04": dict(lr=3e-3, init_std=0.04),
    # 8 KV heads as the Phi has (no longer GQA: a diagnostic, not a candidate teacher).
    "llama-lr3e-3-kv8": dict(lr=3e-3, config={"num_key_value_heads": 8}),
    "llama-lr3e-3-untied": dict(lr=3e-3, config={"tie_word_embeddings": False}),
    # Biases on q, k, v and o, as Phi's attention has.
    "llama-lr3e-3-bias": dict(lr=3e-3, config={"attention_bias": True}),
    "llama-lr3e-3-slowrope": dict(lr=3e-3, config=LLAMA3_SLOW),
    "llama-phi-like": dict(lr=3e-3, config={"tie_word_embeddings": False, "attention_bias": True, **LLAMA3_SLOW}),
    # None of those moved the Llama, so the other way round: the Phi that learns, with one of the Llama's traits.
    "phi-rot1": dict(arch="phi", seed=12, config={"partial_rotary_factor": 1.0}),
    "phi-kv4": dict(arch="phi", seed=12, config={"num_key_value_heads": 4}),
    "phi-rot1-kv4": dict(arch="phi", seed=12, config={"partial_rotary_factor": 1.0, "num_key_value_heads": 4}),
}
WARMUP = 120
DECAY_FRACTION = 0.2
FLOOR_LR = 1e-8
FRAME_MAGIC = 0x3154414E
# Seconds kept back from the deadline for the last evaluation and the saves.
RESERVE_S = 25


def variant_settings(name, override):
    """VARIANTS[name], or for NAME_sN the same with another draw: init seed + 1000 N, data seed N."""
    base_name, _, draw = name.partition("_s")
    if base_name not in VARIANTS or not (draw == "" or draw.isdigit()):
        sys.exit(f"train-natural-teacher: unknown variant {name!r}; known: {', '.join(VARIANTS)}, each also as NAME_sN")
    variant = VARIANTS[base_name]
    v = {**BASE, **variant, **override}
    for merged in ("config", "data"):
        v[merged] = {**BASE[merged], **variant.get(merged, {}), **override.get(merged, {})}
    if draw:
        v["seed"] += 1000 * int(draw)
        v["data"]["dataSeed"] = int(draw)
    return v


def build_model(v, data_dir):
    base = json.loads((data_dir / "configs.json").read_text())[v["arch"]]
    cfg = {k: val for k, val in {**base, **v["config"]}.items() if k not in ("architectures", "transformers_version", "torch_dtype")}
    cfg["initializer_range"] = v["init_std"]
    config_cls, model_cls = (LlamaConfig, LlamaForCausalLM) if v["arch"] == "llama" else (PhiConfig, PhiForCausalLM)
    model = model_cls(config_cls(**cfg))
    init_weights(model, v["init_std"], v["seed"])
    return model


def init_weights(model, std, seed):
    """As src/fixtures/init-weights.ts: matrices uniform with standard deviation `std`, the projections into the
    residual stream scaled by 1/sqrt(2 layers) (GPT-2), norm weights 1, biases 0."""
    g = torch.Generator().manual_seed(seed)
    residual = 1 / math.sqrt(2 * model.config.num_hidden_layers)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.fill_(1.0 if name.endswith(".weight") else 0.0)
            elif p.dim() == 2:
                to_residual = any(name.endswith(f"{m}.weight") for m in ("o_proj", "dense", "down_proj", "fc2"))
                half = std * math.sqrt(3) * (residual if to_residual else 1)
                p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) * half)
            else:
                p.zero_()


def optimizer_for(model, v, device):
    """AdamW as the fixture trainer's (β 0.9/0.95, eps 1e-8), no decay on norms and biases (optimizer.ts isNoDecay)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if "norm" in name.lower() or name.endswith("bias") else decay).append(p)
    groups = [{"params": decay, "weight_decay": v["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=0.0, betas=(0.9, 0.95), eps=1e-8, fused=device.type == "cuda")


def learning_rate(step, peak, decay_start, decay_steps):
    if step < WARMUP:
        return peak * step / WARMUP
    if decay_start is None or step < decay_start:
        return peak
    progress = min(1.0, (step - decay_start + 1) / decay_steps)
    return peak + (FLOOR_LR - peak) * progress


class FrameReader:
    """Steps from the TypeScript data stream (natural-data.ts encodeFrame), read a few steps ahead on a thread."""

    def __init__(self, cmd, data_dir, recipe, first_step):
        self.proc = subprocess.Popen([*cmd, "stream", str(data_dir), json.dumps(recipe), str(first_step)], stdout=subprocess.PIPE)
        self.frames = queue.Queue(maxsize=16)
        self.pin = torch.cuda.is_available()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        f = self.proc.stdout
        while True:
            head = f.read(32)
            if len(head) < 32:
                self.frames.put(None)
                return
            magic, step, rows, seq, kv_rows, text_rows, look_back_rows, pairs = struct.unpack("<8i", head)
            if magic != FRAME_MAGIC:
                self.frames.put(None)
                return
            body = np.frombuffer(f.read(4 * rows * seq), dtype="<i2").astype(np.int64)
            ids = torch.from_numpy(body[: rows * seq].reshape(rows, seq).copy())
            labels = torch.from_numpy(body[rows * seq :].copy())
            # Where the labels are, each part's weight (1 / its labels), worked out here so the GPU never waits on it.
            positions = torch.nonzero(labels >= 0)[:, 0]
            row = positions // seq
            bounds = [0, kv_rows, kv_rows + text_rows, rows]
            weights = torch.zeros(3, len(positions))
            for p in range(3):
                in_part = (row >= bounds[p]) & (row < bounds[p + 1])
                weights[p, in_part] = 1 / max(1, int(in_part.sum()))
            tensors = dict(ids=ids, positions=positions, targets=labels[positions], weights=weights)
            if self.pin:
                tensors = {k: t.pin_memory() for k, t in tensors.items()}
            self.frames.put(dict(step=step, pairs=pairs, **tensors))

    def next(self, step):
        frame = self.frames.get()
        if frame is None:
            raise RuntimeError(f"the data stream ended (exit status {self.proc.poll()}) before step {step}")
        if frame["step"] != step:
            raise RuntimeError(f"the data stream sent step {frame['step']} for step {step}")
        return frame

    def close(self):
        self.proc.kill()
        self.proc.wait()


def autocast(device):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


def train_losses(model, frame, device):
    """Mean cross-entropy of each part's labelled positions (kv answers, text, look-back), logits only where a label is."""
    ids, positions, targets, weights = (frame[k].to(device, non_blocking=True) for k in ("ids", "positions", "targets", "weights"))
    with autocast(device):
        hidden = model.model(input_ids=ids).last_hidden_state
        logits = model.lm_head(hidden.reshape(-1, hidden.shape[-1])[positions]).float()
    token_loss = F.cross_entropy(logits, targets, reduction="none")
    return list(weights @ token_loss)


@torch.no_grad()
def evaluate(model, eval_sets, pad_id, device, all_choices=True, rows_per_batch=256):
    """Per dictionary size: acc, argmax_acc, exact_acc as hybridize eval scores them (heads/choice-scoring.ts).
    Without `all_choices` only the answer's row runs, and acc (which needs every candidate) is left out."""
    model.eval()
    out = {}
    for s in eval_sets:
        # One row per (item, choice): the prompt's ids and the choice's.
        rows = [(i, c, item["context"] + choice, len(item["context"]))
                for i, item in enumerate(s["items"])
                for c, choice in enumerate(item["choices"]) if all_choices or c == item["answer"]]
        ll, greedy, first = {}, {}, {}
        for b in range(0, len(rows), rows_per_batch):
            chunk = rows[b : b + rows_per_batch]
            ids = torch.full((len(chunk), max(len(r[2]) for r in chunk)), pad_id, dtype=torch.long)
            row_of, pos_of, first_of = [], [], []
            for j, (_, _, row_ids, start) in enumerate(chunk):
                ids[j, : len(row_ids)] = torch.tensor(row_ids)
                first_of.append(len(pos_of))
                row_of += [j] * (len(row_ids) - start)
                pos_of += range(start - 1, len(row_ids) - 1)
            ids = ids.to(device)
            row_of = torch.tensor(row_of, device=device)
            pos_of = torch.tensor(pos_of, device=device)
            targets = ids[row_of, pos_of + 1]
            with autocast(device):
                logits = model.lm_head(model.model(input_ids=ids).last_hidden_state[row_of, pos_of]).float()
            token_ll = torch.log_softmax(logits, -1).gather(1, targets[:, None])[:, 0]
            hit = (logits.argmax(-1) == targets).float()
            row_ll = torch.zeros(len(chunk), device=device).index_add_(0, row_of, token_ll).tolist()
            row_misses = torch.zeros(len(chunk), device=device).index_add_(0, row_of, 1 - hit).tolist()
            hit = hit.tolist()
            for j, (i, c, _, _) in enumerate(chunk):
                ll[i, c], greedy[i, c], first[i, c] = row_ll[j], row_misses[j] == 0, hit[first_of[j]] == 1
        n = len(s["items"])
        scores = dict(argmax_acc=sum(first[i, item["answer"]] for i, item in enumerate(s["items"])) / n,
                      exact_acc=sum(greedy[i, item["answer"]] for i, item in enumerate(s["items"])) / n)
        if all_choices:
            # First best on ties, as choice-scoring.ts.
            lls = [[ll[i, c] for c in range(len(item["choices"]))] for i, item in enumerate(s["items"])]
            if not all(math.isfinite(x) for row in lls for x in row):
                raise RuntimeError(f"non-finite log-likelihood at {s['pairs']} pairs")
            scores["acc"] = sum(row.index(max(row)) == item["answer"] for row, item in zip(lls, s["items"])) / n
        out[f"pairs={s['pairs']}"] = dict(**scores, samples=n)
    model.train()
    return out


def save_hf(model, folder, data_dir, training):
    """A transformers folder as the other fixtures are: bf16 safetensors, config in the v4 layout, the fixture
    tokenizer, training.json; written beside `folder` and renamed into place."""
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    state = {k: t.detach().to("cpu", torch.bfloat16) for k, t in model.state_dict().items()}
    if model.config.tie_word_embeddings:
        state.pop("lm_head.weight", None)
    model.save_pretrained(tmp, state_dict=state, safe_serialization=True)
    to_v4_layout(tmp)
    config = json.loads((tmp / "config.json").read_text())
    (tmp / "config.json").write_text(json.dumps({**config, "torch_dtype": "bfloat16"}, indent=2, sort_keys=True) + "\n")
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(data_dir / f, tmp / f)
    (tmp / "training.json").write_text(json.dumps(training, indent=2) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)


def save_state(path, model, opt, step):
    """Weights in fp32, Adam's moments in bf16 (load_state_dict casts them back to the weights' dtype): small enough
    for a device call to bring back (natural-teachers-pack.py)."""
    optimizer = opt.state_dict()
    # New dicts: the packed state shares its per-weight dicts with the live optimizer.
    optimizer["state"] = {k: {key: t.to(torch.bfloat16) if key.startswith("exp_avg") else t for key, t in st.items()}
                          for k, st in optimizer["state"].items()}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(dict(model=model.state_dict(), optimizer=optimizer, step=step), tmp)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("variant")
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--end-at", type=float, required=True, help="when this process must be done, saves included (time.time())")
    ap.add_argument("--data-cmd", default="node .gpu/natural-teacher-data.mjs")
    ap.add_argument("--resume", type=Path)
    ap.add_argument("--max-steps", type=int, default=40000, help="the decay starts at 80 %% of this, if time allows")
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--override", default="{}", help="JSON merged over the variant (for tiny CPU checks)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    started = time.time()
    end_training = args.end_at - RESERVE_S
    torch.set_num_threads(1)
    hf_logging.disable_progress_bar()
    device = torch.device(args.device)
    v = variant_settings(args.variant, json.loads(args.override))
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(v["seed"])
    model = build_model(v, args.data).to(device)
    model.train()
    opt = optimizer_for(model, v, device)
    step, best = 0, dict(step=None, score=-1.0, val=None)
    if args.resume:
        state = torch.load(args.resume, map_location=device)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        # best/ stays with the earlier call: this one picks among its own checkpoints.
        step = state["step"]
    first_step = step
    eval_sets = {name: json.loads((args.data / f"eval-{name}.json").read_text()) for name in ("val", "test")}
    pad_id = json.loads((args.data / "configs.json").read_text())[v["arch"]]["pad_token_id"]
    log = (args.out / "log.jsonl").open("a")

    def record(entry):
        log.write(json.dumps(entry) + "\n")
        log.flush()

    training = dict(variant=args.variant, settings=v, resumed_from=str(args.resume) if args.resume else None,
                    warmup=WARMUP, decay_fraction=DECAY_FRACTION, device=torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
                    trainer="scripts/train-natural-teacher.py (PyTorch, bf16 autocast)", data="scripts/natural-teacher-data.ts",
                    eval="kv-retrieval, held-out keys (key-halves.ts), val seed 5000 picks best/, test seed 6000 scores it")

    def run_eval():
        val = evaluate(model, eval_sets["val"], pad_id, device, all_choices=False)
        record(dict(step=step, val=val, seconds=round(time.time() - started, 1)))
        score = val["pairs=20"]["exact_acc"]
        print(f"{args.variant} step {step}: val exact at 10/20/40 pairs "
              + " / ".join(f"{val[k]['exact_acc']:.2f}" for k in val), file=sys.stderr, flush=True)
        if score >= best["score"]:
            best.update(step=step, score=score, val=val)
            save_hf(model, args.out / "best", args.data, {**training, "step": step, "val": val})

    reader = FrameReader(shlex.split(args.data_cmd), args.data, v["data"], step)
    decay_start = decay_steps = None
    t0 = time.time()
    try:
        while decay_start is None or step < decay_start + decay_steps:
            now = time.time()
            if now >= end_training + RESERVE_S / 2:
                print(f"{args.variant}: out of time at step {step}" + ("" if decay_start is None else ", during the decay"), file=sys.stderr)
                if decay_start is None:
                    save_state(args.out / "state-stable.pt", model, opt, step)
                break
            # The speed is measured over this call's steps only, so a resumed run takes some before deciding.
            if decay_start is None and step > WARMUP and step - first_step >= 50:
                rate = (step - first_step) / (now - t0)
                wanted = math.ceil(step * DECAY_FRACTION / (1 - DECAY_FRACTION))
                if step >= (1 - DECAY_FRACTION) * args.max_steps or (end_training - now) * rate <= wanted:
                    decay_start, decay_steps = step, wanted
                    save_state(args.out / "state-stable.pt", model, opt, step)
                    record(dict(step=step, decay_start=step, decay_steps=wanted, steps_per_s=round(rate, 2)))
                    print(f"{args.variant}: decay from step {step} over {wanted} steps ({rate:.1f} steps/s)", file=sys.stderr, flush=True)
            lr = learning_rate(step, v["lr"], decay_start, decay_steps)
            for group in opt.param_groups:
                group["lr"] = lr
            frame = reader.next(step)
            kv, text, look_back = train_losses(model, frame, device)
            loss = kv + v["text_weight"] * text + v["look_back_weight"] * look_back
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), v["clip"])
            opt.step()
            if step % 50 == 0:
                values = [x.item() for x in (loss, kv, text, look_back)]
                if not all(math.isfinite(x) for x in values):
                    raise RuntimeError(f"non-finite loss at step {step}: {values}")
                record(dict(step=step, loss=round(values[0], 5), kv_loss=round(values[1], 5), text_loss=round(values[2], 5),
                            look_back_loss=round(values[3], 5), lr=lr, pairs=frame["pairs"], seconds=round(time.time() - started, 1)))
            step += 1
            if step % args.eval_every == 0:
                run_eval()
    finally:
        reader.close()
    if step % args.eval_every != 0:
        run_eval()
    test = evaluate(load_best(args.out / "best", v, device), eval_sets["test"], pad_id, device) if best["step"] is not None else None
    result = dict(variant=args.variant, steps_run=step, first_step=first_step, decay_start=decay_start, decay_steps=decay_steps,
                  best_step=best["step"], val=best["val"], test=test, seconds=round(time.time() - started, 1))
    (args.out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"{args.variant}: {json.dumps(result)}", file=sys.stderr, flush=True)


def load_best(folder, v, device):
    """best/ as saved (bf16 weights), in fp32: the figures are those of the checkpoint that ships."""
    model_cls = LlamaForCausalLM if v["arch"] == "llama" else PhiForCausalLM
    return model_cls.from_pretrained(folder, dtype=torch.float32).to(device)


if __name__ == "__main__":
    main()
