"""``--model merged_vllm``: lm-eval's vLLM backend on a merge computed inside the engine's workers.

vLLM builds an engine from a model folder, so the merged model's *config* and tokenizer (no
weights) are written to a temporary folder and the engine starts with ``load_format="dummy"``
(random weights, nothing read) and :class:`MergeWorkerExtension` mixed into its workers
(vLLM's ``worker_extension_cls``). Then ``collective_rpc("load_merged_weights", recipe)`` makes
every worker plan the merge with mergekit and stream the merged tensors, computed on the
worker's own device, into vLLM's in-place reload (``Worker.reload_weights(weights_iterator=)``):
vLLM shards them for tensor parallelism and re-processes them into its kernels' layout (the CPU
backend repacks linear weights, which is why ``model.load_weights`` alone fails there). The
prefix cache is reset afterwards. No merged checkpoint is written. ``reload(recipe)`` re-merges
into the running engine (sweeps).
"""

import shutil
import tempfile
import time
import weakref
from pathlib import Path
from typing import Any

from lm_eval_iberian._errors import UserError
from lm_eval_iberian.merge._errors import RecipeError
from lm_eval_iberian.merge._recipe import MergeRecipe
from lm_eval_iberian.merge._record import CONFIG_KEY

# MergedVLLM is created on first access (module __getattr__), so lm-eval without vLLM can import this module.
__all__ = ["MergeWorkerExtension", "write_engine_folder"]

_EXTENSION = "lm_eval_iberian.merge._vllm.MergeWorkerExtension"


def _engine_plan(recipe: MergeRecipe, tokenizer: str | None = None):
    from lm_eval_iberian.merge._stream import plan_merge
    from lm_eval_iberian.merge._validate import validate_recipe

    return plan_merge(validate_recipe(recipe, tokenizer=tokenizer))


def _untied(plan: Any) -> dict[str, str]:
    """Tied output weights the engine gets as tensors of their own: ``{"lm_head.weight": "model.embed_tokens.weight"}``.

    vLLM's in-place reload does not carry a tied lm_head along (measured on the CPU backend: the
    lm_head kept its dummy values, every token scored -log(vocab)), so a tied merge is served
    untied, the embedding matrix sent twice. The names come from transformers' own model (built on
    the meta device: no memory), its input and output embedding modules.
    """
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(plan.out_config)
    module_names = {module: name for name, module in model.named_modules()}
    output, input_ = model.get_output_embeddings(), model.get_input_embeddings()
    if output is None or input_ is None:
        return {}
    target, source = f"{module_names[output]}.weight", f"{module_names[input_]}.weight"
    names = set(plan.names)
    return {target: source} if target not in names and source in names else {}


def _write_folder(plan: Any, out_dir: str | Path) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config = plan.out_config
    # An lm_head in the plan means untied (as build_merged_model); a tied merge is served untied (see _untied).
    config.tie_word_embeddings = "lm_head.weight" not in set(plan.names) and not _untied(plan)
    config.save_pretrained(out)
    plan.resolved.tokenizer.save_pretrained(out)
    return out


def write_engine_folder(recipe: MergeRecipe, out_dir: str | Path, tokenizer: str | None = None) -> Path:
    """Config and tokenizer of the merged model, no weights: what vLLM needs to build a dummy engine."""
    return _write_folder(_engine_plan(recipe, tokenizer), out_dir)


class MergeWorkerExtension:
    """Mixed into every vLLM worker (``worker_extension_cls``); called through ``collective_rpc``.

    Arguments travel as plain data (the recipe as a dict), so no pickled callables cross
    process boundaries.
    """

    def load_merged_weights(
        self, recipe: dict[str, Any], seed: int | None, dtype: str | None, tokenizer: str | None = None
    ) -> int:
        """Merge ``recipe`` on this worker's device into the running model; returns the tensors loaded."""
        from lm_eval_iberian.merge._stream import stream_merged_tensors

        plan = _engine_plan(MergeRecipe.from_mergekit_dict(recipe, seed=seed), tokenizer)
        copies = _untied(plan)
        fed, done = 0, False

        def tensors():
            nonlocal fed, done
            for name, tensor in stream_merged_tensors(plan, self.device, dtype, progress=False):
                fed += 1
                yield name, tensor
                for target in (t for t, source in copies.items() if source == name):
                    fed += 1
                    yield target, tensor
            done = True

        # vLLM's public in-place reload: checkpoint-format tensors in, its own sharding and
        # post-load processing (repacking, quantisation) applied layer by layer.
        self.reload_weights(weights_iterator=tensors(), is_checkpoint_format=True)
        if not done:
            raise RuntimeError(f"vLLM stopped reading the merged tensors after {fed}")
        return fed


