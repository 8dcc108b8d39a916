"""``--model merged_vllm``: lm-eval's vLLM backend on a merge computed straight into the engine.

vLLM takes a model folder, so the merged model's *config* and tokenizer (no
weights) are written to a temporary folder and the engine starts with
``load_format="dummy"`` (random weights, nothing read). Then every vLLM worker
runs :class:`LoadMergedWeights` through ``LLM.apply_model``: it plans the merge
with mergekit and streams the merged tensors on its own GPU into
``model.load_weights``, which shards them for tensor parallelism. No merged
checkpoint is written. ``reload(recipe)`` re-merges into the running engine
(sweeps).
"""

import os
import tempfile
from pathlib import Path
from typing import Any

from lm_eval_iberian.merge._errors import RecipeError
from lm_eval_iberian.merge._recipe import MergeRecipe

# MergedVLLM is created on first access (module __getattr__), so lm-eval without vLLM can import this module.
__all__ = ["LoadMergedWeights", "write_engine_folder"]


def write_engine_folder(recipe: MergeRecipe, out_dir: str | Path, tokenizer: str | None = None) -> Path:
    """Config and tokenizer of the merged model, no weights: what vLLM needs to build a dummy engine."""
    from lm_eval_iberian.merge._stream import plan_merge
    from lm_eval_iberian.merge._validate import validate_recipe

    resolved = validate_recipe(recipe, tokenizer=tokenizer)
    plan = plan_merge(resolved)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config = plan.out_config
    names = set(plan.names)
    # As build_merged_model: an lm_head in the plan means untied, none means tied (else vLLM's
    # dummy lm_head would stay random).
    config.tie_word_embeddings = "lm_head.weight" not in names
    config.save_pretrained(out)
    resolved.tokenizer.save_pretrained(out)
    return out


class LoadMergedWeights:
    """Runs inside each vLLM worker: merge with mergekit on the worker's device, feed ``load_weights``."""

    def __init__(self, recipe: dict[str, Any], seed: int | None, dtype: str | None):
        self.recipe, self.seed, self.dtype = recipe, seed, dtype

    def __call__(self, model: Any) -> int:
        from lm_eval_iberian.merge._stream import plan_merge, stream_merged_tensors
        from lm_eval_iberian.merge._validate import validate_recipe

        recipe = MergeRecipe.from_mergekit_dict(self.recipe, seed=self.seed)
        plan = plan_merge(validate_recipe(recipe))
        device = next(model.parameters()).device
        loaded = model.load_weights(stream_merged_tensors(plan, device, self.dtype, progress=False))
        return len(loaded) if loaded is not None else len(plan.names)


def _vllm_base() -> type:
    try:
        from lm_eval.models.vllm_causallms import VLLM
    except ImportError as exc:
        raise ImportError(
            "--model merged_vllm needs vLLM on a GPU node: pip install 'lm-eval-iberian[vllm]' "
            f"(or use --model merged, the Hugging Face backend) [{exc}]"
        ) from exc
    return VLLM


def _make_class() -> type:
    VLLM = _vllm_base()

    class MergedVLLM(VLLM):
        """lm-eval's VLLM whose weights are a merge recipe, loaded into the running engine.

        Recipe arguments are those of ``--model merged`` (``recipe=PATH`` or the inline keys);
        every other argument is lm-eval's VLLM argument (``tensor_parallel_size``,
        ``max_model_len``, ``gpu_memory_utilization``, ``enable_thinking``...).
        """

        def __init__(self, **kwargs: Any) -> None:
            from lm_eval_iberian.merge._lm import recipe_from_model_args

            os.environ.setdefault("VLLM_ALLOW_INSECURE_SERIALIZATION", "1")  # apply_model ships a callable
            if int(kwargs.get("data_parallel_size", 1)) > 1:
                raise RecipeError("merged_vllm supports tensor_parallel_size, not data_parallel_size (one engine is merged into)")
            recipe, own, vllm_args = recipe_from_model_args(kwargs, backend=VLLM)
            self._engine_dir = tempfile.mkdtemp(prefix="merged_vllm_")
            write_engine_folder(recipe, self._engine_dir, tokenizer=vllm_args.pop("tokenizer", None))
            self._merge_dtype = vllm_args.get("dtype") if vllm_args.get("dtype") not in (None, "auto") else None
            super().__init__(pretrained=self._engine_dir, load_format="dummy", **vllm_args)
            self.reload(recipe)

        def reload(self, recipe: MergeRecipe) -> None:
            """Merge ``recipe`` (same architecture) into the running engine's weights."""
            import time

            t0 = time.perf_counter()
            counts = self.model.apply_model(LoadMergedWeights(recipe.to_dict(), recipe.seed, self._merge_dtype))
            if not counts or not all(counts):
                raise RuntimeError(f"vLLM workers loaded no merged weights (per worker: {counts})")
            # Cached prompt KV blocks were computed with the previous weights.
            if not self.model.reset_prefix_cache():
                raise RuntimeError("vLLM could not reset its prefix cache after the weights changed")
            self.merge_recipe = recipe
            self.merge_seconds = time.perf_counter() - t0

        def get_model_info(self) -> dict:
            recipe = self.merge_recipe
            return {"model_name": f"merged_vllm:{recipe.method}:{recipe.content_hash()[:12]}", "merge_recipe": recipe.to_dict(),
                    "merge_recipe_sha256": recipe.content_hash(), "merge_seed": recipe.seed,
                    "merge_seconds": round(self.merge_seconds, 2)}

    return MergedVLLM


def __getattr__(name: str) -> Any:
    # The entry point `merged_vllm` resolves this attribute only when the model is requested,
    # so lm-eval without vLLM still imports this package.
    if name == "MergedVLLM":
        cls = _make_class()
        globals()["MergedVLLM"] = cls
        return cls
    raise AttributeError(name)
