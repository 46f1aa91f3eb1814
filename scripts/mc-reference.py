#!/usr/bin/env python3
"""Score a multiple-choice JSONL file with transformers exactly as lm-evaluation-harness 0.4 scores a
`multiple_choice` task, and write what it computed as the reference `hybridize eval --tasks mc:FILE`
is checked against (test/eval/mc-heldout-reference.test.ts).

Each line of the task file is {"context": "...", "choices": ["...", ...], "gold": i}, scored as lm-eval's
ConfigurableTask with doc_to_text = context, doc_to_choice = choices, doc_to_target = gold and the
default target_delimiter " ":

- request per choice: loglikelihood(context, " " + choice) (task.py, construct_requests);
- HFLM._encode_pair (models/huggingface.py): trailing whitespace of the context moves to the start of
  the continuation; context + continuation is encoded whole and the context alone, both without
  special tokens, and the continuation's tokens are the whole encoding past the context's length;
- HFLM._loglikelihood_tokens: input (context + continuation)[-(max_length + 1):][:-1], log_softmax of
  the logits, the continuation's rows; logprob = their sum at the continuation tokens (float32, as
  lm-eval sums), is_greedy = every continuation token is the argmax;
- process_results: acc = argmax(logprobs) == gold; acc_norm = argmax(logprobs / len(choice)) == gold,
  len being the choice's length in characters (without the delimiter); np.argmax takes the first of
  equal values;
- aggregation: the mean, and its stderr as lm-eval's mean_stderr: sample standard deviation
  (n - 1) over sqrt(n).

The model is loaded with from_pretrained in float32 (the fixture teachers' bf16 weights widen exactly),
eager attention, on the CPU (no TF32, no fused kernels), one request per forward (lm-eval batches with
right padding, which leaves the rows it scores unchanged). The tokenizer is AutoTokenizer's, as HFLM
loads it (the fixtures name PreTrainedTokenizerFast: tokenizer.json through the Rust tokenizers).

Usage, from the repository root (needs torch and transformers, which the GPU machine has):

    python3 scripts/mc-reference.py --task fixtures/tasks/mc-heldout-12.jsonl \\
        --out fixtures/reference/mc-heldout-12 fixtures/llama-tiny fixtures/phi-tiny

writes <out>/<model folder name>.json for each model. scripts/mc-reference-h200.sh runs it there.
"""

import argparse
import json
import math
import platform
import sys
from pathlib import Path

# lm-eval's default target_delimiter for multiple_choice tasks.
TARGET_DELIMITER = " "


def read_items(path):
    items = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        doc = json.loads(line)
        if "target_delimiter" in doc:
            # lm-eval ignores a document's own delimiter and hybridize honours it: keep them out.
            raise SystemExit(f"{path}:{number}: an item sets target_delimiter; this reference uses the task's ' ' only")
        if not doc["context"] or not 0 <= doc["gold"] < len(doc["choices"]):
            raise SystemExit(f"{path}:{number}: needs a context and a gold index into choices")
        items.append(doc)
    return items


def encode_pair(encode, context, continuation):
    """HFLM._encode_pair: the context's and the continuation's token ids."""
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces > 0:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    whole = encode(context + continuation)
    context_ids = encode(context)
    return context_ids, whole[len(context_ids):]


def argmax(values):
    """np.argmax: the first of the largest."""
    return max(range(len(values)), key=lambda i: (values[i], -i))


def mean_stderr(values):
    """lm-eval's mean_stderr: sample standard deviation over sqrt(n)."""
    n = len(values)
    mu = sum(values) / n
    return math.sqrt(sum((x - mu) ** 2 for x in values) / (n - 1)) / math.sqrt(n)