class VLLMMissing(UserError, ImportError):
    """vLLM is not installed where ``merged_vllm`` was asked for; the message says how to get it."""


def _vllm_base() -> type:
    try:
        from lm_eval.models.vllm_causallms import VLLM
    except ImportError as exc:
        raise VLLMMissing(
            "--model merged_vllm needs vLLM: pip install 'lm-eval-iberian[vllm]' (without a GPU: make vllm-env, "
            f"vLLM's CPU build in .venv-vllm), or use --model merged, the Hugging Face backend [{exc}]"
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

            recipe, _own, vllm_args = recipe_from_model_args(kwargs, backend=VLLM)
            self._start(recipe, vllm_args)

        @classmethod
        def from_recipe(cls, recipe: MergeRecipe, **vllm_args: Any) -> "MergedVLLM":
            """An engine for an already parsed recipe (sweeps); ``vllm_args`` as lm-eval's VLLM takes them."""
            self = cls.__new__(cls)
            self._start(recipe, dict(vllm_args))
            return self

        def _start(self, recipe: MergeRecipe, vllm_args: dict[str, Any]) -> None:
            if int(vllm_args.get("data_parallel_size", 1)) > 1:
                raise RecipeError("merged_vllm supports tensor_parallel_size, not data_parallel_size (one engine is merged into)")
            for key in ("load_format", "worker_extension_cls", "pretrained"):
                if key in vllm_args:
                    raise RecipeError(f"{key} is set by merged_vllm itself (the weights come from the recipe); remove {key}=")
            # Everything that can fail on the recipe fails here, before the engine starts.
            self._tokenizer = vllm_args.pop("tokenizer", None)
            plan = _engine_plan(recipe, self._tokenizer)
            self._engine_dir = tempfile.mkdtemp(prefix="merged_vllm_")
            weakref.finalize(self, shutil.rmtree, self._engine_dir, True)  # config + tokenizer only
            _write_folder(plan, self._engine_dir)
            self._names = set(plan.names)
            dtype = vllm_args.get("dtype")
            self._merge_dtype = dtype if dtype not in (None, "auto") else None
            # The engine's settings as the run record keeps them (JSON values only).
            self._settings = {k: v for k, v in vllm_args.items() if isinstance(v, str | int | float | bool) or v is None}
            super().__init__(pretrained=self._engine_dir, load_format="dummy", worker_extension_cls=_EXTENSION, **vllm_args)
            self._load(recipe, plan)

        def reload(self, recipe: MergeRecipe) -> None:
            """Merge ``recipe`` (same inputs' architecture) into the running engine's weights."""
            plan = _engine_plan(recipe, self._tokenizer)
            if set(plan.names) != self._names:
                raise RecipeError("this recipe changes the model's layout (tensor names); an engine re-merges "
                                  "recipes of the same architecture only")
            self._load(recipe, plan)

        @classmethod
        def create_from_arg_obj(cls, arg_dict: dict[str, Any], additional_config: dict[str, Any] | None = None):
            """As ``MergedLM``: lm-eval's CLI names the results folder from ``pretrained=`` in this dict."""
            lm = super().create_from_arg_obj(arg_dict, additional_config)
            if isinstance(arg_dict, dict) and "pretrained" not in arg_dict:
                arg_dict["pretrained"] = lm.merge_record.model_name
            return lm

        def _load(self, recipe: MergeRecipe, plan: Any) -> None:
            from lm_eval_iberian.merge._model import merge_record

            t0 = time.perf_counter()
            args = (recipe.to_dict(), recipe.seed, self._merge_dtype, self._tokenizer)
            counts = self.model.collective_rpc("load_merged_weights", args=args)
            if not counts or not counts[0] or len(set(counts)) != 1:
                raise RuntimeError(f"vLLM workers loaded {counts} merged tensors (one count per worker)")
            # Cached prompt KV blocks were computed with the previous weights.
            if not self.model.reset_prefix_cache():
                raise RuntimeError("vLLM could not reset its prefix cache after the weights changed")
            self.merge_seconds = time.perf_counter() - t0
            self.merge_recipe = recipe
            self.merge_record = merge_record(plan, "vllm", self._settings, self.merge_seconds, extra_versions=("vllm",))

        def get_model_info(self) -> dict:
            return {"model_name": self.merge_record.model_name, CONFIG_KEY: self.merge_record.model_dump(mode="json")}

    return MergedVLLM


def __getattr__(name: str) -> Any:
    # The entry point `merged_vllm` resolves this attribute only when the model is requested,
    # so lm-eval without vLLM still imports this package.
    if name == "MergedVLLM":
        cls = _make_class()
        globals()["MergedVLLM"] = cls
        return cls
    raise AttributeError(name)
