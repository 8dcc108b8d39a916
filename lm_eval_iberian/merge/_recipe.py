"""Merge recipes: a mergekit YAML unchanged, or an inline model-arg string, as one validated object.

Inline grammar (survives lm-eval's comma splitting: no commas inside values)::

    method=NAME,models=SPEC+SPEC[+...][,base=MODEL][,dtype=D][,out_dtype=D][,seed=N][,PARAM=VALUE...]
    SPEC   = MODEL[@PARAMS]
    MODEL  = local folder or hub id, optionally #REVISION (mergekit's `id@revision`)
    PARAMS = NUMBER                      (the model's weight)
           | KEY:VALUE[;KEY:VALUE...]    (any per-model parameter, e.g. weight:1;density:0.5)
    VALUE  = number | true | false | V1|V2|...   (a `|` list is a layer gradient)

``PARAM=VALUE`` at top level sets a method parameter for every model (mergekit's
top-level ``parameters:``). Example::

    method=dare_ties,base=Qwen/Qwen3-8B-Base,models=HiTZ/eu_Qwen3-8B-Base@1.0+Qwen/Qwen3-8B@1.0,density=0.5,dtype=bfloat16
"""

import enum
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from lm_eval_iberian._errors import UsageError
from lm_eval_iberian._parsing import BOOL_SPELLINGS, parse_seed
from lm_eval_iberian._paths import read_yaml_file, user_path
from lm_eval_iberian.merge._errors import RecipeError

# Keys of the inline form that are not method parameters.
RECIPE_KEYS = frozenset({"method", "models", "base", "dtype", "out_dtype", "seed"})
DTYPES = ("float32", "float16", "bfloat16")


def method_spec(name: str):
    from mergekit import merge_methods

    names = sorted(m.spec.name for m in merge_methods.registered_methods())
    if name not in names:
        raise RecipeError(f"unknown merge method {name!r}; choose one of: {', '.join(names)}")
    return merge_methods.get(name).spec


def method_parameter_names(method: str) -> list[str]:
    return [p.name for p in method_spec(method).parameters]


_TRUE_WORDS, _FALSE_WORDS = frozenset({"true", "yes", "on"}), frozenset({"false", "no", "off"})


def _scalar(text: str, where: str) -> Any:
    """A number (finite) or a boolean word; ``1``/``0`` stay numbers (mergekit coerces them for boolean parameters)."""
    low = text.strip().lower()
    if low in _TRUE_WORDS | _FALSE_WORDS:
        return low in _TRUE_WORDS
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise RecipeError(f"{where}: {text!r} is not a number or a boolean ({BOOL_SPELLINGS})") from None
    if not math.isfinite(value):
        raise RecipeError(f"{where}: {text!r} is not a finite number; give a value such as 0.5")
    return value


def parse_value(value: Any, where: str) -> Any:
    """A model-arg value: numbers and booleans stay; `a|b|c` becomes a gradient list."""
    if isinstance(value, str):
        if "|" in value:
            return [_scalar(v, where) for v in value.split("|")]
        return _scalar(value, where)
    return value


def _parse_model_spec(spec: str) -> dict[str, Any]:
    spec = spec.strip()
    if not spec:
        raise RecipeError("models=: empty model entry (two '+' in a row?); write models=A@1.0+B@1.0")
    model, params = spec, {}
    if "@" in spec:
        model, _, tail = spec.rpartition("@")
        if ":" in tail:
            for item in tail.split(";"):
                key, sep, val = item.partition(":")
                if not sep or not key.strip():
                    raise RecipeError(f"models=: {item!r} in {spec!r} is not KEY:VALUE; write e.g. {model}@weight:1;density:0.5")
                params[key.strip()] = parse_value(val, f"models=: parameter {key.strip()!r} of {model}")
        else:
            params["weight"] = parse_value(tail, f"models=: weight of {model}")
    if not model:
        raise RecipeError(f"models=: {spec!r} has parameters but no model")
    if "@" in model:
        raise RecipeError(f"models=: {spec!r} has more than one @; write MODEL@WEIGHT, with a revision as MODEL#REVISION@WEIGHT")
    if "#" in model:
        model, _, revision = model.partition("#")
        model = f"{model}@{revision}"
    entry: dict[str, Any] = {"model": model}
    if params:
        entry["parameters"] = params
    return entry


def inline_to_mergekit(args: dict[str, Any]) -> tuple[dict[str, Any], int | None]:
    """Inline model args -> (mergekit config dict, seed). Raises RecipeError naming the bad key."""
    args = dict(args)
    if "method" not in args:
        raise RecipeError("inline recipe needs method=NAME (e.g. method=linear) or recipe=PATH to a mergekit YAML")
    method = str(args.pop("method"))
    spec = method_spec(method)
    if "models" not in args:
        raise RecipeError(f"method={method} needs models=A@W+B@W (e.g. models=ORG/expert@1.0+ORG/instruct@1.0)")
    models = [_parse_model_spec(s) for s in str(args.pop("models")).split("+")]
    config: dict[str, Any] = {"merge_method": method, "models": models}
    if (base := args.pop("base", None)) is not None:
        config["base_model"] = str(base).replace("#", "@", 1)
    for key in ("dtype", "out_dtype"):
        if (value := args.pop(key, None)) is not None:
            config[key] = str(value)
    seed = args.pop("seed", None)
    if seed is not None:
        seed = recipe_seed(seed)
    valid = {p.name for p in spec.parameters}
    params = {}
    for key, value in args.items():
        if key not in valid:
            raise RecipeError(
                f"{key!r} is not a parameter of merge method {method!r}; its parameters are: {', '.join(sorted(valid)) or 'none'}"
            )
        params[key] = parse_value(value, key)
    if params:
        config["parameters"] = params
    return config, seed


