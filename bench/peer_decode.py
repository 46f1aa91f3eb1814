"""Decode PEER, not part of hybridize: transformers' Llama with a static KV cache in bfloat16 (SDPA attention,
torch.compile off) on the same GPU and the same teacher folder as bench/decode-sweep.mjs, so BENCHMARKS.md can set our
decode tokens/s beside it.

    python3 bench/peer_decode.py TEACHER_DIR [--contexts 1024,...,32768] [--first 8192] [--max-batch 1024]
        [--steps 16] [--seconds 150] [--cell-seconds 4] [--prefill-tokens 16384] > peer-decode.jsonl

Why not `generate(..., cache_implementation="static")`: transformers compiles the forward for a static cache
(torch.compile), and does so again for every new batch and length, so each cell timed a compilation (the first sweep's
~1 tok/s). Here the loop is generate's greedy loop written out: a StaticCache of the cell's length, one forward of one
token per sequence at `cache_position` (logits of that position only), the argmax fed to the next step, every step
on the device; the timed region is the decode steps alone, after two warm-up steps, between cuda synchronizes.

Cells as the sweep runs them (bench/decode-sweep.ts#planCells): at each context the largest batch that fits, from
the free memory after the weights over one sequence's KV cache and step activations (capped by --max-batch), the
--first contexts leading, then halvings of each, level by level, batch 1 last. A batch that runs out of memory rules
out larger ones at its context; a cell starts only while the last cell's time is left before --seconds.
A cell whose batch x context is at most --prefill-tokens is prefilled for real (chunks of 4,096 tokens); a larger one
decodes from `cache_position` = context over an unfilled cache, as the sweep does: a static cache's attention reads
all of its rows (masked) whatever they hold, so the step costs the same.
  decode_tok_s   batch * timed steps / their seconds
  step_ms        milliseconds a step
  peak_bytes     torch.cuda.max_memory_allocated() during the cell (weights included)
  kv_bytes_per_seq   the static cache of one sequence: 2 * layers * kv heads * head dim * 2 bytes * capacity
"""
import argparse
import gc
import json
import sys
import time

import torch
from transformers import AutoModelForCausalLM, StaticCache

WARMUP_STEPS = 2
MIN_TIMED_STEPS = 2
PREFILL_CHUNK_TOKENS = 4096


def plan_cells(contexts, largest_at, first):
    """Every context's largest batch, the first contexts leading, then halvings level by level (planCells in decode-sweep.ts)."""
    ordered = [c for c in contexts if c in first] + [c for c in contexts if c not in first]
    ladders = []
    for c in ordered:
        ladder, b = [], largest_at(c)
        while b >= 1:
            ladder.append((c, b))
            b //= 2
        ladders.append(ladder)
    return [ladder[level] for level in range(max(map(len, ladders), default=0)) for ladder in ladders if level < len(ladder)]


def static_cache(model, batch, length):
    """A StaticCache of `length` positions: transformers 5 sizes its layers from the first update; 4.x takes the batch."""
    try:
        return StaticCache(config=model.config, max_cache_len=length)
    except TypeError:
        return StaticCache(config=model.config, max_batch_size=batch, max_cache_len=length, device=model.device, dtype=model.dtype)


def step(model, ids, cache, position):
    """One cached forward of ids [B, T] at positions position.. -> the argmax of the last position [B, 1]."""
    positions = torch.arange(position, position + ids.shape[1], device=ids.device)
    logits = model(input_ids=ids, past_key_values=cache, cache_position=positions, use_cache=True, logits_to_keep=1).logits
    return logits[:, -1].argmax(-1, keepdim=True)


