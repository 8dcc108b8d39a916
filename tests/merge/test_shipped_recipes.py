"""The paper's recipes in merge_models/ are valid mergekit YAML for the in-memory merge."""

from pathlib import Path

import pytest

from lm_eval_iberian import recipes_path
from lm_eval_iberian.merge import MergeRecipe, check_recipe_structure

RECIPES = sorted(Path(recipes_path()).rglob("*.yml"))


def test_every_family_and_language_is_shipped():
    names = {(p.parent.name, p.stem) for p in RECIPES}
    for family in ("llama31_8b", "qwen3_8b", "qwen3_14b"):
        assert (family, "multilingual_linear") in names
        for lang in ("eu", "gl", "ca", "es"):
            for method in ("linear_w0.5", "linear_w1", "linear_w1.5", "linear_w2", "task_arithmetic", "dare_ties", "breadcrumbs", "nearswap"):
                assert (family, f"{lang}_{method}") in names, (family, lang, method)


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_recipe_is_valid(path):
    recipe = MergeRecipe.from_yaml(path)
    check_recipe_structure(recipe)
    assert recipe.config.dtype == "bfloat16"
    assert all("/" in ref and not ref.startswith("/") for ref in recipe.model_ids())  # hub ids, not local paths


def test_multilingual_recipe_weights():
    recipe = MergeRecipe.from_yaml(Path(recipes_path()) / "qwen3_8b" / "multilingual_linear.yml")
    weights = {m["model"]: m["parameters"]["weight"] for m in recipe.to_dict()["models"]}
    assert weights == {"HiTZ/eu_Qwen3-8B-Base": 0.25, "HiTZ/gl_Qwen3-8B-Base": 0.25, "HiTZ/ca_Qwen3-8B-Base": 0.25,
                       "HiTZ/es_Qwen3-8B-Base": 0.25, "Qwen/Qwen3-8B": 1.0}  # fmt: skip
