"""lm-eval result files -> versioned run records that carry their configuration (the merge record)."""

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from lm_eval_iberian._errors import UserError
from lm_eval_iberian.merge._record import MergeRecord, read_merge_record

SCHEMA_VERSION = 2
LANGS = ("eu", "gl", "ca", "es", "en")


class ReportError(UserError, ValueError):
    """Result files the report cannot use; the message names the file and what to pass instead."""


class RunRecord(BaseModel):
    """One lm-eval run: where it came from, what model (or merge) it scored, and its metrics."""

    schema_version: int = SCHEMA_VERSION
    path: str
    label: str
    model: str
    method: str | None = None
    recipe: dict[str, Any] | None = None
    merge: MergeRecord | None = None
    weights: dict[str, float] = {}
    seed: int | None = None
    target_lang: str | None = None
    metrics: dict[str, dict[str, float]]
    # Per-sample log of each task (lm-eval's --log_samples: samples_<task>_<date>.jsonl beside the results file).
    samples: dict[str, str] = {}

    def value(self, task: str, metric: str) -> float | None:
        return self.metrics.get(task, {}).get(metric)


def _short(model: str) -> str:
    return model.rstrip("/").split("/")[-1]


def _model_arg(model_args: Any, key: str) -> str | None:
    if isinstance(model_args, dict):
        value = model_args.get(key)
        return None if value is None else str(value)
    if not isinstance(model_args, str):
        return None
    match = re.search(rf"(?:^|,){key}=([^,]+)", model_args)
    return match.group(1) if match else None


def _target_lang(names: list[str]) -> str | None:
    """The language a merge teaches, from expert names such as ``HiTZ/eu_Qwen3-8B-Base``."""
    found = {m.group(1) for n in names if (m := re.match(r"(eu|gl|ca|es)[_-]", _short(n)))}
    return found.pop() if len(found) == 1 else None


def _weights(recipe: dict[str, Any]) -> dict[str, float]:
    out = {}
    for entry in recipe.get("models") or []:
        weight = (entry.get("parameters") or {}).get("weight")
        if isinstance(weight, int | float) and not isinstance(weight, bool):
            out[_short(entry["model"])] = float(weight)
    return out


def merge_label(method: str | None, recipe: dict[str, Any] | None, model: str) -> str:
    """A row name that tells every two different recipes apart (the seed aside: seeds share a row)."""
    if not recipe:
        return _short(model)
    parts = []
    for entry in recipe.get("models") or []:
        params = dict(entry.get("parameters") or {})
        weight = params.pop("weight", None)
        text = _short(entry["model"]) + (f"×{weight}" if weight is not None else "")
        parts.append(text + (f"[{', '.join(f'{k}={v}' for k, v in sorted(params.items()))}]" if params else ""))
    extra = [f"{k}={v}" for k, v in sorted((recipe.get("parameters") or {}).items())]
    if recipe.get("base_model"):
        extra.append(f"base={_short(recipe['base_model'])}")
    return f"{method}({' + '.join(parts)}{''.join(', ' + e for e in extra)})"


def _metrics(results: Any, path: Path) -> dict[str, dict[str, float]]:
    if not isinstance(results, dict):
        raise ReportError(f"{path}: 'results' is a {type(results).__name__}, not an object of tasks; "
                          "pass lm-eval's results_*.json files (--output_path)")
    out = {}
    for task, values in results.items():
        if not isinstance(values, dict):
            raise ReportError(f"{path}: results[{task!r}] is a {type(values).__name__}, not an object of metrics; "
                              "the file is damaged or not lm-eval's")
        out[task] = {
            k.split(",")[0]: float(v)
            for k, v in values.items()
            if isinstance(v, int | float) and not isinstance(v, bool) and "_stderr," not in k and "," in k
        }
    return out


def _samples(path: Path, tasks: list[str]) -> dict[str, str]:
    """Each task's per-sample log beside a results file (:func:`samples_path`); for a results file that is neither
    lm-eval's ``results_<date>.json`` nor a sweep point's, the newest of lm-eval's dated logs of the task."""
    from lm_eval_iberian._samples import samples_path

    found = {}
    for task in tasks:
        exact = samples_path(path, task)
        if exact.is_file():
            found[task] = str(exact)
        elif not path.stem.startswith("results_"):  # another results name: the newest of lm-eval's dated logs of this very task
            candidates = sorted(p for p in path.parent.glob(f"samples_{task}_*.jsonl")
                                if re.fullmatch(rf"samples_{re.escape(task)}_\d{{4}}-\d\d-\d\dT[\d.-]+\.jsonl", p.name))
            if candidates:
                found[task] = str(candidates[-1])
    return found


def load_run(path: str | Path) -> RunRecord:
    """Read one lm-eval ``results_*.json`` (or a ``simple_evaluate`` dict dumped to JSON)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"{path}: not a readable lm-eval results file ({exc}); pass lm-eval's results_*.json files") from None
    if not isinstance(data, dict) or "results" not in data:
        raise ReportError(f"{path}: no 'results' key; pass lm-eval's results_*.json files (--output_path)")
    config = data.get("config") or {}
    if not isinstance(config, dict):
        raise ReportError(f"{path}: 'config' is a {type(config).__name__}, not an object; the file is damaged or not lm-eval's")
    metrics = _metrics(data["results"], path)
    merge = read_merge_record(config, str(path))
    recipe = merge.recipe if merge else None
    model = (merge.model_name if merge else None) or config.get("model_name") or _model_arg(config.get("model_args"), "pretrained") \
        or str(config.get("model", "unknown"))
    method = merge.method if merge else None
    names = [e["model"] for e in (recipe or {}).get("models") or []] or [model]
    seed = merge.seed if merge else config.get("random_seed")
    return RunRecord(
        path=str(path),
        label=merge_label(method, recipe, model),
        model=str(model),
        method=method,
        recipe=recipe,
        merge=merge,
        weights=_weights(recipe or {}),
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        target_lang=_target_lang(names),
        metrics=metrics,
        samples=_samples(path, list(metrics)),
    )


def load_runs(paths: list[str | Path]) -> list[RunRecord]:
    """Every results file under the given files/folders (``results*.json`` found recursively)."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(p.rglob("results*.json"))
        elif p.is_file():
            files.append(p)
        else:
            raise ReportError(f"{p}: no such file or folder")
    if not files:
        raise ReportError(f"no lm-eval results files (results*.json) under {', '.join(map(str, paths))}; "
                          "run lm_eval with --output_path DIR and pass DIR")
    return [load_run(f) for f in files]
