"""Everything that can be wrong with a recipe, found before any weight is read or allocated."""

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lm_eval_iberian.merge._errors import RecipeError
from lm_eval_iberian.merge._inputs import InputModel, read_json_file, resolve_input
from lm_eval_iberian.merge._recipe import MergeRecipe, method_spec

_FLOAT_DTYPES = {"F32", "F16", "BF16", "F64", "float32", "float16", "bfloat16"}
_TIED_ALIASES = ("lm_head.weight",)


@dataclass
class ResolvedRecipe:
    """A validated recipe whose inputs are local folders."""

    recipe: MergeRecipe
    inputs: dict[str, InputModel]  # keyed by the model as written in the recipe
    reference: InputModel  # base model, else the first model: architecture and config come from it
    tokenizer_dir: Path
    local_config: Any  # the mergekit configuration with every model replaced by its local folder
    tokenizer: Any = None  # the tokenizer loaded from tokenizer_dir while validating

    def provenance(self) -> list[dict[str, Any]]:
        return [m.provenance() for m in self.inputs.values()]


def _iter_parameter_blocks(data: dict[str, Any]):
    """(where, parameters-dict, is_base) for every parameters block of a mergekit config dict."""
    base = data.get("base_model")
    if isinstance(data.get("parameters"), dict):
        yield "parameters", data["parameters"], False
    for i, entry in enumerate(data.get("models") or []):
        if isinstance(entry.get("parameters"), dict):
            yield f"models[{i}] ({entry.get('model')})", entry["parameters"], entry.get("model") == base
    for s, sl in enumerate(data.get("slices") or []):
        for i, src in enumerate(sl.get("sources") or []):
            if isinstance(src.get("parameters"), dict):
                yield f"slices[{s}].sources[{i}]", src["parameters"], src.get("model") == base


_UNIT_INTERVAL = frozenset({"density", "t"})


def _numbers(value: Any):
    """Every number inside a parameter value: a scalar, a layer-gradient list, or mergekit's filter conditions."""
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _numbers(item)
    elif isinstance(value, dict) and "value" in value:
        yield from _numbers(value["value"])


def _check_value(where: str, key: str, value: Any, spec_param: Any, method: str) -> None:
    for number in _numbers(value):
        if not math.isfinite(number):
            raise RecipeError(f"{where}: {key}={value!r} holds {number!r}, which is not a finite number; give values such as 0.5")
        try:
            spec_param.validate(number)
        except Exception as exc:  # mergekit's TypeAdapter raises pydantic errors
            raise RecipeError(f"{where}: {key}={value!r} is invalid for {method}: {exc}") from None
        if key in _UNIT_INTERVAL and not 0.0 <= float(number) <= 1.0:
            shown = f"{key}={number}" + (f" (in {key}={value!r})" if not isinstance(value, int | float) else "")
            raise RecipeError(f"{where}: {shown} must lie in [0, 1]")


def _check_weights(recipe: MergeRecipe, spec: Any, data: dict[str, Any]) -> None:
    """Weights that cannot give a model: all zero, or summing to zero where the method divides by their sum."""
    by_name = {p.name: p for p in spec.parameters}
    weight = by_name.get("weight")
    if weight is None or data.get("slices"):
        return
    top = data.get("parameters") or {}
    base = data.get("base_model")
    non_base = weight.scope.value == "non_base"
    entries = [e for e in data.get("models") or [] if not (non_base and e.get("model") == base)]
    values = [(e.get("parameters") or {}).get("weight", top.get("weight")) for e in entries]
    if not values or any(isinstance(v, bool) or not isinstance(v, int | float | list) for v in values):
        return  # missing (reported elsewhere) or filter conditions (mergekit resolves them per tensor)
    if any(isinstance(v, list) and not all(isinstance(x, int | float) and not isinstance(x, bool) for x in v) for v in values):
        return
    length = max((len(v) for v in values if isinstance(v, list)), default=1)
    if any(isinstance(v, list) and len(v) != length for v in values):
        return  # gradients of different lengths: mergekit interpolates each separately
    columns = [[float(v[i]) if isinstance(v, list) else float(v) for v in values] for i in range(length)]
    normalize = by_name.get("normalize")
    divides = normalize is not None and bool(top.get("normalize", normalize.default if not normalize.required else False))
    shown = ", ".join(f"{e.get('model')}: {v}" for e, v in zip(entries, values, strict=True))
    for column in columns:
        if all(w == 0 for w in column):
            raise RecipeError(f"every model's weight is 0 ({shown}): the merge would be all zeros or the unchanged base; "
                              "give the models non-zero weights")
        if divides and sum(column) == 0:
            raise RecipeError(f"the weights sum to 0 ({shown}) and {recipe.method} divides by their sum (normalize is on): "
                              "every merged tensor would be NaN or infinite; change a weight, or set normalize=false")


