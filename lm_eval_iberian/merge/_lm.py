"""``--model merged``: lm-eval's HFLM on a model merged in memory from a recipe."""

import inspect
from pathlib import Path
from typing import Any

from lm_eval.models.huggingface import HFLM

from lm_eval_iberian._logs import quiet_in_memory_hflm
from lm_eval_iberian.merge._errors import RecipeError
from lm_eval_iberian.merge._recipe import RECIPE_KEYS, MergeRecipe, method_parameter_names
from lm_eval_iberian.merge._record import CONFIG_KEY

_HFLM_ARGS = frozenset(p for p in inspect.signature(HFLM.__init__).parameters if p not in {"self", "kwargs", "pretrained"})
# Ours, not HFLM's and not part of the recipe itself.
_OWN_ARGS = frozenset({"recipe", "save_merged", "allow_pickle", "merge_device", "check_finite", "pretrained"})
_BOOL_ARGS = ("allow_pickle", "check_finite")


def _own_bool(own: dict[str, Any], key: str, default: bool) -> bool:
    from lm_eval_iberian._errors import UsageError
    from lm_eval_iberian._parsing import parse_bool

    if key not in own:
        return default
    try:
        return parse_bool(own[key], key)
    except UsageError as exc:
        raise RecipeError(str(exc)) from None


def split_model_args(
    args: dict[str, Any], backend: type | None = None
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Model args -> (recipe args, our options, backend args). Unknown keys are an error, never dropped.

    ``backend=None`` is HFLM (its named arguments only: HFLM would swallow unknown keys);
    for lm-eval's VLLM every other key goes to vLLM's ``LLM``, which rejects unknown ones.
    """
    method = args.get("method")
    if args.get("recipe") is not None and method is not None:
        raise RecipeError("pass either recipe=PATH (a mergekit YAML) or method=/models= (inline), not both")
    params = set(method_parameter_names(str(method))) if method is not None else set()
    recipe_args, own, hflm = {}, {}, {}
    for key, value in args.items():
        if key in _OWN_ARGS:
            own[key] = value
        elif key in RECIPE_KEYS - {"dtype"} or key in params:
            recipe_args[key] = value
        elif key in _HFLM_ARGS or backend is not None:
            hflm[key] = value
        else:
            hint = f" merge parameters of {method}: {', '.join(sorted(params))};" if method else ""
            raise RecipeError(
                f"unknown model argument {key!r} for --model merged;{hint} recipe keys: {', '.join(sorted(RECIPE_KEYS | _OWN_ARGS))}; "
                "other keys go to lm-eval's HFLM (batch_size, max_length, device, ...)"
            )
    for key in _BOOL_ARGS:
        if key in own:
            own[key] = _own_bool(own, key, False)
    if args.get("recipe") is not None:
        if "seed" in recipe_args:
            own["seed"] = recipe_args.pop("seed")
        if recipe_args:
            raise RecipeError(
                f"with recipe=PATH, {', '.join(sorted(recipe_args))} belong in the YAML file; edit the recipe "
                "(or use the inline form without recipe=)"
            )
    return recipe_args, own, hflm


def recipe_from_model_args(
    args: dict[str, Any], backend: type | None = None
) -> tuple[MergeRecipe, dict[str, Any], dict[str, Any]]:
    """Model args -> (recipe, our options, backend args), raising RecipeError before anything is loaded."""
    recipe_args, own, hflm = split_model_args(args, backend)
    if backend is not None:
        unsupported = sorted(set(own) & {"save_merged", "merge_device", "allow_pickle"})
        if unsupported:
            raise RecipeError(f"{', '.join(unsupported)} is not available with merged_vllm; use --model merged for it")
    if own.get("recipe") is not None:
        recipe = MergeRecipe.from_yaml(own["recipe"], seed=own.get("seed"))
    elif recipe_args:
        recipe = MergeRecipe.from_inline(recipe_args)
    else:
        raise RecipeError("--model merged needs recipe=PATH or method=NAME,models=A@W+B@W (see the README)")
    pretrained = own.pop("pretrained", None)
    if pretrained is not None and pretrained != recipe.run_name():
        raise RecipeError(f"pretrained={pretrained!r} is not used by --model merged: the recipe names the model "
                          "(recipe=PATH or method=,models=); drop pretrained=")
    if own.get("save_merged"):
        from lm_eval_iberian.merge._model import check_save_dir

        local = {f"input model {m}": Path(m).expanduser() for m in recipe.model_ids() if Path(m).expanduser().exists()}
        check_save_dir(own["save_merged"], local)  # before the merge, not after it
    return recipe, own, hflm


class MergedLM(HFLM):
    """HFLM whose model is merged from a recipe straight into device memory.

    ``dtype`` is the merged model's dtype (default: the recipe's ``out_dtype``/``dtype``);
    ``tokenizer`` defaults to the instruct model's (the last listed model with a chat template).
    Every other HFLM argument passes through unchanged.
    """

    def __init__(self, **kwargs: Any) -> None:
        from lm_eval_iberian.merge._model import merge_model, resolve_device, save_merged

        dtype = kwargs.pop("dtype", None)
        if dtype == "auto":
            dtype = None
        recipe, own, hflm = recipe_from_model_args(kwargs)
        device = resolve_device(own.get("merge_device") or hflm.get("device"))
        tokenizer = hflm.pop("tokenizer", None)
        model, tok = merge_model(
            recipe, device=device, dtype=dtype, tokenizer=tokenizer, allow_pickle=own.get("allow_pickle", False),
            check_finite=own.get("check_finite", True),
        )
        if own.get("save_merged"):
            save_merged(model, tok, own["save_merged"])
        self.merge_summary = model.merge_summary
        hflm.pop("device", None)  # taken from the model
        with quiet_in_memory_hflm():
            super().__init__(pretrained=model, tokenizer=tok, **hflm)

    @classmethod
    def create_from_arg_obj(cls, arg_dict: dict[str, Any], additional_config: dict[str, Any] | None = None) -> "MergedLM":
        """lm-eval's constructor for dict model args (its CLI): also names the run's results folder.

        lm-eval names ``--output_path`` folders from ``pretrained=`` in this same dict after the model is built;
        setting it to the record's ``model_name`` gives ``merged-<method>-<model>-<hash>`` instead of a random id.
        """
        lm = super().create_from_arg_obj(arg_dict, additional_config)
        if isinstance(arg_dict, dict) and "pretrained" not in arg_dict:
            arg_dict["pretrained"] = lm.merge_summary.record.model_name
        return lm

    @classmethod
    def from_model(cls, model: Any, tokenizer: Any, **hflm: Any) -> "MergedLM":
        """Wrap a model already merged by :func:`merge_model` (sweeps re-merge into it in place)."""
        self = cls.__new__(cls)
        self.merge_summary = model.merge_summary
        hflm.pop("device", None)
        with quiet_in_memory_hflm():
            HFLM.__init__(self, pretrained=model, tokenizer=tokenizer, **hflm)
        return self

    def get_model_info(self) -> dict:
        record = self.merge_summary.record
        return {
            "model_name": record.model_name,
            "model_num_parameters": self._model.num_parameters(),
            "model_dtype": str(self._model.dtype),
            CONFIG_KEY: record.model_dump(mode="json"),
        }
