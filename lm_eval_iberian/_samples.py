"""lm-eval per-sample logs written the way lm-eval's ``--log_samples`` writes them, but atomically.

lm-eval's ``EvaluationTracker`` appends to ``samples_<task>_<date>.jsonl`` and logs (not raises) a failed write, so
an interrupted job could leave a partial log that looks complete. Grid jobs and sweep points write each log through
a temporary file and a rename instead, in lm-eval's row format (``arguments`` as ``gen_args_i/arg_j``, responses
sanitized, ``target`` as text) so that anything reading lm-eval's logs reads these.
"""

import json
from pathlib import Path
from typing import Any

__all__ = ["samples_path", "write_samples"]


def samples_path(results: Path, task: str) -> Path:
    """The per-sample log of ``task`` that belongs to a results file, named as lm-eval names it.

    ``samples_<task>_<date>.jsonl`` beside lm-eval's ``results_<date>.json`` (same date); ``samples_<task>.jsonl``
    beside any other results name (a sweep point's ``results.json``).
    """
    stem = results.stem
    date = stem.removeprefix("results_") if stem.startswith("results_") else None
    return results.parent / (f"samples_{task}_{date}.jsonl" if date else f"samples_{task}.jsonl")


def _row(sample: dict[str, Any]) -> dict[str, Any]:
    from lm_eval.utils import sanitize_list

    row = dict(sample)
    row["arguments"] = {
        f"gen_args_{i}": {f"arg_{j}": value for j, value in enumerate(arg)} for i, arg in enumerate(sample.get("arguments") or [])
    }
    row["resps"] = sanitize_list(sample.get("resps", []))
    row["filtered_resps"] = sanitize_list(sample.get("filtered_resps", []))
    row["target"] = str(sample.get("target"))
    return row


def write_samples(path: str | Path, samples: list[dict[str, Any]]) -> Path:
    """Write one task's samples (``simple_evaluate(...)["samples"][task]``) as JSON lines, atomically."""
    from lm_eval.utils import handle_non_serializable

    from lm_eval_iberian._paths import atomic_open

    with atomic_open(path, "w") as fh:
        for sample in samples:
            fh.write(json.dumps(_row(sample), default=handle_non_serializable, ensure_ascii=False) + "\n")
    return Path(path)
