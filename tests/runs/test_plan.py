"""Grid plans: bad plans give one clear error before anything is written; the README's plan validates; job keys
are stable where nothing that determines a result changed and change where something did."""

import re
import shutil
from pathlib import Path

import pytest
import yaml

from lm_eval_iberian.runs import PlanError, expand_plan, load_plan
from lm_eval_iberian.runs._plan import parse_time_minutes
from tests.runs.conftest import EVAL, TASKS, write_plan

README = Path(__file__).resolve().parents[2] / "README.md"


def _expand(path: Path):
    plan, file = load_plan(path)
    return expand_plan(plan, file)


def _keys(path: Path) -> dict[str, str]:
    return {job.name: job.key for job in _expand(path).jobs}


def _bad(recipes, tiny_families):
    """(changes to the base plan, fragments the one error line must hold)."""
    base_models = [{"recipe": f"{recipes}/*.yml"}]
    instruct = str(tiny_families["llama"]["instruct"])
    return {
        "unknown top-level key": ({"ouptut": "x"}, ["ouptut: unknown key", "allowed keys here: output, models, tasks"]),
        "unknown task": ({"tasks": ["iberian_catcola", "iberian_gll"]}, ["tasks[1]", "'iberian_gll'", "did you mean iberian_gl"]),
        "missing recipe": ({"models": [{"recipe": "nope.yml"}]}, ["models[0].recipe 'nope.yml': no such file"]),
        "glob matching nothing": ({"models": [{"recipe": "none/*.yml"}]}, ["models[0].recipe 'none/*.yml'", "matches no file"]),
        "unknown backend": ({"backend": "vllm"}, ["backend: Input should be 'merged' or 'merged_vllm'", "(got 'vllm')"]),
        "recipe and model in one entry": ({"models": [{"recipe": "a.yml", "model": "org/x"}]}, ["models[0]", "exactly one of recipe"]),
        "sweep on a plain model": ({"models": [{"model": instruct, "sweep": {"param": "weight", "values": [1]}}]},
                                   ["models[0]", "sweep: needs a recipe:"]),
        "unknown sweep parameter": ({"models": [{"recipe": f"{recipes}/gl_linear_w2.yml", "sweep": {"param": "gamma", "values": [1]}}]},
                                    ["models[0].sweep", "has no parameter 'gamma'"]),
        "multiturn without chat template": ({"lm_eval": {"fewshot_as_multiturn": True}}, ["lm_eval", "needs apply_chat_template"]),
        "log_samples off": ({"lm_eval": {"log_samples": False}}, ["lm_eval.log_samples", "always written"]),
        "negative seed": ({"seeds": [0, -1]}, ["seeds[1]", "greater than or equal to 0"]),
        "seed twice": ({"seeds": [1, 1]}, ["seeds", "listed twice"]),
        "bad time": ({"resources": {"executor": "local", "gpus_per_job": 0, "time": "4h"}}, ["resources.time", "not a Slurm time"]),
        "grid-owned sbatch option": ({"resources": {"executor": "local", "gpus_per_job": 0, "slurm_options": {"time": "1:00:00"}}},
                                     ["resources.slurm_options", "set by the grid"]),
        "unknown executor": ({"resources": {"executor": "pbs"}}, ["resources.executor", "'auto', 'slurm' or 'local'"]),
        "unknown HF model argument": ({"model_args": {"max_model_len": 512}}, ["models[0]: model_args max_model_len",
                                                                              "choose from", "max_length"]),
        "two entries, one name": ({"models": [*base_models, {"model": instruct, "name": "inst"},
                                              {"model": instruct, "name": "inst"}]}, ["models[2]", "named 'inst'", "models[1]"]),
        "baseline folder missing": ({"models": [{"model": "./no/such/folder"}]}, ["models[0].model './no/such/folder'", "no such folder"]),
        "GPU count on a CPU-only local run": ({"resources": {"executor": "local", "gpus_per_job": 1}},
                                              ["gpus_per_job is 1", "shows no GPU", "gpus_per_job: 0"]),
        "--no-wait with local jobs": ({}, ["--no-wait needs the Slurm executor"]),
    }


CASES = list(_bad(Path("R"), {"llama": {"instruct": "I"}}))


