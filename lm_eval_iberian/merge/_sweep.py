"""Weight sweeps: many merges of the same inputs, evaluated in one process, inputs read once.

* :func:`sweep_points` turns a recipe and ``param[:MODEL]`` + values into one
  recipe per point (``weight``, ``density``, ``t``... per model or global).
* :class:`InputTensorCache` reads every input tensor once and serves mergekit's
  loaders from memory, so each later point costs only the merge math.
* :func:`run_sweep` merges the first point into a model, evaluates it with
  lm-eval, then re-merges every later point into the same model in place.
  Each point writes a normal lm-eval results file (carrying its resolved
  recipe) and one row of ``sweep.csv``; points already written are skipped,
  so an interrupted sweep resumes. With ``log_samples`` each point also keeps
  lm-eval's per-sample log of every task (``point-*/samples_<task>.jsonl``),
  which paired comparisons (``report --compare``) read.
"""

import copy
import csv
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lm_eval_iberian._samples import samples_path
from lm_eval_iberian.merge._errors import RecipeError
from lm_eval_iberian.merge._recipe import MergeRecipe
from lm_eval_iberian.merge._record import read_merge_record
from lm_eval_iberian.merge._stream import MergePlan, plan_merge, stream_merged_tensors
from lm_eval_iberian.merge._validate import ResolvedRecipe, validate_recipe

__all__ = ["InputTensorCache", "SweepPoint", "point_folder", "remerge_into", "run_sweep", "sweep_points"]


@dataclass(frozen=True)
class SweepPoint:
    name: str
    value: float
    recipe: MergeRecipe


def _short(model: str) -> str:
    return model.rstrip("/").split("/")[-1].split("#")[0]


def sweep_points(recipe: MergeRecipe, param: str, values: list[float]) -> list[SweepPoint]:
    """One recipe per value of ``param`` (``weight:MODEL`` / ``density`` / ``t`` ...).

    With ``:MODEL`` (a model id, path or its last path component) the parameter is
    set on that model; without it, a per-model parameter goes to the first listed
    model and a global one (``t``, ``lambda``...) to the recipe's ``parameters``.
    """
    if not values:
        raise RecipeError("a sweep needs at least one value (--values 0.5,1.0)")
    seen: set[float] = set()
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise RecipeError(f"sweep value {value!r} is not a finite number; give values such as 0.5,1.0,2.0")
        if float(value) in seen:
            raise RecipeError(f"sweep value {value!r} is listed twice; list each value once")
        seen.add(float(value))
    name, _, model = param.partition(":")
    if not name:
        raise RecipeError(f"--param {param!r}: give a parameter name, e.g. weight or weight:MODEL")
    from lm_eval_iberian.merge._recipe import method_spec

    spec = method_spec(recipe.method)
    shared = {p.name for p in spec.shared_parameters}
    per_model = {p.name for p in spec.input_parameters}
    base = recipe.to_dict()
    entries = base.get("models") or []
    if name in shared:
        if model:
            raise RecipeError(f"--param {param!r}: {name} is a global parameter of {recipe.method}; drop :{model}")
        target: int | None = None  # mergekit reads shared parameters only from the top-level `parameters`
    elif name in per_model:
        base_model = base.get("base_model")
        if model:
            matches = [i for i, e in enumerate(entries) if model in (e["model"], _short(e["model"]))]
            if len(matches) != 1:
                choices = ", ".join(_short(e["model"]) for e in entries)
                raise RecipeError(f"--param {param!r}: model {model!r} is not one of the recipe's models ({choices})")
            target = matches[0]
        else:  # the first model that is not the base (mergekit ignores per-model parameters on the base)
            target = next((i for i, e in enumerate(entries) if e["model"] != base_model), None)
            if target is None:
                raise RecipeError(f"--param {param!r}: the recipe has no non-base model to set {name} on")
    else:
        raise RecipeError(
            f"--param {param!r}: {recipe.method} has no parameter {name!r}; per-model: {', '.join(sorted(per_model)) or 'none'}; "
            f"global: {', '.join(sorted(shared)) or 'none'}"
        )
    points = []
    for value in values:
        data = copy.deepcopy(base)
        if target is None:
            data.setdefault("parameters", {})[name] = value
        else:
            data["models"][target].setdefault("parameters", {})[name] = value
        where = "" if target is None else f":{_short(entries[target]['model'])}"
        points.append(SweepPoint(f"{name}{where}={value:g}", value, MergeRecipe.from_mergekit_dict(data, seed=recipe.seed)))
    return points


