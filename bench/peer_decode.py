"""Decode PEER, not part of hybridize: transformers' generate with a static cache in bfloat16 on the same GPU and
the same teacher folder as bench/decode-sweep.mjs, so BENCHMARKS.md can set our decode tokens/s beside it.

    python3 bench/peer_decode.py TEACHER_DIR [--contexts 1024,...,32768] [--max-batch 256] [--steps 16]
        [--seconds 150] > peer-decode.jsonl

One JSON line per (context, batch): batches 1, 2, 4, ... up to --max-batch at each context, in order of
batch x context (as the sweep runs its cells), so the largest are the ones --seconds leaves out (a cell starts only
while twice the last cell's time is left); a batch that runs
out of memory ends its context. A cell is one generate call over random prompts [batch, context], greedy, exactly
--steps + 1 new tokens (min_new_tokens), timed by a stopping criterion that synchronises after each token:
  prefill_tok_s  batch * context / (start -> first token)
  decode_tok_s   batch * steps / (first token -> last token)
  peak_bytes     torch.cuda.max_memory_allocated() during the call (weights included)
  kv_bytes_per_seq   the static cache of one sequence: 2 * layers * kv heads * head dim * 2 bytes * capacity
"""
import argparse
import json
import sys
import time

import torch
from transformers import AutoModelForCausalLM, StoppingCriteria, StoppingCriteriaList


class Clock(StoppingCriteria):
    """Never stops generation; records when each new token is ready."""

    def __init__(self):
        self.times = []

    def __call__(self, input_ids, scores, **kwargs):
        torch.cuda.synchronize()
        self.times.append(time.perf_counter())
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


def cells(contexts, max_batch):
    out = []
    for c in contexts:
        b = 1
        while b <= max_batch:
            out.append((c, b))
            b *= 2
    return sorted(out, key=lambda cell: (cell[0] * cell[1], cell[0]))


def run_cell(model, vocab, context, batch, steps):
    gen = torch.Generator(device="cuda").manual_seed(context * 1000 + batch)
    ids = torch.randint(0, vocab, (batch, context), device="cuda", generator=gen)
    clock = Clock()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=steps + 1, min_new_tokens=steps + 1,
                   do_sample=False, cache_implementation="static", stopping_criteria=StoppingCriteriaList([clock]),
                   pad_token_id=0)
    t = clock.times
    return {
        "prefill_tok_s": batch * context / (t[0] - start),
        "decode_tok_s": batch * (len(t) - 1) / (t[-1] - t[0]),
        "step_ms": 1000 * (t[-1] - t[0]) / (len(t) - 1),
        "peak_bytes": torch.cuda.max_memory_allocated(),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("teacher")
    ap.add_argument("--contexts", default="1024,2048,4096,8192,16384,32768")
    ap.add_argument("--max-batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=150)
    args = ap.parse_args()
    began = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(args.teacher, dtype=torch.bfloat16).cuda().eval()
    cfg = model.config
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    kv_per_token = 2 * cfg.num_hidden_layers * cfg.num_key_value_heads * head_dim * 2
    device = torch.cuda.get_device_name()
    common = {"model": "transformers", "kind": "teacher", "dtype": "bfloat16", "cache": "static", "device": device,
              "transformers": __import__("transformers").__version__, "torch": torch.__version__}
    print(f"peer: {device}, weights {torch.cuda.memory_allocated() / 2**30:.2f} GiB", file=sys.stderr)
    with torch.inference_mode():
        run_cell(model, cfg.vocab_size, 64, 1, 2)  # warm-up: kernels, cuBLAS handles
        failed = set()
        last = 0.0  # seconds of the last cell run: a cell is skipped unless twice that is left
        for context, batch in cells([int(c) for c in args.contexts.split(",")], args.max_batch):
            line = dict(common, context=context, batch=batch, kv_bytes_per_seq=kv_per_token * (context + args.steps + 1))
            if context in failed or time.perf_counter() - began + 2 * last > args.seconds:
                line["status"] = "skipped"
            else:
                print(f"peer: context {context}, batch {batch}", file=sys.stderr)
                cell_start = time.perf_counter()
                try:
                    line.update(run_cell(model, cfg.vocab_size, context, batch, args.steps), status="ok")
                except (torch.cuda.OutOfMemoryError, RuntimeError) as err:  # cuBLAS reports running out as a RuntimeError
                    failed.add(context)
                    line.update(status="error", error=str(err).split("\n")[0][:200])
                torch.cuda.empty_cache()
                last = time.perf_counter() - cell_start
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