def score_items(items, encode, continuation_logprobs):
    """Every item's requests, logprobs and acc/acc_norm, and the task's metrics in lm-eval's names.

    continuation_logprobs(context_ids, continuation_ids) -> (sum of logprobs, is_greedy).
    """
    scored = []
    for doc in items:
        choices = doc["choices"]
        continuations = [TARGET_DELIMITER + c for c in choices]
        pairs = [encode_pair(encode, doc["context"], c) for c in continuations]
        for c, (context_ids, continuation_ids) in zip(continuations, pairs):
            if not continuation_ids:
                raise SystemExit(f"{c!r} adds no token to the context {doc['context']!r}")
        results = [continuation_logprobs(ctx, cont) for ctx, cont in pairs]
        logprobs = [lp for lp, _ in results]
        scored.append({
            "context": doc["context"],
            "choices": choices,
            "gold": doc["gold"],
            "continuations": continuations,
            "context_tokens": pairs[0][0],
            "continuation_tokens": [cont for _, cont in pairs],
            "logprobs": logprobs,
            "is_greedy": [greedy for _, greedy in results],
            "acc": 1.0 if argmax(logprobs) == doc["gold"] else 0.0,
            "acc_norm": 1.0 if argmax([lp / len(c) for lp, c in zip(logprobs, choices)]) == doc["gold"] else 0.0,
        })
    acc = [s["acc"] for s in scored]
    acc_norm = [s["acc_norm"] for s in scored]
    metrics = {
        "acc,none": sum(acc) / len(acc),
        "acc_stderr,none": mean_stderr(acc),
        "acc_norm,none": sum(acc_norm) / len(acc_norm),
        "acc_norm_stderr,none": mean_stderr(acc_norm),
    }
    return scored, metrics


def transformers_scorer(folder, texts):
    """encode and continuation_logprobs for a model folder, as HFLM runs it (float32, CPU, eager).

    `texts`: strings the tokenizer must encode as tokenizer.json does through PreTrainedTokenizerFast.
    """
    import torch
    import torch.nn.functional as F
    from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerFast

    tokenizer = AutoTokenizer.from_pretrained(folder)
    plain = PreTrainedTokenizerFast(tokenizer_file=str(Path(folder) / "tokenizer.json"))
    for text in texts:
        if tokenizer.encode(text, add_special_tokens=False) != plain.encode(text, add_special_tokens=False):
            raise SystemExit(f"{folder}: AutoTokenizer and tokenizer.json encode {text!r} differently")
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()
    # HFLM.max_length: the config's max_position_embeddings (these models have no n_positions or n_ctx).
    max_length = model.config.max_position_embeddings

    def encode(text):
        return tokenizer.encode(text, add_special_tokens=False)

    @torch.no_grad()
    def continuation_logprobs(context_ids, continuation_ids):
        inp = torch.tensor([(context_ids + continuation_ids)[-(max_length + 1):][:-1]], dtype=torch.long)
        logits = F.log_softmax(model(inp).logits, dim=-1)[0]
        rows = logits[inp.shape[1] - len(continuation_ids):inp.shape[1]]
        targets = torch.tensor(continuation_ids, dtype=torch.long)
        is_greedy = bool((rows.argmax(dim=-1) == targets).all())
        return float(torch.gather(rows, 1, targets.unsqueeze(-1)).sum()), is_greedy

    versions = {"torch": torch.__version__, "transformers": __import__("transformers").__version__, "python": platform.python_version()}
    return encode, continuation_logprobs, {"tokenizer_class": type(tokenizer).__name__, "model_class": type(model).__name__, "versions": versions}


def reference(task, model, items, encode, continuation_logprobs, about):
    scored, metrics = score_items(items, encode, continuation_logprobs)
    return {
        "task": task,
        "model": model,
        "scoring": "lm-evaluation-harness 0.4 multiple_choice (HFLM): scripts/mc-reference.py",
        "dtype": "float32",
        "device": "cpu",
        **about,
        "metrics": metrics,
        "items": scored,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", required=True, help="the multiple-choice JSONL file")
    parser.add_argument("--out", required=True, help="folder for <model>.json")
    parser.add_argument("models", nargs="+", help="transformers model folders")
    args = parser.parse_args()
    items = read_items(args.task)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    texts = [doc["context"] + TARGET_DELIMITER + c for doc in items for c in doc["choices"]] + [doc["context"] for doc in items]
    for model in args.models:
        encode, continuation_logprobs, about = transformers_scorer(model, texts)
        result = reference(args.task, model, items, encode, continuation_logprobs, about)
        path = out / f"{Path(model).name}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        tmp.rename(path)
        m = result["metrics"]
        print(f"{model}: acc {m['acc,none']:.4f} ± {m['acc_stderr,none']:.4f}, acc_norm {m['acc_norm,none']:.4f} ± {m['acc_norm_stderr,none']:.4f} -> {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
