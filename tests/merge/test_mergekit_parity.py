"""Streamed merges equal mergekit's on-disk output of the same YAML, method by method."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from lm_eval_iberian.merge import MergeRecipe, merge_model, plan_merge, stream_merged_tensors, validate_recipe


def _recipe(method: str, fam: dict[str, Path], dtype: str = "float32") -> dict:
    base, inst, exp = str(fam["base"]), str(fam["instruct"]), str(fam["expert"])
    two = [{"model": exp, "parameters": {"weight": 1.0}}, {"model": inst, "parameters": {"weight": 1.0}}]
    sparse = [{"model": m["model"], "parameters": {"weight": 1.0, "density": 0.5}} for m in two]
    table = {
        "linear": {"models": [{"model": exp, "parameters": {"weight": 1.5}}, {"model": inst, "parameters": {"weight": 1.0}}]},
        "task_arithmetic": {"base_model": base, "models": two},
        "ties": {"base_model": base, "models": sparse},
        "dare_ties": {"base_model": base, "models": sparse},
        "dare_linear": {"base_model": base, "models": sparse},
        "breadcrumbs": {"base_model": base, "models": [{"model": m["model"], "parameters": {"weight": 1.0, "density": 0.9, "gamma": 0.01}} for m in two]},
        "breadcrumbs_ties": {"base_model": base, "models": [{"model": m["model"], "parameters": {"weight": 1.0, "density": 0.9, "gamma": 0.01}} for m in two]},
        "della": {"base_model": base, "models": [{"model": m["model"], "parameters": {"weight": 1.0, "density": 0.5, "epsilon": 0.1}} for m in two]},
        "nearswap": {"base_model": inst, "models": [{"model": exp}, {"model": inst}], "parameters": {"t": 0.5}},
        # layer gradient (list) and a per-tensor filter, as in mergekit's slerp examples
        "slerp": {
            "base_model": inst,
            "models": [{"model": exp}, {"model": inst}],
            "parameters": {"t": [{"filter": "self_attn", "value": [0.0, 0.5, 1.0]}, {"filter": "mlp", "value": [1.0, 0.5, 0.0]}, {"value": 0.5}]},
        },
    }
    return {"merge_method": method, "dtype": dtype, **table[method]}


METHODS = ["linear", "task_arithmetic", "ties", "dare_ties", "dare_linear", "breadcrumbs", "breadcrumbs_ties", "della", "nearswap", "slerp"]


def _mergekit_output(config: dict, out: Path, seed: int) -> dict[str, torch.Tensor]:
    from mergekit.config import MergeConfiguration
    from mergekit.merge import run_merge
    from mergekit.options import MergeOptions

    shutil.rmtree(out, ignore_errors=True)
    run_merge(MergeConfiguration.model_validate(config), str(out), MergeOptions(random_seed=seed, quiet=True, copy_tokenizer=False))
    return load_file(str(out / "model.safetensors"))


@pytest.mark.parametrize("arch", ["llama", "qwen3"])
@pytest.mark.parametrize("method", METHODS)
def test_stream_equals_mergekit_on_disk(tiny_families, tmp_path, arch, method):
    config = _recipe(method, tiny_families[arch])
    expected = _mergekit_output(config, tmp_path / "mk", seed=0)
    plan = plan_merge(validate_recipe(MergeRecipe.from_mergekit_dict(config, seed=0)))
    got = dict(stream_merged_tensors(plan, "cpu", progress=False))
    assert set(got) == set(expected)
    for name, tensor in expected.items():
        # Same mergekit code on the same fp32 inputs: bit-identical, random methods included (same seed).
        assert torch.equal(got[name], tensor), (method, arch, name, (got[name] - tensor).abs().max())


def test_bf16_recipe_matches_mergekit_bit_for_bit(tiny_families, tmp_path):
    config = _recipe("dare_ties", tiny_families["llama"], dtype="bfloat16")
    expected = _mergekit_output(config, tmp_path / "mk", seed=3)
    model, _ = merge_model(MergeRecipe.from_mergekit_dict(config, seed=3), verbose=False)
    state = model.state_dict()
    for name, tensor in expected.items():
        assert state[name].dtype == torch.bfloat16 and torch.equal(state[name], tensor), name


def test_random_methods_are_reproducible_by_seed(tiny_families):
    config = _recipe("dare_ties", tiny_families["llama"])
    run = lambda seed: dict(stream_merged_tensors(plan_merge(validate_recipe(MergeRecipe.from_mergekit_dict(config, seed=seed))), progress=False))  # noqa: E731
    a, b, c = run(1), run(1), run(2)
    name = "model.layers.0.mlp.up_proj.weight"
    assert torch.equal(a[name], b[name]) and not torch.equal(a[name], c[name])


def test_mixed_tied_and_untied_inputs_give_an_untied_lm_head(tiny_families, tmp_path):
    """A tied Qwen3 merged with an untied copy: lm_head is merged from (embeddings, lm_head), as mergekit does."""
    from transformers import AutoModelForCausalLM

    fam = tiny_families["qwen3"]
    untied_dir = tmp_path / "untied"
    m = AutoModelForCausalLM.from_pretrained(fam["expert"])
    m.config.tie_word_embeddings = False
    untied = AutoModelForCausalLM.from_config(m.config)
    untied.load_state_dict(m.state_dict(), strict=False)
    with torch.no_grad():
        untied.lm_head.weight.copy_(torch.randn_like(untied.lm_head.weight))
    untied.save_pretrained(untied_dir)
    shutil.copy(fam["expert"] / "tokenizer.json", untied_dir)
    shutil.copy(fam["expert"] / "tokenizer_config.json", untied_dir)
    config = {"merge_method": "linear", "dtype": "float32", "models": [
        {"model": str(untied_dir), "parameters": {"weight": 1.0}}, {"model": str(fam["instruct"]), "parameters": {"weight": 1.0}}]}  # fmt: skip
    expected = _mergekit_output(config, tmp_path / "mk", seed=0)
    model, _ = merge_model(MergeRecipe.from_mergekit_dict(config), verbose=False)
    assert "lm_head.weight" in expected and model.config.tie_word_embeddings is False
    assert model.lm_head.weight.data_ptr() != model.model.embed_tokens.weight.data_ptr()
    for name, tensor in expected.items():
        assert torch.equal(model.state_dict()[name], tensor), name


def test_tied_inputs_stay_tied(tiny_families):
    model, _ = merge_model(MergeRecipe.from_mergekit_dict(_recipe("linear", tiny_families["qwen3"])), verbose=False)
    assert model.config.tie_word_embeddings is True
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()


def test_mergekit_yaml_cli_on_an_unchanged_recipe_file(tiny_families, tmp_path):
    """The real `mergekit-yaml` command on the same YAML file `recipe=` takes."""
    config = _recipe("ties", tiny_families["llama"])
    recipe_file = tmp_path / "ties.yml"
    recipe_file.write_text(yaml.safe_dump(config))
    out = tmp_path / "out"
    cli = Path(sys.executable).with_name("mergekit-yaml")
    proc = subprocess.run([str(cli), str(recipe_file), str(out), "--random-seed", "0"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    expected = load_file(str(out / "model.safetensors"))
    model, _ = merge_model(MergeRecipe.from_yaml(recipe_file, seed=0), verbose=False)
    for name, tensor in expected.items():
        assert torch.equal(model.state_dict()[name], tensor), name


def test_tied_llama_like_llama_3_2_small(tmp_path, tiny_tokenizer):
    from lm_eval_iberian.testing import build_tiny_model

    fam = {r: build_tiny_model(tmp_path / r, "llama", seed=s, tokenizer=tiny_tokenizer, tie_embeddings=True)
           for s, r in enumerate(("base", "instruct", "expert"))}  # fmt: skip
    config = _recipe("task_arithmetic", fam)
    expected = _mergekit_output(config, tmp_path / "mk", seed=0)
    model, _ = merge_model(MergeRecipe.from_mergekit_dict(config), verbose=False)
    assert "lm_head.weight" not in expected and model.config.tie_word_embeddings is True
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    for name, tensor in expected.items():
        assert torch.equal(model.state_dict()[name], tensor), name
