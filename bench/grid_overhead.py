"""Benchmark: what running a grid through Slurm costs per job, against the local executor in the same command.

Builds tiny Llama merges (the test suite's), writes one plan (RECIPES merges x 2 task groups x SEEDS seeds, CPU,
limit 2), runs it with ``executor: local`` (max_parallel = the cluster's CPUs) and then with ``executor: slurm``
(one-CPU jobs, so as many at once), each into a fresh output tree, and reports:

* wall time of each ``grid run`` and the difference per job (the scheduler's overhead at equal parallelism);
* from Slurm's accounting: queue wait (Submit -> Start; the shortest is the scheduling latency, the others wait for
  a free CPU) and, per job, Elapsed minus the time the job function ran
  (``config.iberian_grid.seconds`` in its results): sbatch script, srun, interpreter start, submitit's unpickling.

Needs a Slurm cluster (the CI's: ``bash .ci/slurm-cluster run -- .venv/bin/python bench/grid_overhead.py``).
Last line: one JSON object.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import yaml


def _cpus() -> int:
    out = subprocess.run(["sinfo", "-h", "-o", "%c %D"], capture_output=True, text=True, check=True).stdout.split()
    return int(out[0]) * int(out[1])


def _plan(folder: Path, recipes: Path, executor: dict, seeds: int) -> Path:
    plan = {
        "output": "out",
        "models": [{"recipe": f"{recipes}/*.yml"}],
        "tasks": ["iberian_catcola", "iberian_flores_to_gl"],
        "seeds": list(range(seeds)),
        "model_args": {"max_length": 512},
        "lm_eval": {"batch_size": 8, "limit": 2, "bootstrap_iters": 0, "gen_kwargs": {"max_gen_toks": 8}},
        "resources": {"gpus_per_job": 0, **executor},
    }
    folder.mkdir(parents=True)
    (folder / "plan.yml").write_text(yaml.safe_dump(plan, sort_keys=False))
    return folder / "plan.yml"


def _run(plan: Path) -> float:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    from lm_eval_iberian import demo_data_dir

    env.setdefault("IBERIAN_DATA_DIR", demo_data_dir())
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "lm_eval_iberian", "grid", "run", str(plan), "--poll-seconds", "0.5"],
                          capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"grid run failed:\n{proc.stdout}\n{proc.stderr}")
    return wall


def _slurm_breakdown(out: Path) -> dict:
    state = json.loads((out / "grid.json").read_text())
    ids = [a["job_id"] for job in state["jobs"].values() for a in job["attempts"]]
    rows = subprocess.run(["sacct", "-X", "-n", "-P", "-o", "JobID,Submit,Start,ElapsedRaw", "-j",
                           ",".join(sorted({i.split("_")[0] for i in ids}))], capture_output=True, text=True,
                          check=True).stdout.splitlines()
    acct = {r.split("|")[0]: r.split("|")[1:] for r in rows}
    worker = {}
    for folder in (out / "jobs").iterdir():
        for results in folder.glob("results_*.json"):
            marker = json.loads(results.read_text())["config"]["iberian_grid"]
            worker[marker["scheduler_job_id"]] = marker["seconds"]
    waits, extra = [], []
    for job_id, (submit, start, elapsed) in acct.items():
        waits.append((datetime.fromisoformat(start) - datetime.fromisoformat(submit)).total_seconds())
        if job_id in worker:
            extra.append(int(elapsed) - worker[job_id])
    return {"queue_wait_s_min": min(waits), "queue_wait_s_median": statistics.median(waits),
            "elapsed_minus_function_s_median": round(statistics.median(extra), 2), "jobs": len(acct)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2, help="seeds per task group (jobs = 2 merges x 2 groups x seeds)")
    args = parser.parse_args()
    from lm_eval_iberian.testing import build_tiny_model, build_tiny_tokenizer

    root = Path(tempfile.mkdtemp(prefix="grid-bench-"))
    tok = build_tiny_tokenizer()
    models = {role: build_tiny_model(root / role, "llama", seed=s, tokenizer=tok)
              for role, s in (("instruct", 11), ("expert", 12))}
    recipes = root / "recipes"
    recipes.mkdir()
    for w in (0.5, 2.0):
        (recipes / f"gl_linear_w{w:g}.yml").write_text(yaml.safe_dump({"merge_method": "linear", "dtype": "float32", "models": [
            {"model": str(models["expert"]), "parameters": {"weight": w}},
            {"model": str(models["instruct"]), "parameters": {"weight": 1.0}}]}))
    cpus = _cpus()
    jobs = 4 * args.seeds
    local = _plan(root / "local", recipes, {"executor": "local", "max_parallel": cpus}, args.seeds)
    slurm = _plan(root / "slurm", recipes, {"executor": "slurm", "cpus_per_job": 1, "time": "00:20:00"}, args.seeds)
    local_s = _run(local)
    slurm_s = _run(slurm)
    breakdown = _slurm_breakdown(slurm.parent / "out")
    result = {"jobs": jobs, "parallel": cpus, "local_wall_s": round(local_s, 1), "slurm_wall_s": round(slurm_s, 1),
              "overhead_per_job_s": round((slurm_s - local_s) / jobs, 2), "slurm_over_local": round(slurm_s / local_s, 3),
              **breakdown}
    print(f"{jobs} jobs, {cpus} at a time: local {local_s:.1f} s, Slurm {slurm_s:.1f} s "
          f"({result['overhead_per_job_s']:+.2f} s per job); Slurm: first start {breakdown['queue_wait_s_min']} s after "
          f"submission (median wait {breakdown['queue_wait_s_median']} s: {jobs} jobs share {cpus} CPUs), "
          f"job elapsed minus its function {breakdown['elapsed_minus_function_s_median']} s (median)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
