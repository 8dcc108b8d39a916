"""lm-eval result files -> versioned run records that carry their configuration (the merge recipe)."""

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel

SCHEMA_VERSION = 1
LANGS = ("eu", "gl", "ca", "es", "en")


class RunRecord(BaseModel):
    """One lm-eval run: where it came from, what model (or merge) it scored, and its metrics."""

    schema_version: int = SCHEMA_VERSION
    path: str
    label: str
    model: str
    method: str | None = None
    recipe: dict[str, Any] | None = None
    weights: dict[str, float] = {}
    seed: int | None = None
    target_lang: str | None = None
    metrics: dict[str, dict[str, float]]

    def value(self, task: str, metric: str) -> float | None:
        return self.metrics.get(task, {}).get(metric)


def _short(model: str) -> str:
    return model.rstrip("/").split("/")[-1]


def _model_arg(model_args: Any, key: str) -> str | None:
    if isinstance(model_args, dict):
        value = model_args.get(key)
        return None if value is None else str(value)
    match = re.search(rf"(?:^|,){key}=([^,]+)", model_args or "")
    return match.group(1) if match else None


def _target_lang(names: list[str]) -> str | None:
    """The language a merge teaches, from expert names such as ``HiTZ/eu_Qwen3-8B-Base``."""
    found = {m.group(1) for n in names if (m := re.match(r"(eu|gl|ca|es)[_-]", _short(n)))}
    return found.pop() if len(found) == 1 else None


def _weights(recipe: dict[str, Any]) -> dict[str, float]:
    out = {}
    for entry in recipe.get("models") or []:
        weight = (entry.get("parameters") or {}).get("weight")
        if isinstance(weight, int | float):
            out[_short(entry["model"])] = float(weight)
    return out


def _label(method: str | None, recipe: dict[str, Any] | None, model: str) -> str:
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


def load_run(path: str | Path) -> RunRecord:
    """Read one lm-eval ``results_*.json`` (or a ``simple_evaluate`` dict dumped to JSON)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a readable lm-eval results file ({exc})") from None
    if not isinstance(data, dict) or "results" not in data:
        raise ValueError(f"{path}: no 'results' key; pass lm-eval's results_*.json files (--output_path)")
    config = data.get("config") or {}
    recipe = config.get("merge_recipe")
    model_args = config.get("model_args")
    model = config.get("model_name") or _model_arg(model_args, "pretrained") or str(config.get("model", "unknown"))
    method = recipe.get("merge_method") if recipe else None
    names = [e["model"] for e in (recipe or {}).get("models") or []] or [model]
    metrics = {
        task: {k.split(",")[0]: float(v) for k, v in values.items() if isinstance(v, int | float) and not k.endswith("_stderr,none") and "," in k}
        for task, values in data["results"].items()
    }
    seed = config.get("merge_seed") if recipe else None
    seed = seed if seed is not None else config.get("random_seed")
    return RunRecord(
        path=str(path),
        label=_label(method, recipe, model),
        model=model,
        method=method,
        recipe=recipe,
        weights=_weights(recipe or {}),
        seed=seed,
        target_lang=_target_lang(names),
        metrics=metrics,
    )


def load_runs(paths: list[str | Path]) -> list[RunRecord]:
    """Every results file under the given files/folders (``results_*.json`` found recursively)."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(p.rglob("results*.json"))
        elif p.is_file():
            files.append(p)
        else:
            raise ValueError(f"{p}: no such file or folder")
    if not files:
        raise ValueError(f"no lm-eval results files under {', '.join(map(str, paths))}")
    return [load_run(f) for f in files]