class _CachedLoader:
    """Stands in for mergekit's LazyTensorLoader: same index, tensors from memory."""

    def __init__(self, index: Any, tensors: dict[str, torch.Tensor]):
        self.index = index
        self.tensors = tensors

    def get_tensor(self, key: str, device: str = "cpu", aliases: list[str] | None = None, raise_on_missing: bool = True):
        if key not in self.tensors:
            key = next((a for a in aliases or [] if a in self.tensors), key)
        if key not in self.tensors:
            if raise_on_missing:
                raise KeyError(key)
            return None
        return self.tensors[key].to(device)

    def flush(self) -> None:
        pass


def _loader_tensors(ref: Any) -> list[torch.Tensor]:
    from mergekit.io.tasks import LoaderCache

    loader = LoaderCache().loaders.get(ref)
    return list(loader.tensors.values()) if isinstance(loader, _CachedLoader) else []


class InputTensorCache:
    """Read every tensor of the recipe's input models once; mergekit then loads from memory."""

    def __init__(self, resolved: ResolvedRecipe, storage_device: str | torch.device = "cpu"):
        self.resolved = resolved
        self.storage_device = torch.device(storage_device)
        self.seconds = 0.0
        self.bytes = 0
        self._refs: list[Any] = []

    def __enter__(self) -> "InputTensorCache":
        from mergekit.io.tasks import LoaderCache

        t0 = time.perf_counter()
        cache = LoaderCache()
        for ref in self.resolved.local_config.referenced_models():
            loader = cache.get(ref)
            tensors = {key: loader.get_tensor(key, device=str(self.storage_device)) for key in loader.index.tensor_paths}
            self.bytes += sum(t.numel() * t.element_size() for t in tensors.values())
            cache.loaders[ref] = _CachedLoader(loader.index, tensors)
            self._refs.append(ref)
        self.seconds = time.perf_counter() - t0
        return self

    def detach(self, model: Any) -> None:
        """Give ``model`` its own storage wherever a merged tensor is a cached input itself.

        (mergekit can return an input unchanged; an in-place re-merge would then write into the cache.)
        """
        cached = {t.data_ptr() for ref in self._refs for t in _loader_tensors(ref)}
        with torch.no_grad():
            for p in model.parameters():
                if p.data_ptr() in cached:
                    p.data = p.data.clone()

    def __exit__(self, *exc: object) -> None:
        from mergekit.io.tasks import LoaderCache

        for ref in self._refs:
            LoaderCache().loaders.pop(ref, None)


def remerge_into(model: Any, resolved: ResolvedRecipe, dtype: str | torch.dtype | None = None) -> MergePlan:
    """Merge ``resolved`` into ``model``'s existing parameters (same inputs and layout), in place; returns the plan."""
    plan = plan_merge(resolved)
    params = dict(model.named_parameters(remove_duplicate=False)) | dict(model.named_buffers())
    device = next(model.parameters()).device
    with torch.no_grad():
        for name, tensor in stream_merged_tensors(plan, device, dtype or next(model.parameters()).dtype, progress=False):
            target = params.get(name)
            if target is None or target.shape != tensor.shape:
                raise RecipeError(f"sweep point changes the model layout at {name}; sweep parameters only, not inputs")
            target.copy_(tensor)
    return plan


