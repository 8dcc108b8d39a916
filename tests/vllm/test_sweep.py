"""`lm-eval-iberian sweep --backend vllm`: three points merged into one engine, each point's results equal to
lm-eval's stock `vllm` model on mergekit's saved output for that point, served by a fresh engine.

The Flores prompts share their long few-shot prefix across points (several 128-token KV blocks), so a prefix
cache surviving a re-merge would change the later points' generations (tests/vllm/test_engine.py has the
control showing that it would)."""

import csv
import gc
import json

import pytest

VALUES = (0.5, 1.0, 2.0)
TASKS = ["iberian_eus_trivia", "iberian_flores_es-eu"]
EVAL = {"limit": 4, "bootstrap_iters": 0, "gen_kwargs": "max_gen_toks=16"}


@pytest.fixture(scope="module")
def family(vllm_families):
    return vllm_families["llama"]


@pytest.fixture(scope="module")
def fresh_results(family, linear_recipe, mergekit_outputs, engine_args, shutdown_engine, tmp_path_factory):
    import lm_eval
    from lm_eval.models.vllm_causallms import VLLM
    from lm_eval.tasks import TaskManager

    from lm_eval_iberian import tasks_path

    folders = mergekit_outputs({str(v): linear_recipe(family, v) for v in VALUES}, tmp_path_factory.mktemp("mk"))
    out = {}
    for value, folder in folders.items():
        lm = VLLM(pretrained=str(folder), **engine_args)
        res = lm_eval.simple_evaluate(model=lm, tasks=TASKS, task_manager=TaskManager(include_path=tasks_path()), **EVAL)
        out[float(value)] = res["results"]
        shutdown_engine(lm.model)
    return out


def test_sweep_backend_vllm_points_equal_fresh_engines(family, linear_recipe, fresh_results, engine_args, tmp_path, capsys):
    import yaml

    from lm_eval_iberian.cli import main

    recipe = tmp_path / "recipe.yml"
    recipe.write_text(yaml.safe_dump(linear_recipe(family, 1.0).to_dict()))
    out = tmp_path / "sweep"
    vllm_args = f"enforce_eager=True,distributed_executor_backend={engine_args['distributed_executor_backend']},seed=0"
    code = main(["sweep", "--recipe", str(recipe), "--param", f"weight:{family['expert'].name}",
                 "--values", ",".join(map(str, VALUES)), "--tasks", ",".join(TASKS), "--output", str(out),
                 "--backend", "vllm", "--dtype", "float32", "--max_length", "2048", "--vllm_args", vllm_args,
                 "--limit", "4", "--bootstrap_iters", "0", "--gen_kwargs", "max_gen_toks=16"])  # fmt: skip
    gc.collect()  # the sweep's engine
    assert code == 0
    logged = capsys.readouterr().out
    assert logged.count("merged into the vLLM engine") == len(VALUES)
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert [float(r["value"]) for r in rows] == list(VALUES)
    for value in VALUES:
        (path,) = out.glob(f"point-weight_{family['expert'].name}={value:g}/results.json")
        data = json.loads(path.read_text())
        record = data["config"]["iberian_merge"]
        assert record["backend"] == "vllm" and data["config"]["model_name"].startswith("merged-linear-")
        assert record["recipe"]["models"][0]["parameters"]["weight"] == value
        for task in TASKS:
            assert data["results"][task] == fresh_results[value][task], (value, task)
    # The points differ, so the equalities above are evidence.
    scores = [fresh_results[v]["iberian_flores_es-eu"]["chrf,none"] for v in VALUES]
    assert len(set(scores)) > 1
