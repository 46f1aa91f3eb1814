"""Reads hybridize's eval output with lm-evaluation-harness's own code (issue 22): for each folder, lm_eval.utils
finds the newest results file and the samples files by lm-eval's file-name rules, make_table renders the results
(and the groups, when there are any), and every samples line is parsed. Prints the tables; exits non-zero on the
first error. Needs lm_eval importable (pip install lm_eval); pytablewriter, which make_table imports to lay its
table out, is replaced by a small writer of the same interface when it is missing, so that lm_eval's own key
handling (versions, n-shot, higher_is_better, stderr "N/A") is what runs.
Usage: python3 scripts/lm-eval-read-results.py OUTPUT_PATH_FOLDER...
"""
import json
import os
import sys
import types


def plain_writer_module():
    class Writer:
        def __init__(self):
            self.headers, self.value_matrix = [], []

        def dumps(self):
            rows = [self.headers] + [[str(v) for v in row] for row in self.value_matrix]
            return "\n".join("| " + " | ".join(str(c) for c in row) + " |" for row in rows)

    module = types.ModuleType("pytablewriter")
    module.MarkdownTableWriter = module.LatexTableWriter = Writer
    return module


try:
    import pytablewriter  # noqa: F401
except ImportError:
    sys.modules["pytablewriter"] = plain_writer_module()

from lm_eval import utils  # noqa: E402

for folder in sys.argv[1:]:
    names = [os.path.join(d, f) for d, _, files in os.walk(folder) for f in files]
    results = utils.get_results_filenames(names)
    if not results:
        sys.exit(f"{folder}: no results_*.json file lm-eval recognises")
    latest = utils.get_latest_filename(results)
    with open(latest) as f:
        result = json.load(f)
    print(utils.make_table(result))
    if result.get("groups"):
        print(utils.make_table(result, "groups"))
    samples = utils.get_sample_results_filenames(names)
    for name in samples:
        with open(name) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        missing = [k for k in ("doc_id", "doc", "target", "arguments", "resps", "filtered_resps") if any(k not in s for s in lines)]
        if missing:
            sys.exit(f"{name}: samples without {missing}")
        print(f"{utils.get_file_task_name(os.path.basename(name))}: {len(lines)} samples")