def run_sweep(
    recipe: MergeRecipe,
    param: str,
    values: list[float],
    tasks: list[str],
    output_dir: str | Path,
    *,
    device: str | None = None,
    dtype: str | None = None,
    hflm_args: dict[str, Any] | None = None,
    eval_args: dict[str, Any] | None = None,
    log: Any = print,
    backend: str = "hf",
    log_samples: bool = False,
    extra_config: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Evaluate every point; returns the rows written to ``sweep.csv``.

    ``backend="vllm"``: one vLLM engine (``merged_vllm``; ``hflm_args`` are then vLLM
    arguments) whose weights are re-merged in place for every point.
    ``log_samples``: also write each task's per-sample log beside the point's results.
    ``extra_config``: keys added to each point's results ``config`` (the grid's job key); a point
    counts as done only if its results carry them unchanged (and, with ``log_samples``, its logs).
    """
    if backend not in {"hf", "vllm"}:
        raise RecipeError(f"backend={backend!r}: choose hf or vllm")
    from lm_eval_iberian._paths import check_output, check_writable
    from lm_eval_iberian.merge._model import resolve_device

    points = sweep_points(recipe, param, values)
    device = resolve_device(device)
    resolved_first = validate_recipe(points[0].recipe)
    out = check_output(output_dir, {f"input model {ref}": m.path for ref, m in resolved_first.inputs.items()}, "output_dir")
    check_writable(out, "output_dir")
    if backend == "vllm":
        from lm_eval_iberian.merge import _vllm

        engine_class = _vllm.MergedVLLM  # vLLM missing: one error now, before anything is written
    out.mkdir(parents=True, exist_ok=True)
    extra = dict(extra_config or {})
    todo = [p for p in points if not _done(out, p, extra, log_samples)]
    for p in points:
        if p not in todo:
            log(f"sweep: {p.name} already evaluated, skipped")
    lm = None
    if backend == "vllm":
        vllm_args = {"dtype": dtype, **(hflm_args or {})} if dtype else dict(hflm_args or {})
        for point in todo:
            t0 = time.perf_counter()
            if lm is None:  # the engine starts once; every worker merges on its own device
                lm = engine_class.from_recipe(point.recipe, **vllm_args)
            else:
                lm.reload(point.recipe)
            log(f"sweep: {point.name}: merged into the vLLM engine in {time.perf_counter() - t0:.2f} s")
            _evaluate_point(lm, point, param, tasks, out, eval_args, log_samples, extra)
    else:
        _sweep_hf(todo, resolved_first, out, param, tasks, device, dtype, hflm_args, eval_args, log, log_samples, extra)
    rows = [_row(out, p) for p in points]
    _write_csv(out / "sweep.csv", rows)
    return rows


def _sweep_hf(
    todo: list[SweepPoint],
    resolved_first: ResolvedRecipe,
    out: Path,
    param: str,
    tasks: list[str],
    device: str,
    dtype: str | None,
    hflm_args: dict[str, Any] | None,
    eval_args: dict[str, Any] | None,
    log: Any,
    log_samples: bool = False,
    extra: dict[str, Any] | None = None,
) -> None:
    """HF backend: inputs read once; the first point allocates the model, later ones re-merge into it."""
    from lm_eval_iberian.merge._lm import MergedLM
    from lm_eval_iberian.merge._model import MergeSummary, merge_model, merge_record

    lm = None
    with InputTensorCache(resolved_first, storage_device="cpu") as cache:
        for point in todo:
            t0 = time.perf_counter()
            if lm is None:  # the first point allocates the model (inputs come from the cache)
                model, tok = merge_model(point.recipe, device=device, dtype=dtype, verbose=False)
                cache.detach(model)
                lm = MergedLM.from_model(model, tok, **(hflm_args or {}))
                plan, settings = None, model.merge_summary.record.backend_settings
            else:  # later points: merge math only, into the same parameters
                resolved = validate_recipe(point.recipe, tokenizer=str(resolved_first.tokenizer_dir))
                plan = remerge_into(lm.model, resolved, dtype)
            merge_s = time.perf_counter() - t0
            old = lm.merge_summary
            record = (old.record.model_copy(update={"merge_seconds": round(merge_s, 3)}) if plan is None
                      else merge_record(plan, "hf", settings, merge_s, old.peak_memory_gb))
            lm.merge_summary = MergeSummary(record.method, point.recipe.model_ids(), merge_s, old.peak_memory_gb,
                                            old.memory_kind, old.tensors, record)
            log(f"sweep: {point.name}: merged in {merge_s:.2f} s")
            _evaluate_point(lm, point, param, tasks, out, eval_args, log_samples, extra)


def _evaluate_point(lm: Any, point: SweepPoint, param: str, tasks: list[str], out: Path, eval_args: dict[str, Any] | None,
                    log_samples: bool = False, extra: dict[str, Any] | None = None) -> None:
    import lm_eval
    from lm_eval.tasks import TaskManager

    from lm_eval_iberian import tasks_path
    from lm_eval_iberian._paths import atomic_write_text
    from lm_eval_iberian._samples import write_samples

    results = lm_eval.simple_evaluate(model=lm, tasks=tasks, task_manager=TaskManager(include_path=tasks_path()),
                                      **{**(eval_args or {}), **({"log_samples": True} if log_samples else {})})
    samples = results.pop("samples", None) or {}
    folder = out / point_folder(point)
    folder.mkdir(parents=True, exist_ok=True)
    if log_samples:  # the logs first: results.json is what marks the point done
        for task, rows in samples.items():
            write_samples(samples_path(folder / "results.json", task), rows)
    results.setdefault("config", {})["sweep"] = {"param": param, "value": point.value, "point": point.name}
    results["config"].update(extra or {})
    atomic_write_text(folder / "results.json", json.dumps(results, default=str, indent=1))


def point_folder(point: SweepPoint) -> str:
    """The folder of a point's results under the sweep's output (``point-<param>=<value>``)."""
    return "point-" + point.name.replace("/", "_").replace(":", "_")


def _done(out: Path, point: SweepPoint, extra: dict[str, Any] | None = None, log_samples: bool = False) -> bool:
    """A point whose results file exists, parses, and carries this point's recipe (same hash), the extra config
    given, and (with ``log_samples``) a per-sample log of every task it scored."""
    path = out / point_folder(point) / "results.json"
    if not path.is_file():
        return False
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False  # a damaged file is evaluated again (and replaced atomically)
    record = read_merge_record(data.get("config") or {}, str(path)) if isinstance(data, dict) else None
    if record is None or record.recipe_sha256 != point.recipe.content_hash():
        return False
    if any(data["config"].get(k) != v for k, v in (extra or {}).items()):
        return False
    return not log_samples or all(samples_path(path, task).is_file() for task in data.get("results") or {}
                                  if task not in (data.get("groups") or {}))


def _row(out: Path, point: SweepPoint) -> dict[str, Any]:
    path = out / point_folder(point) / "results.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    record = read_merge_record(data["config"], str(path))
    row: dict[str, Any] = {"point": point.name, "value": point.value, "merge_seconds": record.merge_seconds if record else None}
    for task, metrics in sorted(data["results"].items()):
        for key, value in metrics.items():
            if isinstance(value, int | float) and "stderr" not in key and "," in key:
                row[f"{task}/{key.split(',')[0]}"] = value
    return row


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    from lm_eval_iberian._paths import atomic_open

    columns = list(dict.fromkeys(k for row in rows for k in row))
    with atomic_open(path, "w") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def format_sweep_table(rows: list[dict[str, Any]]) -> str:
    """The sweep's rows as a text table: one line per point, one column per task metric (what ``sweep`` prints)."""
    from tabulate import tabulate

    columns = [c for c in dict.fromkeys(k for row in rows for k in row) if c not in {"point", "value"}]
    header = ["point", *(c.replace("/", "\n") for c in columns)]
    body = [[row["point"], *(row.get(c) for c in columns)] for row in rows]
    return tabulate(body, headers=header, floatfmt=".4g", missingval="–")