def _check_parameters(recipe: MergeRecipe) -> None:
    spec = method_spec(recipe.method)
    by_name = {p.name: p for p in spec.parameters}
    data = recipe.to_dict()
    for where, params, _ in _iter_parameter_blocks(data):
        for key, value in params.items():
            if key not in by_name:
                raise RecipeError(
                    f"{where}: {key!r} is not a parameter of merge method {recipe.method!r}; "
                    f"its parameters are: {', '.join(sorted(by_name)) or 'none'}"
                )
            _check_value(where, key, value, by_name[key], recipe.method)
    top = data.get("parameters") or {}
    for p in spec.shared_parameters:
        if p.required and p.name not in top:
            raise RecipeError(f"merge method {recipe.method!r} needs the parameter {p.name!r} (e.g. {p.name}=0.5 / parameters: {{{p.name}: 0.5}})")
    base = data.get("base_model")
    for p in spec.input_parameters:
        if not p.required or p.name in top:
            continue
        for i, entry in enumerate(data.get("models") or []):
            if p.scope.value == "non_base" and entry.get("model") == base:
                continue
            if p.name not in (entry.get("parameters") or {}):
                raise RecipeError(
                    f"models[{i}] ({entry.get('model')}) has no {p.name!r}, which {recipe.method!r} needs for every "
                    f"{'non-base ' if p.scope.value == 'non_base' else ''}model; write MODEL@1.0 inline or parameters: {{{p.name}: 1.0}}"
                )
    _check_weights(recipe, spec, data)


def _check_same_model_once(inputs: dict[str, InputModel]) -> None:
    """Two spellings of one model (a trailing slash, a symlink, ~) would be merged as two different models."""
    seen: dict[tuple[str, str | None], str] = {}
    for ref, model in inputs.items():
        key = (os.path.realpath(model.path), model.revision)
        if key in seen:
            raise RecipeError(f"{seen[key]!r} and {ref!r} are the same model ({key[0]}); write it one way everywhere in the recipe")
        seen[key] = ref


def _check_inputs_shape(recipe: MergeRecipe) -> None:
    spec = method_spec(recipe.method)
    config = recipe.config
    if config.slices or config.modules:
        return  # mergekit validates slice structures while planning
    base = str(config.base_model) if config.base_model is not None else None
    ids = [str(m.model) for m in config.models or []]
    policy = spec.contract.base.value
    if policy == "required" and base is None:
        raise RecipeError(f"merge method {recipe.method!r} needs a base model: add base=MODEL (inline) or base_model: (YAML)")
    if policy == "forbidden" and base is not None:
        raise RecipeError(f"merge method {recipe.method!r} does not take a base model: remove base=/base_model:")
    if len(set(ids)) != len(ids):
        raise RecipeError(f"a model appears twice in models: {ids}; list each model once")
    all_ids = ids + ([base] if base is not None and base not in ids else [])
    try:
        spec.contract.validate_ids(all_ids, base if policy != "ignored" else None)
    except ValueError as exc:
        raise RecipeError(f"{recipe.method}: {exc}; inputs given: {', '.join(all_ids)}") from None


def _local_config(recipe: MergeRecipe, inputs: dict[str, InputModel]):
    from mergekit.config import MergeConfiguration

    mapping = {ref: str(m.path) for ref, m in inputs.items()}

    def walk(value):
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str) and value in mapping:
            return mapping[value]
        return value

    return MergeConfiguration.model_validate(walk(recipe.to_dict()))


def _choose_tokenizer_dir(recipe: MergeRecipe, inputs: dict[str, InputModel], override: str | None) -> Path:
    """The instruct model's tokenizer: the last listed model with a chat template, else the base/first."""
    if override:
        path = Path(os.path.expanduser(override))
        if path.is_dir():
            return path
        for ref, model in inputs.items():
            if ref == override or ref.split("@")[0] == override:
                return model.path
        raise RecipeError(f"tokenizer={override!r} is neither a folder nor one of the recipe's models ({', '.join(inputs)})")
    ordered = [str(m.model) for m in recipe.config.models or []] or list(inputs)
    for ref in reversed(ordered):
        model = inputs.get(ref)
        if model and _has_chat_template(model.path):
            return model.path
    base = recipe.config.base_model
    return inputs[str(base)].path if base is not None else inputs[ordered[0]].path


def _has_chat_template(path: Path) -> bool:
    if (path / "chat_template.jinja").is_file() or (path / "chat_template.json").is_file():
        return True
    cfg = path / "tokenizer_config.json"
    if not cfg.is_file():
        return False
    data = read_json_file(cfg, "tokenizer_config.json", f"re-download or re-save the tokenizer of {path}")
    return isinstance(data, dict) and bool(data.get("chat_template"))


