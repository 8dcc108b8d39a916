"""The merged tensors, one at a time, computed by mergekit's own planner and executor."""

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from lm_eval_iberian.merge._validate import ResolvedRecipe

DEFAULT_SEED = 0
_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def torch_dtype(name: str | torch.dtype | None) -> torch.dtype | None:
    if name is None or isinstance(name, torch.dtype):
        return name
    try:
        return _DTYPES[str(name).removeprefix("torch.")]
    except KeyError:
        from lm_eval_iberian.merge._errors import RecipeError

        raise RecipeError(f"dtype={name!r} is not one of {', '.join(_DTYPES)}") from None


@dataclass
class MergePlan:
    """mergekit's plan for one recipe: tensor names, their tasks, and the output model config."""

    resolved: ResolvedRecipe
    weights: list  # mergekit WeightInfo, in execution-target order
    tasks: list  # mergekit Task computing each weight
    out_config: object  # transformers PretrainedConfig of the merged model
    seed: int

    @property
    def names(self) -> list[str]:
        return [w.name for w in self.weights]

    def output_dtype(self, override: str | torch.dtype | None = None) -> torch.dtype:
        cfg = self.resolved.local_config
        return torch_dtype(override) or torch_dtype(cfg.out_dtype) or torch_dtype(cfg.dtype) or torch.float32


def plan_merge(resolved: ResolvedRecipe) -> MergePlan:
    """Plan with mergekit (no tensors are read). Seeds the RNG exactly as `mergekit-yaml --random-seed` does."""
    import transformers
    from mergekit.architecture import get_architecture_info
    from mergekit.io.tasks import LoaderCache
    from mergekit.merge import _model_out_config
    from mergekit.options import MergeOptions
    from mergekit.plan import MergePlanner

    seed = resolved.recipe.seed if resolved.recipe.seed is not None else DEFAULT_SEED
    transformers.trainer_utils.set_seed(seed)
    options = MergeOptions(random_seed=seed, quiet=True, lazy_unpickle=True)
    config = resolved.local_config
    arch = get_architecture_info(config, options)
    LoaderCache().setup(options=options)
    out_config = _model_out_config(config, arch, trust_remote_code=False)
    planner = MergePlanner(config, arch, options=options, out_model_config=out_config)
    # MergePlanner.plan_in_memory() is broken in mergekit 0.1.5 (it instantiates an
    # abstract Task); _plan() + _tensors is the same plan without the writer tasks.
    planner._plan()
    weights = [w for w, _ in planner._tensors]
    tasks = [t for _, t in planner._tensors]
    return MergePlan(resolved, weights, tasks, out_config, seed)


def stream_merged_tensors(
    plan: MergePlan,
    device: str | torch.device = "cpu",
    dtype: str | torch.dtype | None = None,
    progress: bool = True,
) -> Iterator[tuple[str, torch.Tensor]]:
    """Yield ``(name, tensor)`` for every merged weight, computed and stored on ``device``.

    Inputs are read lazily from safetensors (memory-mapped) and dropped as soon as
    no remaining merge needs them, so memory holds the merged tensors the caller
    keeps plus the inputs of the tensor in flight.
    """
    from mergekit.graph import Executor
    from tqdm.auto import tqdm

    device = torch.device(device)
    out_dtype = plan.output_dtype(dtype)
    names = {id(t): w for w, t in zip(plan.weights, plan.tasks, strict=True)}
    executor = Executor(targets=plan.tasks, math_device=device, storage_device=device)
    bar = tqdm(total=len(plan.tasks), desc=f"merging ({plan.resolved.recipe.method})", unit="tensor", disable=not progress)
    try:
        for task, value in executor.run(quiet=True):
            weight = names[id(task)]
            bar.update(1)
            if value is None:
                if weight.optional:
                    continue
                raise RuntimeError(f"mergekit produced no value for the required tensor {weight.name}")
            yield weight.name, value.to(device=device, dtype=weight.force_dtype and torch_dtype(weight.force_dtype) or out_dtype)
    finally:
        bar.close()
