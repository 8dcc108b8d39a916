"""What a grid job runs on its node: :func:`run_job` (submitit pickles it by reference, so it lives in the package).

The job reads its ``job.json`` (the spec its key hashes), checks that the key and the installed versions still
match, evaluates through lm-eval's model registry (``merged``, ``merged_vllm``, ``hf``, ``vllm``) or a sweep, and
writes lm-eval's per-sample logs and then its results file, each atomically: a results file that names the job's
key is the mark of a finished job, and nothing else is.
"""

import json
import os
import socket
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from lm_eval_iberian.runs._jobs import GRID_KEY, spec_key, versions

__all__ = ["JOB_FILE", "JobSpecError", "read_spec", "run_job"]

JOB_FILE = "job.json"
RECIPE_FILE = "recipe.yml"


class JobSpecError(RuntimeError):
    """The job folder does not describe the job it is asked to run (edited, or another environment)."""


def _again(data: dict[str, Any]) -> str:
    import shlex

    return f"lm-eval-iberian grid run {shlex.quote(str(data.get('plan') or 'PLAN'))}"


def read_spec(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / JOB_FILE
    data = json.loads(path.read_text(encoding="utf-8"))
    if spec_key(data["spec"]) != data["key"]:
        raise JobSpecError(f"{path}: the spec no longer hashes to the job's key {data['key'][:12]} (edited?); run "
                           f"`{_again(data)}` again: it writes the job folder anew")
    return data


def _scheduler_id() -> str | None:
    try:
        import submitit

        return str(submitit.JobEnvironment().job_id)
    except Exception:  # not under submitit (a direct call)
        return None


def _eval_kwargs(spec: dict[str, Any]) -> dict[str, Any]:
    opts, seed = spec["lm_eval"], spec["seed"]
    kwargs = {
        "num_fewshot": opts["num_fewshot"],
        "limit": opts["limit"],
        "bootstrap_iters": opts["bootstrap_iters"],
        "apply_chat_template": opts["apply_chat_template"],
        "fewshot_as_multiturn": opts["fewshot_as_multiturn"],
        "gen_kwargs": opts["gen_kwargs"],
        # lm-eval's --seed N: every one of its seeds
        "random_seed": seed, "numpy_random_seed": seed, "torch_random_seed": seed, "fewshot_random_seed": seed,
    }
    return {k: v for k, v in kwargs.items() if v is not None}


def _remove_partial(folder: Path) -> None:
    """Per-sample logs of an earlier attempt that never wrote its results (the folder is the grid's own)."""
    finished = {p.stem.removeprefix("results_") for p in folder.glob("results_*.json")}
    for path in folder.glob("samples_*.jsonl"):
        if not any(path.stem.endswith(f"_{date}") for date in finished):
            path.unlink()


def run_job(folder: str) -> dict[str, Any]:
    """Run the job described by ``folder/job.json``; returns a short summary (also in the results' config)."""
    job_dir = Path(folder)
    data = read_spec(job_dir)
    spec = data["spec"]
    now = versions(spec["backend"] in ("vllm", "merged_vllm"))
    changed = {k: (v, now.get(k)) for k, v in spec["versions"].items() if now.get(k) != v}
    if changed:
        raise JobSpecError(
            "the job was planned with other package versions than this environment has ("
            + ", ".join(f"{k} {a} -> {b}" for k, (a, b) in changed.items())
            + f"); run `{_again(data)}` again from the environment the jobs use"
        )
    started = time.time()
    marker = {"key": data["key"], "job": data["name"], "unit": data["unit"], "task": spec["task"], "seed": spec["seed"]}
    if spec["kind"] == "sweep":
        _run_sweep(job_dir, spec, {GRID_KEY: marker})
    else:
        _run_single(job_dir, spec, marker, started)
    return {"key": data["key"], "seconds": round(time.time() - started, 3)}


def _model(job_dir: Path, spec: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """lm-eval registry name and model arguments (the merged backends are built by their own classes)."""
    args = dict(spec["model_args"])
    if spec["kind"] == "model":
        return spec["backend"], {"pretrained": spec["model"], **args}
    if spec["merge_seed"] is not None:
        args["seed"] = spec["merge_seed"]
    return spec["backend"], {"recipe": str(job_dir / RECIPE_FILE), **args}


def _run_single(job_dir: Path, spec: dict[str, Any], marker: dict[str, Any], started: float) -> None:
    import lm_eval
    from lm_eval.tasks import TaskManager

    from lm_eval_iberian import tasks_path
    from lm_eval_iberian._paths import atomic_write_text
    from lm_eval_iberian._samples import samples_path, write_samples
    from lm_eval_iberian.merge._model import resolve_device

    _remove_partial(job_dir)
    model, model_args = _model(job_dir, spec)
    extra = {} if spec["backend"] in ("vllm", "merged_vllm") else {"device": resolve_device(None)}
    results = lm_eval.simple_evaluate(
        model=model, model_args=model_args, tasks=[spec["task"]], batch_size=spec["lm_eval"]["batch_size"],
        log_samples=True, task_manager=TaskManager(include_path=tasks_path()), **extra, **_eval_kwargs(spec),
    )
    if results is None:  # lm-eval returns None on ranks other than 0 of a multi-process run
        return
    date = datetime.now().isoformat().replace(":", "-")
    for task, rows in (results.pop("samples", None) or {}).items():
        write_samples(samples_path(job_dir / f"results_{date}.json", task), rows)
    finished = time.time()
    results.setdefault("config", {})[GRID_KEY] = {
        **marker, "started": started, "finished": finished, "seconds": round(finished - started, 3),
        "host": socket.gethostname(), "scheduler_job_id": _scheduler_id(),
    }
    atomic_write_text(job_dir / f"results_{date}.json", json.dumps(results, default=str, indent=1, ensure_ascii=False))


def _run_sweep(job_dir: Path, spec: dict[str, Any], extra_config: dict[str, Any]) -> None:
    from lm_eval_iberian.merge import MergeRecipe
    from lm_eval_iberian.merge._sweep import run_sweep

    recipe = MergeRecipe.from_yaml(job_dir / RECIPE_FILE, seed=spec["merge_seed"])
    args = dict(spec["model_args"])
    vllm = spec["backend"] == "merged_vllm"
    dtype = None if vllm else args.pop("dtype", None)
    backend_args = {**args, "batch_size": spec["lm_eval"]["batch_size"]}
    run_sweep(recipe, spec["sweep"]["param"], spec["sweep"]["values"], [spec["task"]], job_dir,
              device=None, dtype=dtype, hflm_args=backend_args, eval_args=_eval_kwargs(spec),
              backend="vllm" if vllm else "hf", log_samples=True, extra_config=extra_config,
              log=lambda line: print(line, flush=True))


def write_job_folder(job: Any, plan_file: str | Path | None = None) -> None:
    """Create the job's folder (``job.json`` and the recipe it runs); the folder's name carries the key."""
    import yaml

    from lm_eval_iberian._paths import atomic_write_text

    job.folder.mkdir(parents=True, exist_ok=True)
    data = {"key": job.key, "name": job.name, "unit": job.unit, "spec": job.spec, "plan": str(plan_file) if plan_file else None,
            "written_by_pid": os.getpid()}
    if job.kind in ("recipe", "sweep"):
        atomic_write_text(job.folder / RECIPE_FILE, yaml.safe_dump(job.spec["recipe"], sort_keys=False))
    atomic_write_text(job.folder / JOB_FILE, json.dumps(data, indent=1, sort_keys=True, default=str))