@pytest.mark.parametrize("case", CASES)
def test_bad_plan_is_one_error_before_anything_is_written(case, grid_recipes, tiny_families, tmp_path, cli_error, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # this machine as a CPU-only one
    changes, fragments = _bad(grid_recipes, tiny_families)[case]
    plan = write_plan(tmp_path, grid_recipes, **changes)
    argv = ["grid", "run", str(plan)] + (["--no-wait"] if case == "--no-wait with local jobs" else [])
    cli_error(argv, f"plan {plan}: ", *fragments, inputs=[plan, grid_recipes], outputs=[tmp_path / "out"])


def test_a_recipe_error_names_the_file(grid_recipes, tmp_path, cli_error):
    bad = tmp_path / "recipes" / "bad.yml"
    bad.parent.mkdir()
    recipe = yaml.safe_load((grid_recipes / "gl_linear_w2.yml").read_text())
    recipe["models"][0]["parameters"]["density"] = 1.5  # linear has no density
    bad.write_text(yaml.safe_dump(recipe))
    plan = write_plan(tmp_path, grid_recipes, models=[{"recipe": "recipes/*.yml"}])
    cli_error(["grid", "run", str(plan)], f"models[0].recipe {bad}", "density", inputs=[bad], outputs=[tmp_path / "out"])


def test_output_must_be_new_or_the_grids_own(grid_recipes, tiny_families, tmp_path, cli_error):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    plan = write_plan(tmp_path, grid_recipes)
    cli_error(["grid", "run", str(plan)], "holds files the grid did not write", inputs=[tmp_path / "out"])
    expert = tiny_families["llama"]["expert"]
    plan = write_plan(tmp_path, grid_recipes, output=str(expert / "out"))
    cli_error(["grid", "run", str(plan)], "lies inside input model", inputs=[expert], outputs=[expert / "out"])


def _readme_plan() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Running the paper's grid on a cluster", 1)[1]
    return re.search(r"```yaml\n(.*?)```", section, re.S).group(1)


def test_the_readme_plan_validates(tmp_path):
    plan_file = tmp_path / "qwen3_8b_grid.yml"
    plan_file.write_text(_readme_plan())
    grid = _expand(plan_file)
    plan = grid.plan
    # every shipped Qwen3-8B recipe, the sweep and the plain models, each on every task group and its seeds
    recipes = len(list(Path(__import__("lm_eval_iberian").recipes_path(), "qwen3_8b").glob("*.yml")))
    units = {job.unit for job in grid.jobs}
    assert len(units) == recipes + sum(1 for m in plan.models if m.model or m.sweep)
    per_unit = sum(len(t.seeds) if not isinstance(t, str) else len(plan.seeds) for t in plan.tasks)
    assert len(grid.jobs) == len(units) * per_unit == 342  # as the README says
    assert {j.spec["backend"] for j in grid.jobs} == {"merged_vllm", "vllm"}
    base = next(j for j in grid.jobs if j.unit == "Qwen3-8B-Base")
    assert base.spec["lm_eval"]["apply_chat_template"] is False  # base models run without the chat template
    assert any("neither local nor in the Hugging Face cache" in c for c in grid.checks)
    assert parse_time_minutes(plan.resources.time) > 0


def test_keys_are_stable_and_sensitive(grid_recipes, tiny_families, tmp_path):
    first = _keys(write_plan(tmp_path / "a", grid_recipes))
    assert len(first) == 2 * len(TASKS)
    # not in the key: where the output goes, the resources, the plan's own folder
    same = _keys(write_plan(tmp_path / "b", grid_recipes, output="/elsewhere/out",
                            resources={"executor": "slurm", "partition": "x", "time": "1:00:00", "retries": 3}))
    assert same == first
    # in the key: options that change results change every job's key
    changed = _keys(write_plan(tmp_path / "c", grid_recipes, lm_eval={**EVAL, "limit": 3}))
    assert set(changed) == set(first) and not set(changed.values()) & set(first.values())
    # another seed adds jobs; the old ones keep their keys
    seeds = _keys(write_plan(tmp_path / "d", grid_recipes, seeds=[0, 1]))
    assert {k: v for k, v in seeds.items() if k.endswith(".s0")} == first and len(seeds) == 2 * len(first)
    # one recipe edited: only its jobs change
    copy = tmp_path / "recipes"
    shutil.copytree(grid_recipes, copy)
    recipe = yaml.safe_load((copy / "gl_linear_w2.yml").read_text())
    recipe["models"][1]["parameters"]["weight"] = 0.9
    (copy / "gl_linear_w2.yml").write_text(yaml.safe_dump(recipe))
    edited = _keys(write_plan(tmp_path / "e", copy))
    moved = {n.replace("recipes-", f"{grid_recipes.name}-"): k for n, k in edited.items()}
    assert {n: k for n, k in moved.items() if "w0.5" in n} == {n: k for n, k in first.items() if "w0.5" in n}
    assert not {k for n, k in moved.items() if "w2" in n} & set(first.values())
    # an input model's weights changed on disk: every job merging it changes
    fam = tiny_families["llama"]
    expert = tmp_path / "expert"
    shutil.copytree(fam["expert"], expert)
    keys_before = _keys(write_plan(tmp_path / "f", grid_recipes, models=[{"model": str(expert)}]))
    weights = expert / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    keys_after = _keys(write_plan(tmp_path / "f", grid_recipes, models=[{"model": str(expert)}]))
    assert set(keys_after) == set(keys_before) and not set(keys_after.values()) & set(keys_before.values())


def test_time_limits_are_read_as_slurm_does():
    assert [parse_time_minutes(t) for t in ("90", "30:30", "04:00:00", "1-12", "2-00:30", "1-00:00:01")] == \
           [90, 31, 240, 2160, 2910, 1441]
    for bad in ("4h", "", "1-x", "0"):
        with pytest.raises(ValueError):
            parse_time_minutes(bad)


def test_plan_errors_are_user_errors(tmp_path):
    (tmp_path / "p.yml").write_text("- a list\n")
    with pytest.raises(PlanError, match="the top level must be a mapping"):
        load_plan(tmp_path / "p.yml")
    with pytest.raises(PlanError, match="no such file"):
        load_plan(tmp_path / "missing.yml")
