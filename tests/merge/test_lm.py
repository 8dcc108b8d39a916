"""`--model merged` in lm-eval: same loglikelihoods as `--model hf` on mergekit's output, provenance in results."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from lm_eval_iberian import tasks_path
from lm_eval_iberian.merge._record import read_merge_record


def _inline(fam) -> str:
    return f"method=task_arithmetic,base={fam['base']},models={fam['expert']}@1.0+{fam['instruct']}@1.0,dtype=float32"


def _evaluate(model, model_args, **kw):
    import lm_eval
    from lm_eval.tasks import TaskManager

    return lm_eval.simple_evaluate(
        model=model, model_args=model_args, tasks=["iberian_ca"], limit=2, bootstrap_iters=0, log_samples=True, device="cpu",
        task_manager=TaskManager(include_path=tasks_path()), **kw,
    )  # fmt: skip


@pytest.mark.parametrize("arch", ["llama", "qwen3"])
def test_merged_equals_hf_on_mergekit_output(tiny_families, tmp_path, arch):
    from mergekit.config import MergeConfiguration
    from mergekit.merge import run_merge
    from mergekit.options import MergeOptions

    fam = tiny_families[arch]
    merged = _evaluate("merged", _inline(fam) + ",batch_size=4")
    config = {"merge_method": "task_arithmetic", "base_model": str(fam["base"]), "dtype": "float32",
              "models": [{"model": str(fam["expert"]), "parameters": {"weight": 1.0}}, {"model": str(fam["instruct"]), "parameters": {"weight": 1.0}}]}  # fmt: skip
    out = tmp_path / "mk"
    run_merge(MergeConfiguration.model_validate(config), str(out), MergeOptions(random_seed=0, quiet=True))
    hf = _evaluate("hf", f"pretrained={out},dtype=float32,batch_size=4")
    for task, samples in hf["samples"].items():
        mine = sorted(merged["samples"][task], key=lambda s: s["doc_id"])
        for a, b in zip(mine, sorted(samples, key=lambda s: s["doc_id"]), strict=True):
            assert a["arguments"] == b["arguments"]
            assert a["resps"] == b["resps"], (task, a["doc_id"])
    assert merged["results"]["iberian_ca"]["acc,none"] == hf["results"]["iberian_ca"]["acc,none"]


def test_results_carry_the_recipe_and_provenance(tiny_families):
    fam = tiny_families["llama"]
    out = _evaluate("merged", _inline(fam) + ",seed=7")
    cfg = out["config"]
    assert cfg["model"] == "merged"
    record = read_merge_record(json.loads(json.dumps(cfg, default=str)))  # as read back from a results file
    assert record.record_version == 1 and record.backend == "hf"
    assert record.recipe["merge_method"] == "task_arithmetic" and record.recipe["base_model"] == str(fam["base"])
    assert record.seed == 7 and len(record.recipe_sha256) == 64
    assert cfg["model_name"] == record.model_name == f"merged-task_arithmetic-{fam['expert'].name}-{record.recipe_sha256[:12]}"
    assert [entry.path for entry in record.inputs] == [str(fam[r]) for r in ("expert", "instruct", "base")]  # recipe order
    assert all("model.safetensors" in entry.files for entry in record.inputs)
    assert {"mergekit", "lm_eval", "torch", "transformers", "lm-eval-iberian"} <= set(record.versions)
    assert record.backend_settings == {"device": "cpu", "dtype": "float32"} and record.merge_seconds > 0


def test_two_recipes_are_told_apart(tiny_families):
    from lm_eval_iberian.merge import MergeRecipe

    fam = tiny_families["llama"]
    a = MergeRecipe.from_inline({"method": "linear", "models": f"{fam['expert']}@1.0+{fam['instruct']}@1.0"})
    b = MergeRecipe.from_inline({"method": "linear", "models": f"{fam['expert']}@1.5+{fam['instruct']}@1.0"})
    c = MergeRecipe.from_inline({"method": "linear", "models": f"{fam['expert']}@1.5+{fam['instruct']}@1.0", "seed": "1"})
    assert len({a.content_hash(), b.content_hash(), c.content_hash()}) == 3


def test_hflm_arguments_pass_through(tiny_families):
    from lm_eval.api.registry import get_model

    fam = tiny_families["qwen3"]
    lm = get_model("merged").create_from_arg_string(_inline(fam) + ",max_length=512,batch_size=3,enable_thinking=False,add_bos_token=True")
    assert lm.max_length == 512 and lm.batch_size == 3 and lm.add_bos_token is True
    assert lm.enable_thinking is False
    assert lm.tokenizer.chat_template  # from the instruct model


def test_yaml_recipe_with_chat_template_and_save_merged(tiny_families, tmp_path):
    fam = tiny_families["qwen3"]
    recipe = tmp_path / "linear.yml"
    recipe.write_text(yaml.safe_dump({"merge_method": "linear", "dtype": "float32", "models": [
        {"model": str(fam["expert"]), "parameters": {"weight": 0.5}}, {"model": str(fam["instruct"]), "parameters": {"weight": 1.0}}]}))  # fmt: skip
    saved = tmp_path / "saved"
    out = _evaluate("merged", f"recipe={recipe},save_merged={saved}", apply_chat_template=True, fewshot_as_multiturn=True)
    prompt = out["samples"]["iberian_belebele_cat_Latn"][0]["arguments"][0][0]
    assert prompt.count("<|im_start|>user") == 6
    from transformers import AutoModelForCausalLM

    reloaded = AutoModelForCausalLM.from_pretrained(saved)
    assert reloaded.config.tie_word_embeddings is True
    assert yaml.safe_load((saved / "mergekit_config.yml").read_text())["merge_method"] == "linear"
    expected = (0.5 * _weights(fam["expert"]) + _weights(fam["instruct"])) / 1.5
    assert torch.allclose(reloaded.model.norm.weight, expected, atol=1e-6)


def _weights(folder: Path) -> torch.Tensor:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))["model.norm.weight"]


@pytest.mark.slow
def test_stock_lm_eval_cli_with_model_merged(tiny_families, tmp_path, subprocess_env):
    fam = tiny_families["llama"]
    lm_eval = Path(sys.executable).with_name("lm_eval")
    proc = subprocess.run(
        [str(lm_eval), "--model", "merged", "--model_args", _inline(fam), "--batch_size", "4",
         "--tasks", "iberian_eu", "--limit", "2", "--output_path", str(tmp_path / "res")],  # no --device: CPU fallback
        env=subprocess_env(), capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "merged task_arithmetic of 3 models" in proc.stderr
    assert "CUDA is not available: merging and evaluating on cpu" in proc.stderr  # lm-eval's CLI passes cuda:0
    for noise in ("Custom kwargs can be passed", "pretrained=None appears", "is not of type `str`", "torch_dtype"):
        assert noise not in proc.stderr, noise
    (result,) = (tmp_path / "res").rglob("results_*.json")
    data = json.loads(result.read_text())
    assert read_merge_record(data["config"]).recipe["merge_method"] == "task_arithmetic"
    # lm-eval names the results folder from the recipe, not a random id.
    assert result.parent.name == read_merge_record(data["config"]).model_name
    assert 0.0 <= data["results"]["iberian_eu"]["acc,none"] <= 1.0
