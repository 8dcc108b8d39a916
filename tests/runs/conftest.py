"""Grid fixtures: tiny merges of the tiny Llama family, a plan writer, and one local grid run shared by the tests
(the local run is also the uninterrupted reference of the Slurm test)."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

# The test grid: 2 merges x 2 task groups (one multiple choice, one generation with 2 Flores directions), CPU.
TASKS = ["iberian_catcola", "iberian_flores_to_gl"]
EVAL = {"batch_size": 8, "limit": 2, "bootstrap_iters": 0, "gen_kwargs": {"max_gen_toks": 8}}


@pytest.fixture(scope="session")
def grid_recipes(tiny_families, tmp_path_factory) -> Path:
    """A folder with two linear merges (expert at 0.5 and 2, instruct 1) of the tiny Llama family."""
    fam = tiny_families["llama"]
    folder = tmp_path_factory.mktemp("grid_recipes")
    for weight in (0.5, 2.0):
        recipe = {"merge_method": "linear", "dtype": "float32", "models": [
            {"model": str(fam["expert"]), "parameters": {"weight": weight}},
            {"model": str(fam["instruct"]), "parameters": {"weight": 1.0}}]}
        (folder / f"gl_linear_w{weight:g}.yml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    return folder


def write_plan(folder: Path, recipes: Path, **changes) -> Path:
    """A plan in ``folder`` over the recipes in ``recipes``; ``changes`` replace top-level keys."""
    folder.mkdir(parents=True, exist_ok=True)
    plan = {
        "output": "out",
        "models": [{"recipe": f"{recipes}/*.yml"}],
        "tasks": list(TASKS),
        "seeds": [0],
        "model_args": {"max_length": 512},
        "lm_eval": dict(EVAL),
        "resources": {"executor": "local", "gpus_per_job": 0},
    }
    plan.update(changes)
    path = folder / "plan.yml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


def grid_cli(env: dict, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """``lm-eval-iberian ARGS`` in a subprocess (as users call it; jobs inherit its environment)."""
    return subprocess.run([sys.executable, "-m", "lm_eval_iberian", *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


@pytest.fixture(scope="session")
def local_grid(grid_recipes, tmp_path_factory, subprocess_env):
    """The test grid run once with the local executor: CPU jobs, 2 at a time (max_parallel)."""
    plan = write_plan(tmp_path_factory.mktemp("local_grid"), grid_recipes,
                      resources={"executor": "local", "gpus_per_job": 0, "max_parallel": 2})
    proc = grid_cli(subprocess_env(), "grid", "run", str(plan), "--poll-seconds", "0.5")
    return plan, proc
