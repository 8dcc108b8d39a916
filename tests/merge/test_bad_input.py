"""Merges that cannot mean anything, damaged model files, ordinary paths: refused before allocation with one error
naming the problem and the fix; inputs never touched."""

import json
import os
import shutil
import struct
from pathlib import Path

import pytest
import torch
import yaml

from lm_eval_iberian.merge import MergeRecipe, RecipeError, merge_model, validate_recipe
from tests.merge._helpers import fail_model_args as _fail


@pytest.fixture(scope="module")
def fam(tiny_families):
    return tiny_families["llama"]


@pytest.fixture(scope="module")
def damaged(tmp_path_factory, tiny_families) -> dict[str, Path]:
    """Copies of the tiny expert, each damaged in one way (the originals stay intact)."""
    good = tiny_families["llama"]["expert"]
    root = tmp_path_factory.mktemp("damaged")

    def copy(name: str) -> Path:
        out = root / name
        shutil.copytree(good, out)
        return out

    out = {}
    weights = (good / "model.safetensors").read_bytes()
    out["truncated"] = copy("truncated")
    (out["truncated"] / "model.safetensors").write_bytes(weights[: len(weights) // 2])
    out["header_only"] = copy("header_only")
    (out["header_only"] / "model.safetensors").write_bytes(weights[:4])
    out["huge_header"] = copy("huge_header")
    (out["huge_header"] / "model.safetensors").write_bytes(struct.pack("<Q", 10**12) + weights[8:])
    out["header_not_json"] = copy("header_not_json")
    (out["header_not_json"] / "model.safetensors").write_bytes(struct.pack("<Q", 8) + b"not json" + weights[8:])
    out["config_not_json"] = copy("config_not_json")
    (out["config_not_json"] / "config.json").write_text('{"architectures": ["LlamaForCausalLM"],')
    out["config_list"] = copy("config_list")
    (out["config_list"] / "config.json").write_text("[]")
    out["tokenizer_not_json"] = copy("tokenizer_not_json")
    (out["tokenizer_not_json"] / "tokenizer.json").write_text('{"version": "1.0", "truncation"')
    for name, index in (("index_not_json", "{oops"), ("index_no_map", '{"metadata": {}}'),
                        ("index_missing_shard", json.dumps({"weight_map": {"lm_head.weight": "model-00002-of-00002.safetensors"}}))):
        out[name] = copy(name)
        (out[name] / "model.safetensors.index.json").write_text(index)
    return out


@pytest.mark.parametrize(("key", "fragments"), [
    ("truncated", ["model.safetensors: truncated", "download or save the model again"]),
    ("header_only", ["not a safetensors file (only 4 bytes)"]),
    ("huge_header", ["header length 1000000000000 does not fit the file"]),
    ("header_not_json", ["the safetensors header is not valid JSON"]),
    ("config_not_json", ["config.json: config.json is not valid JSON", "re-download or re-save the model"]),
    ("config_list", ["config.json is not a JSON object"]),
    ("tokenizer_not_json", ["tokenizer.json: tokenizer.json is not valid JSON", "tokenizer=ANOTHER_MODEL_OR_FOLDER"]),
    ("index_not_json", ["model.safetensors.index.json: the safetensors index is not valid JSON"]),
    ("index_no_map", ["the safetensors index has no 'weight_map'"]),
    ("index_missing_shard", ["weight files listed in its index are missing", "model-00002-of-00002.safetensors"]),
])
def test_damaged_files_name_themselves(fam, damaged, tree_hashes, key, fragments):
    broken = damaged[key]
    before = tree_hashes([broken])
    # The damaged model is the one whose tokenizer is used (last listed with a chat template) for the tokenizer case.
    models = f"{fam['instruct']}@1.0+{broken}@1.0" if key == "tokenizer_not_json" else f"{broken}@1.0+{fam['instruct']}@1.0"
    message = _fail(f"method=linear,models={models}", *fragments)
    assert str(broken) in message
    assert tree_hashes([broken]) == before


@pytest.mark.parametrize(("args", "fragments"), [
    ("models={e}@nan+{i}@1.0", ["'nan' is not a finite number"]),
    ("models={e}@1e999+{i}@1.0", ["'1e999' is not a finite number"]),
    ("models={e}@inf+{i}@1.0", ["'inf' is not a finite number"]),
    ("models={e}@weight:1;density:0.5|nan+{i}@1.0", ["'density' of", "not a finite number"]),
    ("models={e}@0+{i}@0", ["every model's weight is 0", "non-zero weights"]),
    ("models={e}@0|0+{i}@0|0", ["every model's weight is 0"]),
    ("models={e}@1+{i}@-1", ["the weights sum to 0", "linear divides by their sum", "normalize=false"]),
    ("models={e}@0.5|1+{i}@-0.5|1", ["the weights sum to 0"]),
    ("models={e}@1.0+{i}@1.0,normalize=maybe", ["'maybe' is not a number or a boolean", "yes/no"]),
])
def test_linear_merges_that_cannot_mean_anything(fam, args, fragments):
    _fail("method=linear," + args.format(e=fam["expert"], i=fam["instruct"]), *fragments)


@pytest.mark.parametrize(("args", "fragments"), [
    ("method=dare_ties,base={b},models={e}@1.0+{i}@1.0,density=0.5|1.5", ["density=1.5 (in density=[0.5, 1.5])", "[0, 1]"]),
    ("method=dare_ties,base={b},models={e}@weight:1;density:0.5|1.5+{i}@1.0", ["density=1.5", "must lie in [0, 1]"]),
    ("method=ties,base={b},models={e}@weight:1;density:-0.1+{i}@weight:1;density:0.5", ["density=-0.1 must lie in [0, 1]"]),
    ("method=slerp,base={i},models={e}+{i},t=0.2|nan", ["not a finite number"]),
    ("method=slerp,base={i},models={e}+{i},t=0|1.01", ["t=1.01", "must lie in [0, 1]"]),
    ("method=ties,base={b},models={e}@weight:1;density:0.5+{i}@weight:-1;density:0.5", ["the weights sum to 0"]),
    ("method=task_arithmetic,base={b},models={e}@0+{i}@0", ["every model's weight is 0"]),
])
def test_parameter_values_are_checked_inside_gradient_lists(fam, args, fragments):
    _fail(args.format(b=fam["base"], e=fam["expert"], i=fam["instruct"]), *fragments)


def test_opposite_weights_pass_when_the_method_does_not_normalize(fam):
    recipe = MergeRecipe.from_inline({"method": "linear", "models": f"{fam['expert']}@1+{fam['instruct']}@-1", "normalize": "false"})
    validate_recipe(recipe)  # a difference of two models is a legitimate (if unusual) merge


@pytest.mark.parametrize(("args", "fragments"), [
    ("seed=-1", ["seed=-1 is out of range", "[0, 4294967295]"]),
    ("seed=4294967296", ["out of range"]),
    ("seed=1.5", ["seed=1.5 is not an integer"]),
    ("allow_pickle=maybe", ["allow_pickle='maybe' is not a boolean", "true/false, 1/0, yes/no, on/off"]),
    ("check_finite=2", ["check_finite=2 is not a boolean"]),
    ("pretrained=Qwen/Qwen3-8B", ["pretrained='Qwen/Qwen3-8B' is not used by --model merged"]),
    ("merge_device=gpu", ["device='gpu' is not a torch device"]),
    ("base=a@b@c", ["Invalid model path - multiple @: a@b@c", "PATH@REVISION"]),
])
def test_model_arguments_are_parsed_strictly(fam, args, fragments):
    _fail(f"method=linear,models={fam['expert']}@1.0+{fam['instruct']}@1.0,{args}", *fragments)


def test_a_model_with_two_at_signs_names_the_grammar(fam):
    _fail(f"method=linear,models={fam['expert']}@x@1.0+{fam['instruct']}@1.0", "more than one @", "MODEL#REVISION@WEIGHT")


def test_allow_pickle_no_means_no(fam, tmp_path):
    pickle_only = tmp_path / "pickle_only"
    shutil.copytree(fam["expert"], pickle_only)
    (pickle_only / "model.safetensors").rename(pickle_only / "pytorch_model.bin")
    for spelling in ("no", "false", "0", "off", "NO"):
        _fail(f"method=linear,models={pickle_only}@1.0+{fam['instruct']}@1.0,allow_pickle={spelling}", "only pickle weights")


def test_one_model_under_two_spellings_is_refused(fam, tmp_path):
    link = tmp_path / "expert-link"
    link.symlink_to(fam["expert"], target_is_directory=True)
    _fail(f"method=linear,models={fam['expert']}@1.0+{fam['expert']}/@1.0", "are the same model", "write it one way")
    _fail(f"method=linear,models={fam['expert']}@1.0+{link}@1.0", "are the same model")
    _fail(f"method=task_arithmetic,base={fam['base']}/,models={fam['expert']}@1.0+{fam['base']}@1.0", "are the same model")


def test_ordinary_paths_work(fam, tmp_path, monkeypatch):
    """A folder with a space (mergekit's serializer fails on it), and ~ for the home folder."""
    spaced = tmp_path / "my models" / "eu expert"
    shutil.copytree(fam["expert"], spaced)
    model, _ = merge_model(MergeRecipe.from_inline({"method": "linear", "models": f"{spaced}@1.0+{fam['instruct']}@1.0"}), verbose=False)
    assert model.merge_summary.record.inputs[0].path == str(spaced)
    monkeypatch.setenv("HOME", str(tmp_path))
    recipe = MergeRecipe.from_inline({"method": "linear", "models": f"~/my models/eu expert@1.0+{fam['instruct']}@1.0"})
    assert validate_recipe(recipe).inputs["~/my models/eu expert"].path == spaced
    yml = tmp_path / "r.yml"
    yml.write_text(yaml.safe_dump(recipe.to_dict()))
    assert MergeRecipe.from_yaml("~/r.yml").to_dict() == recipe.to_dict()


def test_over_long_paths_get_a_clear_message(fam):
    _fail(f"method=linear,models=/tmp/{'x' * 300}@1.0+{fam['instruct']}@1.0", "over the 255-byte limit")
    _fail(f"recipe=/tmp/{'y' * 300}.yml", "over the 255-byte limit")


@pytest.mark.parametrize(("content", "fragment"), [
    (b"\xff\xfe\x00", "not UTF-8 text"),
    (b"- linear\n- ties\n", "a mergekit recipe is a mapping"),
    (b"merge_method: linear\nmodels:\n  - model: a/b\n    parameters: {weight: .nan}\n  - model: c/d\n    parameters: {weight: 1}\n",
     "not a finite number"),
    (b"merge_method: linear\nmodels:\n  - model: a/b\n    parameters: {weight: .inf}\n  - model: c/d\n    parameters: {weight: 1}\n",
     "not a finite number"),
    (b"merge_method: linear\nmodels:\n  - model: a/b@main@v2\n    parameters: {weight: 1}\n", "multiple @: a/b@main@v2"),
])
def test_yaml_recipes_with_bad_content(tmp_path, content, fragment):
    path = tmp_path / "r.yml"
    path.write_bytes(content)
    _fail(f"recipe={path}", fragment)
    _fail(f"recipe={tmp_path}", "is a folder")


def _nan_expert(fam, tmp_path) -> Path:
    from safetensors.torch import load_file, save_file

    bad = tmp_path / "nan_expert"
    shutil.copytree(fam["expert"], bad)
    state = load_file(str(bad / "model.safetensors"))
    state["model.layers.0.mlp.down_proj.weight"][0, 0] = float("nan")
    save_file(state, str(bad / "model.safetensors"), metadata={"format": "pt"})
    return bad


def test_non_finite_inputs_are_named_with_an_explicit_opt_out(fam, tmp_path):
    bad = _nan_expert(fam, tmp_path)
    recipe = MergeRecipe.from_inline({"method": "linear", "models": f"{bad}@1.0+{fam['instruct']}@1.0"})
    with pytest.raises(RecipeError) as err:
        merge_model(recipe, verbose=False)
    message = str(err.value)
    for fragment in ("merged tensor model.layers.0.mlp.down_proj.weight has NaN or infinite values",
                     f"input {bad} (model.safetensors) holds NaN", "check_finite=false"):
        assert fragment in message, message
    model, _ = merge_model(recipe, verbose=False, check_finite=False)  # the opt-out
    assert torch.isnan(model.state_dict()["model.layers.0.mlp.down_proj.weight"]).any()
    _fail(f"method=linear,models={bad}@1.0+{fam['instruct']}@1.0", "has NaN or infinite values")


def test_a_merge_that_overflows_names_the_dtype(fam):
    recipe = MergeRecipe.from_inline({"method": "linear", "models": f"{fam['expert']}@60000+{fam['instruct']}@60000",
                                      "normalize": "false", "dtype": "float16"})
    with pytest.raises(RecipeError, match="its inputs are finite, so the merge itself overflowed"):
        merge_model(recipe, verbose=False)


def test_save_merged_is_checked_before_the_merge(fam, tmp_path, monkeypatch, tree_hashes):
    import lm_eval_iberian.merge._model as model_module

    monkeypatch.setattr(model_module, "plan_merge", lambda *a, **k: pytest.fail("merged before checking save_merged"))
    ok = f"method=linear,models={fam['expert']}@1.0+{fam['instruct']}@1.0"
    before = tree_hashes([fam["expert"]])
    _fail(ok + ",save_merged=/sys/lm-eval-iberian/out", "cannot create files in /sys")
    _fail(ok + f",save_merged={fam['expert']}", "save_merged", "is the same path as input model")
    _fail(ok + f",save_merged={fam['expert']}/merged", "lies inside input model")
    _fail(ok + f",save_merged={fam['expert'].parent}", "contains input model")
    (tmp_path / "a-file").write_text("x")
    _fail(ok + f",save_merged={tmp_path / 'a-file'}", "is not an empty folder")
    assert tree_hashes([fam["expert"]]) == before


def test_save_merged_writes_atomically(fam, tmp_path):
    from lm_eval_iberian.merge import save_merged

    model, tok = merge_model(MergeRecipe.from_inline({"method": "linear", "models": f"{fam['expert']}@1.0+{fam['instruct']}@1.0"}),
                             verbose=False)
    out = save_merged(model, tok, tmp_path / "merged")
    assert (out / "model.safetensors").is_file() and json.loads((out / "merge_provenance.json").read_text())["record_version"] == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".merged.tmp")]
    with pytest.raises(RecipeError, match="not an empty folder"):
        save_merged(model, tok, out)


