"""Bad recipes and model-arg strings: one clear error naming the problem and the fix, before any allocation."""

import json
import shutil
from pathlib import Path

import pytest
import yaml

from lm_eval_iberian.merge import MergeRecipe, RecipeError, validate_recipe
from tests.merge._helpers import fail_model_args as _fail


@pytest.fixture(scope="module")
def bad_models(tmp_path_factory, tiny_families, tiny_tokenizer) -> dict[str, Path]:
    """Broken or incompatible model folders next to the good tiny families."""
    from safetensors.torch import load_file, save_file

    from lm_eval_iberian.testing import build_tiny_model

    root = tmp_path_factory.mktemp("bad")
    good = tiny_families["llama"]["expert"]
    out = {}
    out["no_config"] = root / "no_config"
    shutil.copytree(good, out["no_config"])
    (out["no_config"] / "config.json").unlink()
    out["pickle_only"] = root / "pickle_only"
    shutil.copytree(good, out["pickle_only"])
    (out["pickle_only"] / "model.safetensors").rename(out["pickle_only"] / "pytorch_model.bin")
    out["no_weights"] = root / "no_weights"
    shutil.copytree(good, out["no_weights"])
    (out["no_weights"] / "model.safetensors").unlink()
    out["missing_tensor"] = root / "missing_tensor"
    shutil.copytree(good, out["missing_tensor"])
    state = load_file(str(good / "model.safetensors"))
    state.pop("model.layers.1.mlp.up_proj.weight")
    save_file(state, str(out["missing_tensor"] / "model.safetensors"), metadata={"format": "pt"})
    out["wider"] = build_tiny_model(root / "wider", "llama", seed=5, hidden_size=64, tokenizer=tiny_tokenizer)
    out["bigger_vocab"] = root / "bigger_vocab"
    shutil.copytree(good, out["bigger_vocab"])
    cfg = json.loads((good / "config.json").read_text())
    cfg["vocab_size"] += 8
    (out["bigger_vocab"] / "config.json").write_text(json.dumps(cfg))
    out["no_tokenizer"] = root / "no_tokenizer"
    out["no_tokenizer"].mkdir()
    return out


def test_error_catalogue(tiny_families, bad_models, tmp_path):
    llama, qwen = tiny_families["llama"], tiny_families["qwen3"]
    b, i, e = llama["base"], llama["instruct"], llama["expert"]
    ok_models = f"{e}@1.0+{i}@1.0"
    cases = [
        ("batch_size=4", ["needs recipe=PATH or method=NAME"]),
        (f"method=linearr,models={ok_models}", ["unknown merge method 'linearr'", "linear", "task_arithmetic"]),
        ("method=linear", ["needs models=A@W+B@W"]),
        (f"method=linear,models={e}@1.0++{i}@1.0", ["empty model entry"]),
        (f"method=linear,models={e}@heavy+{i}@1.0", ["weight of", "'heavy' is not a number"]),
        (f"method=linear,models={e}@weight:1;densty+{i}@1.0", ["is not KEY:VALUE"]),
        (f"method=linear,models={ok_models},gamma=0.01", ["unknown model argument 'gamma'", "merge parameters of linear: normalize, weight"]),
        (f"method=dare_ties,base={b},models={ok_models},densty=0.5", ["unknown model argument 'densty'", "density"]),
        (f"recipe={tmp_path}/r.yml,method=linear,models={ok_models}", ["either recipe=PATH", "not both"]),
        (f"method=task_arithmetic,models={ok_models}", ["needs a base model", "base="]),
        (f"method=nearswap,base={i},models={e}+{i}+{b},t=0.5", ["nearswap"]),
        (f"method=nearswap,base={i},models={e}+{i}", ["needs the parameter 't'"]),
        (f"method=dare_ties,base={b},models={ok_models},density=1.5", ["density=1.5 must lie in [0, 1]"]),
        (f"method=linear,models={ok_models},seed=abc", ["seed='abc' is not an integer", "[0, 4294967295]"]),
        (f"method=linear,models={ok_models},out_dtype=float8", ["out_dtype='float8' is not one of"]),
        (f"method=linear,models={e}+{i}@1.0", ["models[0]", "has no 'weight'", "MODEL@1.0"]),
        (f"method=linear,models={e}@1.0+{e}@1.0", ["appears twice"]),
        (f"method=linear,models=/nope/model@1.0+{i}@1.0", ["'/nope/model': no such folder"]),
        (f"method=linear,models=NoSuchOrg/no-such-model@1.0+{i}@1.0", ["no such local folder, and not in the local Hugging Face cache", "hf download NoSuchOrg/no-such-model"]),
        (f"method=linear,models={bad_models['no_config']}@1.0+{i}@1.0", ["has no config.json"]),
        (f"method=linear,models={bad_models['pickle_only']}@1.0+{i}@1.0", ["only pickle weights", "allow_pickle=true"]),
        (f"method=linear,models={bad_models['no_weights']}@1.0+{i}@1.0", ["no weights in"]),
        (f"method=linear,models={qwen['expert']}@1.0+{i}@1.0", ["different architectures", "Qwen3ForCausalLM", "LlamaForCausalLM"]),
        (f"method=linear,models={bad_models['bigger_vocab']}@1.0+{i}@1.0", ["vocabulary sizes differ"]),
        (f"method=linear,models={bad_models['wider']}@1.0+{i}@1.0", ["has shape", "same size"]),
        (f"method=linear,models={bad_models['missing_tensor']}@1.0+{i}@1.0", ["tensor names differ", "model.layers.1.mlp.up_proj.weight"]),
        (f"recipe={tmp_path}/missing.yml", ["no such file"]),
        (f"recipe={tmp_path}/r.yml,base={b}", ["with recipe=PATH, base belong in the YAML file"]),
        (f"method=linear,models={ok_models},save_merged={tmp_path}", ["exists and is not an empty folder"]),
    ]
    (tmp_path / "keep").write_text("x")  # makes save_merged target non-empty
    for arg_string, fragments in cases:
        _fail(arg_string, *fragments)
    assert len(cases) >= 25


