"""A merged Hugging Face model in device memory, built tensor by tensor from the stream."""

import os
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lm_eval_iberian.merge._errors import RecipeError
from lm_eval_iberian.merge._recipe import MergeRecipe
from lm_eval_iberian.merge._record import InputProvenance, MergeRecord
from lm_eval_iberian.merge._stream import MergePlan, plan_merge, stream_merged_tensors
from lm_eval_iberian.merge._validate import ResolvedRecipe, validate_recipe

_LM_HEAD = "lm_head.weight"


@dataclass
class MergeSummary:
    """What a merge did, for logs; ``record`` is what lm-eval's results carry (see ``_record``)."""

    method: str
    inputs: list[str]
    seconds: float
    peak_memory_gb: float
    memory_kind: str
    tensors: int
    record: MergeRecord

    def line(self) -> str:
        return (
            f"merged {self.method} of {len(self.inputs)} models ({', '.join(self.inputs)}): {self.tensors} tensors "
            f"in {self.seconds:.1f}s, peak {self.memory_kind} {self.peak_memory_gb:.2f} GB"
        )


def _versions(*extra: str) -> dict[str, str]:
    from importlib.metadata import version

    out = {}
    for dist in ("lm-eval-iberian", "mergekit", "lm_eval", "torch", "transformers", "safetensors", *extra):
        try:
            out[dist] = version(dist)
        except Exception:
            out[dist] = "not installed"
    return out


def merge_record(
    plan: MergePlan,
    backend: str,
    settings: dict[str, Any],
    seconds: float | None = None,
    peak_memory_gb: float | None = None,
    extra_versions: tuple[str, ...] = (),
) -> MergeRecord:
    """Recipe, its hash, inputs' revisions or file hashes, seed, versions, backend: enough to re-run."""
    recipe = plan.resolved.recipe
    return MergeRecord(
        model_name=recipe.run_name(),
        method=recipe.method,
        recipe=recipe.to_dict(),
        recipe_source=recipe.source,
        recipe_sha256=recipe.content_hash(),
        seed=plan.seed,
        inputs=[InputProvenance(**p) for p in plan.resolved.provenance()],
        tokenizer=str(plan.resolved.tokenizer_dir),
        versions=_versions(*extra_versions),
        backend=backend,
        backend_settings=settings,
        merge_seconds=None if seconds is None else round(seconds, 3),
        peak_memory_gb=None if peak_memory_gb is None else round(peak_memory_gb, 3),
    )


def _build_empty_model(config, device: torch.device, dtype: torch.dtype):
    """The target architecture with uninitialised weights on ``device`` (no random init).

    The weights' storage is allocated but never written: each one is replaced by its
    merged tensor, so untouched pages never become resident memory.
    """
    from transformers import AutoModelForCausalLM
    from transformers.initialization import no_init_weights

    with torch.device(device), no_init_weights():
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    return model.eval().requires_grad_(False)


def resolve_device(requested: str | torch.device | None) -> str:
    """The device to merge and evaluate on, as lm-eval's ``hf`` model chooses it.

    Nothing given: ``cuda`` if a GPU is visible, else ``cpu``. A CUDA device on a machine without CUDA (lm-eval's
    CLI passes ``cuda:0`` by default): ``cpu``, with a warning. A CUDA index beyond the visible GPUs: ``cuda``.
    """
    import logging

    if requested is None or str(requested).strip() == "":
        return "cuda" if torch.cuda.is_available() else "cpu"
    text = str(requested).strip()
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise RecipeError(f"device={text!r} is not a torch device; use e.g. cuda, cuda:0, cpu or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            logging.getLogger("lm_eval_iberian").warning(
                "device %s requested but CUDA is not available: merging and evaluating on cpu (as --model hf does)", text)
            return "cpu"
        if device.index is not None and device.index >= torch.cuda.device_count():
            logging.getLogger("lm_eval_iberian").warning(
                "device %s requested but only %d GPU(s) are visible: using cuda", text, torch.cuda.device_count())
            return "cuda"
    return text


def _peak_memory(device: torch.device) -> tuple[float, str]:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30, f"{device} allocated"
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kb * (1 if sys.platform != "darwin" else 1 / 1024) / 2**20, "process RSS"