def test_the_merge_does_not_touch_the_callers_random_state(fam):
    """lm-eval seeds python/numpy/torch (--seed) before building the model: a DARE merge must not reseed them."""
    import random

    import numpy as np

    recipe = MergeRecipe.from_inline({"method": "dare_ties", "base": str(fam["base"]), "seed": "3", "density": "0.5",
                                      "models": f"{fam['expert']}@1.0+{fam['instruct']}@1.0"})

    def draws():
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    random.seed(11), np.random.seed(11), torch.manual_seed(11)
    expected = draws()
    random.seed(11), np.random.seed(11), torch.manual_seed(11)
    first, _ = merge_model(recipe, verbose=False)
    assert draws() == expected
    random.seed(99), np.random.seed(99), torch.manual_seed(99)  # another caller state: the same merge
    second, _ = merge_model(recipe, verbose=False)
    for name, tensor in first.state_dict().items():
        assert torch.equal(tensor, second.state_dict()[name]), name


def test_merge_summary_lists_inputs_in_recipe_order(fam):
    recipe = MergeRecipe.from_inline({"method": "task_arithmetic", "base": str(fam["base"]),
                                      "models": f"{fam['instruct']}@1.0+{fam['expert']}@1.0"})
    for _ in range(3):
        assert recipe.model_ids() == [str(fam["instruct"]), str(fam["expert"]), str(fam["base"])]
    assert os.path.basename(recipe.run_name()).startswith("merged-task_arithmetic-llama-instruct-")