def recipe_seed(value: Any) -> int:
    """The merge seed: an integer numpy and torch accept, [0, 2**32 - 1]."""
    try:
        return parse_seed(value, "seed")
    except UsageError as exc:
        raise RecipeError(str(exc)) from None


class MergeRecipe(BaseModel):
    """A merge recipe: mergekit's own configuration plus the random seed and where it came from."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    config: Any  # mergekit.config.MergeConfiguration (pydantic)
    seed: int | None = None
    source: str = "inline"

    @classmethod
    def from_mergekit_dict(cls, data: dict[str, Any], seed: int | None = None, source: str = "inline") -> "MergeRecipe":
        from mergekit.config import MergeConfiguration

        if not isinstance(data, dict):
            raise RecipeError(f"{source}: a mergekit recipe is a mapping (merge_method:, models:, ...), got {type(data).__name__}")
        try:
            config = MergeConfiguration.model_validate(data)
        except RuntimeError as exc:
            # mergekit's ModelPath raises RuntimeError (not a validation error) for "a@b@c"
            if not str(exc).startswith("Invalid model path"):
                raise
            raise RecipeError(f"{source}: {exc}; a model is PATH or PATH@REVISION") from None
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'recipe'}: {e['msg']}" for e in exc.errors())
            raise RecipeError(f"{source}: not a valid mergekit recipe: {problems}") from None
        for key in ("dtype", "out_dtype"):
            value = getattr(config, key, None)
            if value is not None and value not in DTYPES:
                raise RecipeError(f"{source}: {key}={value!r} is not one of {', '.join(DTYPES)}")
        method_spec(config.merge_method)
        return cls(config=config, seed=seed, source=source)

    @classmethod
    def from_yaml(cls, path: str | Path, seed: int | None = None) -> "MergeRecipe":
        try:
            path = user_path(path, "recipe")
        except UsageError as exc:
            raise RecipeError(str(exc)) from None
        data = read_yaml_file(path, f"recipe={path}", RecipeError, "the path of a mergekit YAML file (see merge_models/)")
        return cls.from_mergekit_dict(data, seed=None if seed is None else recipe_seed(seed), source=f"yaml:{path}")

    @classmethod
    def from_inline(cls, args: dict[str, Any]) -> "MergeRecipe":
        """The inline form as a dict, keys as in ``--model_args``: ``{"method": "linear", "models": "A@1+B@1",
        "base": ..., "dtype": ..., "seed": ..., PARAM: VALUE}``; values are strings (as lm-eval passes them) or
        numbers/booleans."""
        if not isinstance(args, dict):
            raise RecipeError(f"an inline recipe is a dict of model arguments (method=, models=, ...), got {type(args).__name__}")
        data, seed = inline_to_mergekit(args)
        return cls.from_mergekit_dict(data, seed=seed, source="inline")

    # ------------------------------------------------------------------ views
    @property
    def method(self) -> str:
        return self.config.merge_method

    def to_dict(self) -> dict[str, Any]:
        """The recipe as mergekit's YAML holds it (what ``mergekit-yaml`` reads)."""
        return config_to_dict(self.config)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def content_hash(self) -> str:
        """sha256 of the canonical recipe and seed: equal hashes mean the same merge."""
        payload = json.dumps({"recipe": self.to_dict(), "seed": self.seed}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def run_name(self) -> str:
        """``merged-<method>-<first model>-<hash12>``: the run's name in results folders and the report."""
        first = self.model_ids()[0].rstrip("/").split("/")[-1].split("@")[0]
        return f"merged-{self.method}-{first}-{self.content_hash()[:12]}"

    def model_refs(self) -> list[Any]:
        """Every input model (mergekit ``ModelReference``) once, in the recipe's order: models, base, slices, modules.

        mergekit's ``referenced_models()`` returns them in set order, which changes from run to run.
        """
        config = self.config
        ordered = [m.model for m in config.models or []]
        if config.base_model is not None:
            ordered.append(config.base_model)
        ordered += [src.model for sl in config.slices or [] for src in sl.sources]
        ordered += [m.model for module in (config.modules or {}).values() for m in module.models or []]
        ordered += sorted(config.referenced_models(), key=str)  # anything a newer mergekit adds
        return list(dict.fromkeys(ordered))

    def model_ids(self) -> list[str]:
        """Every input model as written (path or hub id, with @revision), in the recipe's order."""
        return [str(ref) for ref in self.model_refs()]


def config_to_dict(value: Any) -> Any:
    """A mergekit configuration as plain JSON-able data, equal to ``model_dump(mode="json", exclude_none=True)``.

    mergekit 0.1.5's ``ModelReference`` serializer returns the object itself for a path holding a space or a quote,
    which pydantic then rejects ("Circular reference detected"): a model folder such as ``/data/my models/x`` could
    not be merged. This walk writes every model reference as its string (its mergekit spelling) and delegates
    nothing else; a test checks it equals ``model_dump`` on every shipped recipe.
    """
    from mergekit.common import ModelReference

    if isinstance(value, ModelReference):
        if value.override_architecture is None:
            return str(value)
        return {"model": str(value.model), "lora": None if value.lora is None else str(value.lora),
                "override_architecture": value.override_architecture}
    if isinstance(value, BaseModel):
        out = {}
        for name, info in type(value).model_fields.items():
            item = getattr(value, name)
            if item is not None:
                out[info.serialization_alias or info.alias or name] = config_to_dict(item)
        return out
    if isinstance(value, dict):
        return {str(k): config_to_dict(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [config_to_dict(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    return value
