"""The merged tensors, one at a time, computed by mergekit's own planner and executor."""

import random
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from lm_eval_iberian.merge._errors import RecipeError
from lm_eval_iberian.merge._validate import ResolvedRecipe

DEFAULT_SEED = 0
_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
# On a GPU the finite check of each tensor is queued on the device; the host reads the flags this often.
_FINITE_SYNC_EVERY = 64


def torch_dtype(name: str | torch.dtype | None) -> torch.dtype | None:
    if name is None or isinstance(name, torch.dtype):
        return name
    try:
        return _DTYPES[str(name).removeprefix("torch.")]
    except KeyError:
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
    """Plan with mergekit (configs only; no tensor is read). Downloads hub weights the cache lacks first."""
    from mergekit.architecture import get_architecture_info
    from mergekit.io.tasks import LoaderCache
    from mergekit.merge import _model_out_config
    from mergekit.options import MergeOptions
    from mergekit.plan import MergePlanner

    from lm_eval_iberian._logs import quiet_torch_dtype_deprecation
    from lm_eval_iberian.merge._inputs import fetch_weights

    fetch_weights(list(resolved.inputs.values()))
    seed = resolved.recipe.seed if resolved.recipe.seed is not None else DEFAULT_SEED
    options = MergeOptions(random_seed=seed, quiet=True, lazy_unpickle=True)
    config = resolved.local_config
    arch = get_architecture_info(config, options)
    LoaderCache().setup(options=options)
    with quiet_torch_dtype_deprecation():
        out_config = _model_out_config(config, arch, trust_remote_code=False)
    planner = MergePlanner(config, arch, options=options, out_model_config=out_config)
    # MergePlanner.plan_in_memory() is broken in mergekit 0.1.5 (it instantiates an
    # abstract Task); _plan() + _tensors is the same plan without the writer tasks.
    planner._plan()
    weights = [w for w, _ in planner._tensors]
    tasks = [t for _, t in planner._tensors]
    return MergePlan(resolved, weights, tasks, out_config, seed)


class _RngState:
    """Python's, numpy's and torch's global random states (every initialised CUDA device too)."""

    def __init__(self) -> None:
        self.python = random.getstate()
        self.numpy = np.random.get_state()
        self.torch = torch.get_rng_state()
        self.cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None

    def restore(self) -> None:
        random.setstate(self.python)
        np.random.set_state(self.numpy)
        torch.set_rng_state(self.torch)
        if self.cuda is not None:
            torch.cuda.set_rng_state_all(self.cuda)


class _SeededRng:
    """The merge's own random stream, swapped in around each merge step and out around each yield.

    mergekit's random methods (DARE, DELLA, ...) draw from the global generators, seeded as
    ``mergekit-yaml --random-seed`` seeds them (``transformers.set_seed``), so a merge is bit-identical to
    mergekit's. The caller's generators (lm-eval's ``--seed``) are restored between steps and afterwards: a
    merge never changes what the evaluation samples.
    """

    def __init__(self, seed: int) -> None:
        from transformers.trainer_utils import set_seed

        caller = _RngState()
        set_seed(seed)
        self._merge = _RngState()
        caller.restore()

    def __enter__(self) -> "_SeededRng":
        self._caller = _RngState()
        self._merge.restore()
        return self

    def __exit__(self, *exc: object) -> None:
        self._merge = _RngState()
        self._caller.restore()


class _FiniteCheck:
    """NaN/inf in a merged tensor is an error naming the tensor and the input(s) holding non-finite values.

    The flags are computed on the tensor's device; on a GPU the host reads them every few tensors, so the check
    does not stall the stream after every tensor.
    """

    def __init__(self, plan: MergePlan) -> None:
        self.plan = plan
        self.pending: list[tuple[str, torch.Tensor]] = []

    def add(self, name: str, tensor: torch.Tensor) -> None:
        if tensor.numel() == 0 or not tensor.is_floating_point():
            return
        # min and max in one pass, no tensor-sized temporary: NaN propagates to both, +-inf shows in one of them
        # (torch.isfinite(t).all() allocates a mask and measured ~50x slower on a CPU).
        low, high = torch.aminmax(tensor)
        self.pending.append((name, torch.isfinite(low) & torch.isfinite(high)))
        if tensor.device.type == "cpu" or len(self.pending) >= _FINITE_SYNC_EVERY:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        flags = torch.stack([flag for _, flag in self.pending]).cpu().tolist()
        bad = [name for (name, _), ok in zip(self.pending, flags, strict=True) if not ok]
        self.pending.clear()
        if bad:
            raise RecipeError(_nonfinite_message(self.plan, bad[0]))


def _nonfinite_message(plan: MergePlan, name: str) -> str:
    from safetensors import safe_open

    culprits = []
    for ref, model in plan.resolved.inputs.items():
        for file in model.weight_files:
            with safe_open(str(file), framework="pt") as fh:
                if name in fh.keys():
                    if not torch.isfinite(fh.get_tensor(name)).all():
                        culprits.append(f"{ref} ({file.name})")
                    break
    where = (f"input {', '.join(culprits)} holds NaN or infinite values in {name}: that checkpoint is damaged; "
             "use an intact copy") if culprits else (
        f"its inputs are finite, so the merge itself overflowed (weights too large for dtype "
        f"{plan.output_dtype()}?); compute in float32 (dtype: float32) or change the weights")
    return (f"merged tensor {name} has NaN or infinite values: {where}. "
            "To merge anyway (not recommended: the model's scores would mean nothing), pass check_finite=false")


def stream_merged_tensors(
    plan: MergePlan,
    device: str | torch.device = "cpu",
    dtype: str | torch.dtype | None = None,
    progress: bool = True,
    check_finite: bool = True,
) -> Iterator[tuple[str, torch.Tensor]]:
    """Yield ``(name, tensor)`` for every merged weight, computed and stored on ``device``.

    Inputs are read lazily from safetensors (memory-mapped) and dropped as soon as no remaining merge needs
    them, so memory holds the merged tensors the caller keeps plus the inputs of the tensor in flight. Random
    methods use the plan's seed without touching the caller's random state. ``check_finite`` (default) stops
    at the first tensor holding NaN or infinity, naming it and the input it came from.
    """
    from mergekit.graph import Executor
    from tqdm.auto import tqdm

    device = torch.device(device)
    out_dtype = plan.output_dtype(dtype)
    names = {id(t): w for w, t in zip(plan.weights, plan.tasks, strict=True)}
    executor = Executor(targets=plan.tasks, math_device=device, storage_device=device)
    bar = tqdm(total=len(plan.tasks), desc=f"merging ({plan.resolved.recipe.method})", unit="tensor", disable=not progress)
    rng = _SeededRng(plan.seed)
    finite = _FiniteCheck(plan) if check_finite else None
    steps = executor.run(quiet=True)
    try:
        while True:
            with rng:
                try:
                    task, value = next(steps)
                except StopIteration:
                    break
            weight = names[id(task)]
            bar.update(1)
            if value is None:
                if weight.optional:
                    continue
                raise RuntimeError(f"mergekit produced no value for the required tensor {weight.name}")
            tensor = value.to(device=device, dtype=weight.force_dtype and torch_dtype(weight.force_dtype) or out_dtype)
            if finite is not None:
                finite.add(weight.name, tensor)
            yield weight.name, tensor
        if finite is not None:
            finite.flush()
    finally:
        bar.close()
