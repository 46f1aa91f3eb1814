import {Args} from '@oclif/core'
import {evaluate} from '../api/evaluate.js'
import {BaseCommand} from '../cli/base-command.js'
import {EVAL_FLAGS, evaluateRequest, reportEvaluation} from '../cli/steps/eval.js'
import type {EvalRun} from '../eval/lm-eval-results.js'

interface EvalResult {
  models: {model: string; results: EvalRun['results']}[]
  files: string[]
}

export default class Eval extends BaseCommand {
  static override summary = 'Evaluate models side by side: perplexity, retrieval, multiple choice, sampled answers.'

  static override description = `Runs each task on each model and prints one table with a column per model (teacher
and students). Metric names and the results JSON follow lm-evaluation-harness ("acc,none",
"acc_stderr,none", ...). Tasks:
  ppl:<file>[,<file>]   perplexity of plain text as lm-evaluation-harness computes it (loglikelihood_rolling,
                        rolling windows of --seq-len tokens): word_perplexity, byte_perplexity, bits_per_byte
  mc:<file.jsonl>       multiple choice, as lm-evaluation-harness scores it; each line {"context": "...",
                        "choices": ["a", "b"], "gold": 0}, a choice scored as the continuation
                        target_delimiter + choice (" " unless the item says otherwise): acc and acc_norm
                        (log-likelihood over the choice's length in characters)
  mc:<task.yaml>        the same, from an lm-eval task config: data_files, doc_to_text/doc_to_choice/
                        doc_to_target as field names, target_delimiter
  gen:<file.jsonl>      sampled answers; each line {"prompt": "...", "answer": "... #### 42"}. An answer is
                        the number after GSM8K's "#### ", else the last number of the text (commas, $, a
                        final period ignored). --num-samples K per problem: exact_match,score-first,
                        exact_match,maj@k (majority vote of the first k; a tie goes to the answer sampled
                        first) and coverage pass@k,extract (Chen et al.'s unbiased estimator), k = 1, 2, 4.. K
  arith-cot             the same on seeded multi-step arithmetic word problems (250; --seed), prompt
                        "Question: ...\nAnswer:", chain-of-thought answer ending in "#### n"
  kv-retrieval          key-value retrieval, 10 to 100 pairs (a curve of accuracy against pairs; distill --mix
                        trains on 10 to 50); :template=sentences asks in other words than the default
                        dictionary; :pairs=30 scores one point
  mc-retrieval          multiple-choice letter retrieval in the MMLU layout
  needle                needle in a haystack of held-out Brown-corpus text, 500 to 8000 characters
  arith-lookup          the number arith-cot's chain of thought copies next from the question, scored over the
                        question's numbers (find-heads --task arith-lookup: the heads a reasoner copies through)
  :keys=heldout|train|all   which half of the key vocabulary a retrieval task asks about: heldout (default),
                        never in distill --mix's samples or find-heads' prompts; a point whose prompts exceed
                        the model's context (max_position_embeddings) is skipped with a warning
  ppl:brown-heldout     perplexity on the 52 Brown-corpus files distill --data brown never reads (ca05, ca15..)
  throughput            prefill and decode tokens/s against batch size (1, 2, 4, .. --batch-size) and context
                        length (--seq-len / 8 .. --seq-len), and the decode state a sequence holds (KV cache
                        and SSM state bytes, computed, and as allocated on WebGPU)
With --time-budget 10s,30s,60s a generation task gives each model the same wall-clock seconds on the
same device: it samples --batch-size answers to a problem at a time, round the problems, until the
largest budget is spent, and reports maj_acc, coverage and samples at each budget, plotted as accuracy
against seconds with every model on one chart. --precision mixed and --kv-cache-dtype f16 decode
as generate does (every generation task and throughput; --precision the scoring forwards too),
recorded in the results' model_args.
Retrieval tasks report acc (log-likelihood over candidates), argmax_acc (the answer's first token is
the argmax after the prompt) and exact_acc (every answer token is the argmax: greedy decoding writes
the answer). Tasks are separated by commas, in any order; files after ppl:<file> belong to that ppl task. With
--output-path, results_<date>.json (and with --log-samples samples_<task>_<date>.jsonl) are written in
lm-evaluation-harness's schema under a folder per model, and curves as SVG images beside them.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> fixtures/phi-tiny --tasks kv-retrieval --limit 20',
    '<%= config.bin %> <%= command.id %> teacher/ student/ --tasks kv-retrieval,mc:arc.jsonl --output-path results/',
    '<%= config.bin %> <%= command.id %> meta-llama/Llama-3.2-1B --tasks ppl:wiki.txt --seq-len 1024 --json',
    '<%= config.bin %> <%= command.id %> teacher/ student/ --tasks arith-cot --limit 50 --num-samples 8 --temperature 0.8 --top-p 0.95',
    '<%= config.bin %> <%= command.id %> teacher/ student/ --tasks gen:problems.jsonl --time-budget 10s,30s,60s --batch-size 32 --output-path results/',
  ]

  static override strict = false

  static override args = {
    model: Args.string({required: true, description: 'One or more models: folders or org/name[@revision] from the Hugging Face cache.'}),
  }

  static override flags = EVAL_FLAGS

  async run(): Promise<EvalResult> {
    const {argv, flags} = await this.parse(Eval)
    const output = await evaluate({...evaluateRequest(argv as string[], flags, this.io), version: this.config.version})
    reportEvaluation(output, this.io)
    return {models: output.runs.map(({model, results}) => ({model, results})), files: output.files}
  }
}
