"""Merge recipes computed straight into memory, for lm-eval and for any other code.

* :class:`MergeRecipe` — a mergekit YAML (unchanged) or an inline model-arg string;
* :func:`validate_recipe` — every check that needs only configs and safetensors headers
  (:func:`check_recipe_structure`: the subset that needs no model files);
* :func:`plan_merge` / :func:`stream_merged_tensors` — ``(name, tensor)`` pairs for
  engines that load weights themselves (e.g. vLLM's ``load_weights``);
* :func:`merge_model` — ``(model, tokenizer)``, an in-memory Hugging Face model;
* :func:`save_merged` — write it as a normal model folder.

``--model merged`` in lm-eval is :class:`lm_eval_iberian.merge._lm.MergedLM`
(registered through the ``lm_eval.models`` entry point).
"""

from lm_eval_iberian.merge._errors import RecipeError
from lm_eval_iberian.merge._model import MergeSummary, merge_model, save_merged
from lm_eval_iberian.merge._recipe import MergeRecipe
from lm_eval_iberian.merge._stream import MergePlan, plan_merge, stream_merged_tensors
from lm_eval_iberian.merge._validate import ResolvedRecipe, check_recipe_structure, validate_recipe

__all__ = [
    "MergePlan",
    "MergeRecipe",
    "MergeSummary",
    "RecipeError",
    "ResolvedRecipe",
    "check_recipe_structure",
    "merge_model",
    "plan_merge",
    "save_merged",
    "stream_merged_tensors",
    "validate_recipe",
]