def test_tokenizer_errors(tiny_families, bad_models):
    llama = tiny_families["llama"]
    ok = f"method=linear,models={llama['expert']}@1.0+{llama['instruct']}@1.0"
    _fail(ok + ",tokenizer=some/other-model", "neither a folder nor one of the recipe's models")
    _fail(ok + f",tokenizer={bad_models['no_tokenizer']}", "has no tokenizer files")


def test_yaml_recipe_errors(tiny_families, tmp_path):
    fam = tiny_families["llama"]
    broken = tmp_path / "broken.yml"
    broken.write_text("merge_method: linear\nmodels: [\n")
    _fail(f"recipe={broken}", "not valid YAML")
    not_mergekit = tmp_path / "nm.yml"
    not_mergekit.write_text(yaml.safe_dump({"models": [{"model": str(fam["expert"])}]}))
    _fail(f"recipe={not_mergekit}", "not a valid mergekit recipe", "merge_method")
    surgery = tmp_path / "surgery.yml"
    surgery.write_text(yaml.safe_dump({"merge_method": "linear", "tokenizer_source": "union", "models": [
        {"model": str(fam["expert"]), "parameters": {"weight": 1.0}}, {"model": str(fam["instruct"]), "parameters": {"weight": 1.0}}]}))  # fmt: skip
    _fail(f"recipe={surgery}", "tokenizer_source", "not supported")
    wrong_param = tmp_path / "wp.yml"
    wrong_param.write_text(yaml.safe_dump({"merge_method": "linear", "models": [
        {"model": str(fam["expert"]), "parameters": {"weight": 1.0, "density": 0.5}}, {"model": str(fam["instruct"]), "parameters": {"weight": 1.0}}]}))  # fmt: skip
    _fail(f"recipe={wrong_param}", "models[0]", "'density' is not a parameter of merge method 'linear'")
    lora = tmp_path / "lora.yml"
    lora.write_text(yaml.safe_dump({"merge_method": "linear", "models": [
        {"model": f"{fam['expert']}+{tmp_path}", "parameters": {"weight": 1.0}}, {"model": str(fam["instruct"]), "parameters": {"weight": 1.0}}]}))  # fmt: skip
    _fail(f"recipe={lora}", "LoRA inputs", "merge the adapter")


def test_pickle_weights_are_allowed_when_asked(tiny_families, bad_models):
    fam = tiny_families["llama"]
    recipe = MergeRecipe.from_inline({"method": "linear", "models": f"{bad_models['pickle_only']}@1.0+{fam['instruct']}@1.0"})
    with pytest.raises(RecipeError, match="allow_pickle=true"):
        validate_recipe(recipe)
    resolved = validate_recipe(recipe, allow_pickle=True)
    assert resolved.inputs[str(bad_models["pickle_only"])].tensors == {}


def test_hub_ids_resolve_from_the_offline_cache(tiny_families, tmp_path, monkeypatch):
    """A hub id is read from the Hugging Face cache (HF_HUB_OFFLINE=1): the real snapshot code path."""
    import huggingface_hub.constants as hf_constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    hub = tmp_path / "hub"
    for role in ("expert", "instruct"):
        repo = hub / f"models--TinyOrg--tiny-{role}"
        shutil.copytree(tiny_families["llama"][role], repo / "snapshots" / commit)
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    recipe = MergeRecipe.from_inline({"method": "linear", "models": "TinyOrg/tiny-expert@1.0+TinyOrg/tiny-instruct@1.0"})
    resolved = validate_recipe(recipe)
    assert [p["revision"] for p in resolved.provenance()] == [commit, commit]
    assert resolved.tokenizer_dir.name == commit and "tiny-instruct" in str(resolved.tokenizer_dir)
    from lm_eval_iberian.merge import merge_model

    model, _ = merge_model(resolved, verbose=False)
    assert model.merge_summary.record.recipe["models"][0]["model"] == "TinyOrg/tiny-expert"