def run_cell(model, vocab, context, batch, args):
    gen = torch.Generator(device="cuda").manual_seed(context * 1000 + batch)
    cache = static_cache(model, batch, context + WARMUP_STEPS + args.steps)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    out = {}
    if batch * context <= args.prefill_tokens:
        chunk = max(1, PREFILL_CHUNK_TOKENS // batch)
        start = time.perf_counter()
        for s in range(0, context, chunk):
            ids = torch.randint(0, vocab, (batch, min(chunk, context - s)), device="cuda", generator=gen)
            tokens = step(model, ids, cache, s)
        torch.cuda.synchronize()
        out.update(prefill="real", prefill_tok_s=batch * context / (time.perf_counter() - start))
    else:
        tokens = torch.randint(0, vocab, (batch, 1), device="cuda", generator=gen)
        out.update(prefill="skipped")
    position = context
    for _ in range(WARMUP_STEPS):
        tokens = step(model, tokens, cache, position)
        position += 1
    torch.cuda.synchronize()
    start = time.perf_counter()
    timed = 0
    # The clock is read between steps without a synchronize (the device runs ahead); the last one is synchronized.
    while timed < args.steps and (timed < MIN_TIMED_STEPS or time.perf_counter() - start < args.cell_seconds):
        tokens = step(model, tokens, cache, position)
        position += 1
        timed += 1
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    out.update(decode_tok_s=batch * timed / seconds, step_ms=1000 * seconds / timed, timed_steps=timed,
               peak_bytes=torch.cuda.max_memory_allocated())
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("teacher")
    ap.add_argument("--contexts", default="1024,2048,4096,8192,16384,32768")
    ap.add_argument("--first", default="8192")
    ap.add_argument("--max-batch", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=150)
    ap.add_argument("--cell-seconds", type=float, default=4)
    ap.add_argument("--prefill-tokens", type=int, default=16384)
    args = ap.parse_args()
    began = time.perf_counter()
    torch.set_grad_enabled(False)
    model = AutoModelForCausalLM.from_pretrained(args.teacher, dtype=torch.bfloat16, attn_implementation="sdpa").cuda().eval()
    cfg = model.config
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    kv_per_token = 2 * cfg.num_hidden_layers * cfg.num_key_value_heads * head_dim * 2
    # A step's activations per sequence: the logits row (bf16, and f32 where upcast) and a few hidden-size vectors.
    act_per_seq = 6 * cfg.vocab_size + 64 * cfg.hidden_size + 8 * cfg.intermediate_size
    device = torch.cuda.get_device_name()
    common = {"model": "transformers", "kind": "teacher", "dtype": "bfloat16", "cache": "static", "attention": "sdpa",
              "device": device, "transformers": __import__("transformers").__version__, "torch": torch.__version__}
    free = torch.cuda.mem_get_info()[0]
    print(f"peer: {device}, weights {torch.cuda.memory_allocated() / 2**30:.2f} GiB, {free / 2**30:.1f} GiB free", file=sys.stderr)
    capacity = lambda c: c + WARMUP_STEPS + args.steps
    fits = {c: int(0.9 * free // (kv_per_token * capacity(c) + act_per_seq)) for c in map(int, args.contexts.split(","))}
    first = [int(c) for c in args.first.split(",")]
    run_cell(model, cfg.vocab_size, 64, 1, argparse.Namespace(**{**vars(args), "steps": 2}))  # warm-up: kernels, cuBLAS handles
    failed = {}  # context -> the smallest batch that ran out of memory
    last = 0.0
    for context, batch in plan_cells(list(fits), lambda c: min(args.max_batch, fits[c]), first):
        line = dict(common, context=context, batch=batch, fits_batch=fits[context], kv_bytes_per_seq=kv_per_token * capacity(context))
        if batch >= failed.get(context, float("inf")) or time.perf_counter() - began + last > args.seconds:
            line["status"] = "skipped"
        else:
            print(f"peer: context {context}, batch {batch}", file=sys.stderr)
            cell_start = time.perf_counter()
            try:
                line.update(run_cell(model, cfg.vocab_size, context, batch, args), status="ok")
            except (torch.cuda.OutOfMemoryError, RuntimeError) as err:  # cuBLAS reports running out as a RuntimeError
                failed[context] = min(batch, failed.get(context, batch))
                line.update(status="error", error=str(err).split("\n")[0][:200])
            gc.collect()
            torch.cuda.empty_cache()
            last = time.perf_counter() - cell_start
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