def build_merged_model(
    plan: MergePlan, device: str | torch.device = "cpu", dtype: str | torch.dtype | None = None, check_finite: bool = True
):
    """Allocate the merged model on ``device`` and fill it from :func:`stream_merged_tensors`."""
    device = torch.device(device)
    out_dtype = plan.output_dtype(dtype)
    config = plan.out_config
    planned = set(plan.names)
    # Mixed tied/untied inputs make mergekit produce an lm_head: the merged model is untied.
    if _LM_HEAD in planned and getattr(config, "tie_word_embeddings", False):
        config.tie_word_embeddings = False
    if _LM_HEAD not in planned and not getattr(config, "tie_word_embeddings", False):
        config.tie_word_embeddings = True  # every input was tied: so is the output
    model = _build_empty_model(config, device, out_dtype)
    params = dict(model.named_parameters(remove_duplicate=False))
    buffers = dict(model.named_buffers())
    filled: set[str] = set()
    with torch.no_grad():
        for name, tensor in stream_merged_tensors(plan, device, out_dtype, check_finite=check_finite):
            target = params.get(name, buffers.get(name))
            if target is None:
                raise RuntimeError(f"merged tensor {name} has no place in {type(model).__name__}")
            if target.shape != tensor.shape:
                raise RuntimeError(f"merged tensor {name} has shape {list(tensor.shape)}, the model wants {list(target.shape)}")
            # Hand the merged storage to the model instead of copying it: the empty
            # storage allocated at construction is never touched, so never resident.
            target.data = tensor.contiguous()
            filled.add(name)
            del tensor
    if config.tie_word_embeddings:
        model.tie_weights()
    # A tied weight shares storage with a filled one.
    filled_storage = {params[n].data_ptr() for n in filled if n in params}
    params = dict(model.named_parameters(remove_duplicate=False))
    missing = sorted(n for n, p in params.items() if n not in filled and p.data_ptr() not in filled_storage)
    if missing:
        raise RuntimeError(f"the merge left these weights unset: {missing[:10]}")
    return model


def merge_model(
    recipe: MergeRecipe | ResolvedRecipe,
    device: str | torch.device = "cpu",
    dtype: str | torch.dtype | None = None,
    tokenizer: str | None = None,
    allow_pickle: bool = False,
    verbose: bool = True,
    check_finite: bool = True,
):
    """Merge ``recipe`` straight into memory on ``device``; return ``(model, tokenizer)``.

    ``model.merge_summary`` holds a :class:`MergeSummary` (with the run record in ``.record``). ``check_finite``
    (default) refuses a merge holding NaN or infinite values, naming the tensor and the input.
    """
    t0 = time.perf_counter()
    device = torch.device(resolve_device(device))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    resolved = recipe if isinstance(recipe, ResolvedRecipe) else validate_recipe(recipe, allow_pickle, tokenizer)
    plan = plan_merge(resolved)
    model = build_merged_model(plan, device, dtype, check_finite=check_finite)
    tok = resolved.tokenizer
    peak, kind = _peak_memory(device)
    seconds = time.perf_counter() - t0
    record = merge_record(plan, "hf", {"device": str(device), "dtype": str(model.dtype).removeprefix("torch.")}, seconds, peak)
    summary = MergeSummary(resolved.recipe.method, resolved.recipe.model_ids(), seconds, peak, kind, len(plan.names), record)
    model.merge_summary = summary
    if verbose:
        print(summary.line(), file=sys.stderr)
    return model, tok


def check_save_dir(out_dir: str | Path, inputs: dict[str, str | Path] | None = None) -> Path:
    """The folder ``save_merged`` may write to: new or empty, writable, and not inside (or around) an input model."""
    from lm_eval_iberian._errors import UsageError
    from lm_eval_iberian._paths import check_output, check_writable

    try:
        out = check_output(out_dir, inputs or {}, "save_merged")
        check_writable(out, "save_merged")
    except UsageError as exc:
        raise RecipeError(str(exc)) from None
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RecipeError(f"save_merged={out} exists and is not an empty folder; choose a new folder")
    return out


def save_merged(model, tokenizer, out_dir: str | Path) -> Path:
    """Write the merged model (safetensors + config), tokenizer and recipe to a new folder, atomically.

    Everything is written into ``<out_dir>.tmp-<random>`` beside it, then renamed: an interrupted save leaves no
    half-written model under ``out_dir``.
    """
    import shutil
    import uuid

    summary = getattr(model, "merge_summary", None)
    inputs = {f"input model {m.model}": m.path for m in (summary.record.inputs if summary else []) if m.path}
    out = check_save_dir(out_dir, inputs)
    tmp = out.with_name(f".{out.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        if summary is not None:
            import yaml

            (tmp / "mergekit_config.yml").write_text(yaml.safe_dump(summary.record.recipe, sort_keys=False))
            (tmp / "merge_provenance.json").write_text(summary.record.model_dump_json(indent=1))
        if out.exists():
            out.rmdir()  # checked empty above
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
