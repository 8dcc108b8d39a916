"""The run record of a merged model: one versioned pydantic model, written by every backend, read by the report.

``--model merged`` (HF) and ``--model merged_vllm`` put it under ``config["iberian_merge"]`` of lm-eval's results
(lm-eval copies ``get_model_info()`` there); ``report``, ``sweep`` and ``grid`` read it back with
:func:`read_merge_record`, which refuses a version it does not know. Results written before records existed
(flat ``merge_*`` keys) are read as version 0.
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lm_eval_iberian._errors import UserError

__all__ = ["CONFIG_KEY", "RECORD_VERSION", "InputProvenance", "MergeRecord", "RecordError", "read_merge_record"]

RECORD_VERSION = 1
CONFIG_KEY = "iberian_merge"


class RecordError(UserError, ValueError):
    """A results file whose merge record cannot be read; the message names the file and the fix."""


class InputProvenance(BaseModel):
    """One input model: its hub revision, or its local folder and file hashes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    revision: str | None = None
    path: str | None = None
    files: dict[str, str] = Field(default_factory=dict)


class MergeRecord(BaseModel):
    """Everything that determines a merged model, and how it was evaluated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    record_version: Literal[1] = RECORD_VERSION
    model_name: str  # merged-<method>-<first model>-<hash12>, as the results folder is named
    method: str
    recipe: dict[str, Any]  # the mergekit configuration, as mergekit-yaml reads it
    recipe_source: str  # yaml:<path> or inline
    recipe_sha256: str  # of the recipe and the seed: equal hashes, equal merges
    seed: int
    inputs: list[InputProvenance]
    tokenizer: str
    versions: dict[str, str]  # lm-eval-iberian, mergekit, lm_eval, torch, transformers, safetensors (+ vllm)
    backend: Literal["hf", "vllm"]
    backend_settings: dict[str, Any] = Field(default_factory=dict)  # dtype, device or tensor_parallel_size, ...
    merge_seconds: float | None = None
    peak_memory_gb: float | None = None


def _legacy(config: dict[str, Any]) -> dict[str, Any]:
    """Flat ``merge_*`` keys of results written before version 1."""
    recipe = config["merge_recipe"]
    return {
        "model_name": str(config.get("model_name") or f"merged-{recipe.get('merge_method')}"),
        "method": recipe.get("merge_method"),
        "recipe": recipe,
        "recipe_source": config.get("merge_recipe_source", "unknown"),
        "recipe_sha256": config.get("merge_recipe_sha256", ""),
        "seed": config.get("merge_seed") or 0,
        "inputs": config.get("merge_inputs") or [],
        "tokenizer": str(config.get("merge_tokenizer", "")),
        "versions": config.get("merge_versions") or {},
        "backend": "vllm" if str(config.get("model_name", "")).startswith("merged_vllm") else "hf",
        "merge_seconds": config.get("merge_seconds"),
        "peak_memory_gb": config.get("merge_peak_memory_gb"),
    }


def read_merge_record(config: dict[str, Any], where: str = "results") -> MergeRecord | None:
    """The merge record of a results ``config`` (``None`` for a model that is not a merge)."""
    if not isinstance(config, dict):
        raise RecordError(f"{where}: 'config' is a {type(config).__name__}, not an object; pass lm-eval's results files")
    raw = config.get(CONFIG_KEY)
    if raw is None:
        if "merge_recipe" not in config:
            return None
        raw = _legacy(config)
    elif not isinstance(raw, dict):
        raise RecordError(f"{where}: config.{CONFIG_KEY} is not an object; the file is damaged or not lm-eval-iberian's")
    else:
        version = raw.get("record_version")
        if version != RECORD_VERSION:
            raise RecordError(
                f"{where}: merge record version {version!r} is not one this lm-eval-iberian reads ({RECORD_VERSION}); "
                "the file was written by another version: upgrade lm-eval-iberian (pip install -U lm-eval-iberian)"
            )
    try:
        return MergeRecord.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}" for e in exc.errors()[:5])
        raise RecordError(f"{where}: the merge record is not valid ({problems}); the file is damaged or hand-edited") from None