def _check_compatible(recipe: MergeRecipe, inputs: dict[str, InputModel], reference: InputModel) -> None:
    # Tensor names and shapes are compared against a model whose safetensors headers we have
    # (pickle inputs, allowed with allow_pickle, have none: mergekit checks them while loading).
    with_headers = [m for m in inputs.values() if m.tensors]
    tensors_ref = reference if reference.tensors else (with_headers[0] if with_headers else reference)
    for ref, model in inputs.items():
        if model.architecture != reference.architecture:
            raise RecipeError(
                f"models have different architectures: {reference.ref} is {reference.architecture}, {ref} is "
                f"{model.architecture}; merge models of one family (same base)"
            )
        vocab_a, vocab_b = reference.config.get("vocab_size"), model.config.get("vocab_size")
        if vocab_a != vocab_b:
            raise RecipeError(
                f"vocabulary sizes differ: {reference.ref} has {vocab_a}, {ref} has {vocab_b}; the in-memory merge "
                "needs one vocabulary (mergekit's tokenizer_source surgery is not supported): use models of one family"
            )
        if not model.tensors or model is tensors_ref:
            continue
        names_ref = set(tensors_ref.tensors) - set(_TIED_ALIASES)
        names = set(model.tensors) - set(_TIED_ALIASES)
        if names != names_ref:
            only_ref, only = sorted(names_ref - names)[:5], sorted(names - names_ref)[:5]
            raise RecipeError(
                f"tensor names differ between {tensors_ref.ref} and {ref} (only in the first: {only_ref}; only in the "
                f"second: {only}); the models must share one architecture and size"
            )
        for name in sorted(names):
            a, b = tensors_ref.tensors[name], model.tensors[name]
            if a.shape != b.shape:
                raise RecipeError(
                    f"tensor {name} has shape {list(a.shape)} in {tensors_ref.ref} but {list(b.shape)} in {ref}; "
                    "the models must have the same size"
                )
            if b.dtype not in _FLOAT_DTYPES and a.dtype != b.dtype:
                raise RecipeError(f"tensor {name} of {ref} has dtype {b.dtype}, {tensors_ref.ref} has {a.dtype}")
        for alias in _TIED_ALIASES:
            if alias not in model.tensors and not model.tied:
                raise RecipeError(f"{ref} has no {alias} and does not tie it to the embeddings; the checkpoint is incomplete")


def _load_checked_tokenizer(tokenizer_dir: Path, reference: InputModel):
    files = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")
    if not any((tokenizer_dir / f).is_file() for f in files):
        raise RecipeError(f"{tokenizer_dir} has no tokenizer files; pass tokenizer=MODEL_OR_FOLDER")
    fix = f"re-download or re-save the tokenizer of {tokenizer_dir}, or pass tokenizer=ANOTHER_MODEL_OR_FOLDER"
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json"):
        if (tokenizer_dir / name).is_file():
            read_json_file(tokenizer_dir / name, name, fix)
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    except (OSError, ValueError) as exc:  # transformers' errors for unusable tokenizer files
        raise RecipeError(f"{tokenizer_dir}: the tokenizer cannot be loaded ({exc}); {fix}") from None
    vocab = reference.config.get("vocab_size")
    if vocab is not None and len(tok) > vocab:
        raise RecipeError(
            f"the tokenizer in {tokenizer_dir} has {len(tok)} tokens but the models' embeddings have {vocab} rows; "
            "use the tokenizer of one of the merged models (tokenizer=)"
        )
    return tok


def check_recipe_structure(recipe: MergeRecipe) -> None:
    """The checks that need no model files: method, parameters, base model, input count."""
    config = recipe.config
    if config.tokenizer_source is not None or config.tokenizer is not None:
        raise RecipeError(
            "tokenizer_source/tokenizer sections (vocabulary surgery) are not supported by the in-memory merge; "
            "remove them (the tokenizer comes from the instruct model, or tokenizer=)"
        )
    _check_parameters(recipe)
    _check_inputs_shape(recipe)


def validate_recipe(recipe: MergeRecipe, allow_pickle: bool = False, tokenizer: str | None = None) -> ResolvedRecipe:
    """Check a recipe from configs and safetensors headers only; raise RecipeError naming problem and fix."""
    config = recipe.config
    check_recipe_structure(recipe)
    inputs = {str(ref): resolve_input(ref, allow_pickle=allow_pickle) for ref in recipe.model_refs()}
    _check_same_model_once(inputs)
    reference = inputs[str(config.base_model)] if config.base_model is not None else next(iter(inputs.values()))
    _check_compatible(recipe, inputs, reference)
    tokenizer_dir = _choose_tokenizer_dir(recipe, inputs, tokenizer)
    tok = _load_checked_tokenizer(tokenizer_dir, reference)
    return ResolvedRecipe(recipe, inputs, reference, tokenizer_dir, _local_config(recipe, inputs), tok)
