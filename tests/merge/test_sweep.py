"""Weight sweeps: one recipe per point, inputs read once, every point equal to a fresh merge."""

import csv
import json

import pytest
import torch

from lm_eval_iberian.merge import MergeRecipe, RecipeError, merge_model, validate_recipe
from lm_eval_iberian.merge._sweep import InputTensorCache, remerge_into, run_sweep, sweep_points


def _recipe(fam, method="task_arithmetic"):
    data = {
        "merge_method": method,
        "dtype": "float32",
        "models": [
            {"model": str(fam["expert"]), "parameters": {"weight": 1.0}},
            {"model": str(fam["instruct"]), "parameters": {"weight": 1.0}},
        ],
    }
    if method == "task_arithmetic":
        data["base_model"] = str(fam["base"])
    return MergeRecipe.from_mergekit_dict(data, seed=0)


def test_points_set_the_parameter_where_it_belongs(tiny_families):
    fam = tiny_families["llama"]
    recipe = _recipe(fam)
    points = sweep_points(recipe, "weight:llama-expert", [0.5, 2.0])
    assert [p.name for p in points] == ["weight:llama-expert=0.5", "weight:llama-expert=2"]
    assert points[1].recipe.to_dict()["models"][0]["parameters"]["weight"] == 2.0
    assert points[1].recipe.to_dict()["models"][1]["parameters"]["weight"] == 1.0
    assert sweep_points(recipe, "weight", [3.0])[0].recipe.to_dict()["models"][0]["parameters"]["weight"] == 3.0
    with pytest.raises(RecipeError, match="model 'nope' is not one of the recipe's models"):
        sweep_points(recipe, "weight:nope", [1.0])


@pytest.mark.parametrize("family", ["llama", "qwen3"])
def test_every_point_equals_a_fresh_merge(tiny_families, family):
    """Cached inputs, re-merged in place, in any order: bit-identical to merging each point from disk."""
    fam = tiny_families[family]
    param = "weight:" + fam["expert"].name
    points = sweep_points(_recipe(fam), param, [0.5, 2.0]) + sweep_points(_recipe(fam), param, [0.5])  # 0.5 again
    first = validate_recipe(points[0].recipe)
    with InputTensorCache(first) as cache:
        assert cache.bytes > 0
        model, _ = merge_model(points[0].recipe, device="cpu", verbose=False)
        for point in points[1:]:
            remerge_into(model, validate_recipe(point.recipe))
    # Back at 0.5 after 2.0: equal to merging 0.5 from disk, so nothing leaked between points.
    fresh, _ = merge_model(points[-1].recipe, device="cpu", verbose=False)
    fresh_state = fresh.state_dict()
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, fresh_state[name]), name


def test_run_sweep_writes_results_csv_and_resumes(tiny_families, tmp_path):
    fam = tiny_families["llama"]
    out = tmp_path / "sweep"
    args = dict(device="cpu", hflm_args={"batch_size": 8, "max_length": 1024},
                eval_args={"limit": 2, "bootstrap_iters": 0, "gen_kwargs": "max_gen_toks=8"}, log=lambda _: None)
    rows = run_sweep(_recipe(fam), "weight:llama-expert", [0.5, 1.0], ["iberian_ca"], out, **args)
    assert [r["point"] for r in rows] == ["weight:llama-expert=0.5", "weight:llama-expert=1"]
    for row in rows:
        folder = out / ("point-" + row["point"].replace(":", "_"))
        data = json.loads((folder / "results.json").read_text())
        assert data["config"]["iberian_merge"]["recipe"]["models"][0]["parameters"]["weight"] == row["value"]
        assert row["iberian_ca/acc"] == data["results"]["iberian_ca"]["acc,none"]
    table = list(csv.DictReader((out / "sweep.csv").open()))
    assert [float(r["value"]) for r in table] == [0.5, 1.0]
    # Interrupted sweep: the finished points are skipped, only the new one runs.
    seen = []
    run_sweep(_recipe(fam), "weight:llama-expert", [0.5, 1.0, 1.5], ["iberian_ca"], out, **{**args, "log": seen.append})
    assert sum("already evaluated, skipped" in m for m in seen) == 2
    assert len(list(csv.DictReader((out / "sweep.csv").open()))) == 3


def test_cli(tiny_families, tmp_path, capsys):
    import yaml

    from lm_eval_iberian.cli import main

    fam = tiny_families["qwen3"]
    recipe = tmp_path / "r.yml"
    recipe.write_text(yaml.safe_dump(_recipe(fam, "linear").to_dict()))
    out = tmp_path / "out"
    code = main(["sweep", "--recipe", str(recipe), "--param", f"weight:{fam['expert'].name}", "--values", "0.5,2",
                 "--tasks", "iberian_ca", "--output", str(out), "--device", "cpu", "--limit", "2", "--bootstrap_iters", "0"])
    assert code == 0
    assert len(list(csv.DictReader((out / "sweep.csv").open()))) == 2
    assert "sweep.csv" in capsys.readouterr().out
    assert main(["sweep", "--recipe", str(recipe), "--param", "weight:nope", "--values", "1", "--tasks", "iberian_ca",
                 "--output", str(out)]) == 2
    assert "is not one of the recipe's models" in capsys.readouterr().err


def test_global_and_per_model_parameters_go_where_mergekit_reads_them(tiny_families):
    fam = tiny_families["llama"]
    recipe = _recipe(fam)  # task_arithmetic
    (point,) = sweep_points(recipe, "lambda", [0.5])
    data = point.recipe.to_dict()
    assert data["parameters"]["lambda"] == 0.5 and "lambda" not in data["models"][0]["parameters"]
    with pytest.raises(RecipeError, match="lambda is a global parameter of task_arithmetic"):
        sweep_points(recipe, "lambda:llama-expert", [0.5])
    with pytest.raises(RecipeError, match="has no parameter 'gamma'; per-model: density, weight"):
        sweep_points(recipe, "gamma", [0.5])
    # Without :MODEL a per-model parameter goes to the first non-base model.
    listed_base_first = MergeRecipe.from_mergekit_dict({**recipe.to_dict(), "models": [
        {"model": str(fam["base"]), "parameters": {"weight": 1.0}}, *recipe.to_dict()["models"]]}, seed=0)
    (point,) = sweep_points(listed_base_first, "density", [0.3])
    models = point.recipe.to_dict()["models"]
    assert "density" not in models[0]["parameters"] and models[1]["parameters"]["density"] == 0.3
