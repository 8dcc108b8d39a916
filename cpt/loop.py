"""The training loop: accelerate for devices and FSDP, a short linear step.

One optimizer step = ``grad_accumulation`` micro-batches per rank. The loss of
every micro-batch is its summed token loss divided by the number of loss tokens
in the whole global batch (known from the data, no communication), so the
summed gradient is the exact per-token mean over the global batch whatever the
split across ranks and micro-batches.
"""

import json
import math
import os
import pickle
import shutil
import time
import zipfile
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from lm_eval_iberian.cpt.attention import ATTN_IMPLEMENTATION, LAYOUT_KWARG, packed_layout, register_sdpa_varlen
from lm_eval_iberian.cpt.config import ConfigError, CPTConfig
from lm_eval_iberian.cpt.data import PackedStream, build_stream
from lm_eval_iberian.cpt.rundir import (
    LOSS_LOG,
    checkpoints,
    claim,
    ensure_writable,
    mark_finished,
    plan_run,
    read_losses,
    write_checkpoint_state,
)

from lm_eval_iberian._paths import atomic_write_text

__all__ = ["train"]

_PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 125.0, "L4": 121.0}


def _peak_flops(config: CPTConfig, device: torch.device) -> float | None:
    if config.peak_tflops:
        return config.peak_tflops * 1e12
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, tflops in _PEAK_TFLOPS.items():
            if key in name:
                return tflops * 1e12
    return None


def _flops_per_token(model: Any, seq_len: int) -> float:
    """6N for the dense weights plus attention (PaLM appendix B): 12 * layers * hidden * seq."""
    cfg = model.config
    n = sum(p.numel() for n_, p in model.named_parameters() if "embed_tokens" not in n_)
    layers = getattr(cfg, "num_hidden_layers", 0)
    hidden = getattr(cfg, "hidden_size", 0)
    return 6 * n + 12 * layers * hidden * seq_len


def _scheduler(optimizer: torch.optim.Optimizer, config: CPTConfig) -> Any:
    from transformers import get_scheduler

    total = config.total_steps
    warmup = math.ceil(config.optim.warmup_ratio * total)
    name = "constant_with_warmup" if config.optim.schedule == "constant" else config.optim.schedule
    return get_scheduler(name, optimizer, num_warmup_steps=warmup, num_training_steps=total)


def _save_checkpoint(accelerator: Any, output_dir: Path, step: int, keep_last: int) -> None:
    """Write to ``checkpoint-N.tmp``, then rename: a killed run never leaves a half checkpoint."""
    final = output_dir / f"checkpoint-{step:08d}"
    tmp = output_dir / f"checkpoint-{step:08d}.tmp"
    if accelerator.is_main_process and tmp.exists():
        shutil.rmtree(tmp)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        write_checkpoint_state(tmp, step)
        os.replace(tmp, final)
        for old in checkpoints(output_dir)[:-keep_last]:
            shutil.rmtree(old)
    accelerator.wait_for_everyone()


def _log(accelerator: Any, writer: Any, output_dir: Path, record: dict[str, Any]) -> None:
    if not accelerator.is_main_process:
        return
    with (output_dir / LOSS_LOG).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")
    if writer is not None:
        for key in ("loss", "lr", "tokens_per_s", "mfu", "grad_norm"):
            if record.get(key) is not None:
                writer.add_scalar(f"train/{key}", record[key], record["step"])
        writer.flush()


def _micro_indices(step: int, micro: int, rank: int, config: CPTConfig, world: int) -> list[int]:
    base = step * config.global_batch_size + (micro * world + rank) * config.micro_batch_size
    return list(range(base, base + config.micro_batch_size))


def _main_rank() -> bool:
    """Rank 0 before accelerate is set up (launchers export RANK)."""
    return os.environ.get("RANK", "0") == "0"


def _launch_summary(accelerator: Any) -> dict[str, Any]:
    """How accelerate set the run up; refuses FSDP asked for and not obtained (accelerate falls back silently)."""
    from accelerate.utils import DistributedType, parse_flag_from_env

    kind = accelerator.distributed_type
    summary: dict[str, Any] = {"distributed_type": kind.value, "world_size": accelerator.num_processes,
                               "device": accelerator.device.type}
    if parse_flag_from_env("ACCELERATE_USE_FSDP") and kind != DistributedType.FSDP:
        where = (" on CPU: accelerate shards with FSDP only on GPUs and other accelerators, and on CPU it falls back "
                 "to plain data parallelism without a warning" if accelerator.device.type == "cpu" else "")
        raise ConfigError(
            f"the accelerate config asks for FSDP but accelerate set up {kind.value} with "
            f"{accelerator.num_processes} process(es){where}; every rank would hold the whole model and optimizer. "
            f"Run on GPU nodes, or, to train unsharded on purpose, launch without the FSDP config "
            f"(torchrun or accelerate launch --multi_gpu/--cpu)"
        )
    if kind == DistributedType.FSDP:
        plugin = accelerator.state.fsdp_plugin
        summary["fsdp_version"] = plugin.fsdp_version
        summary["state_dict_type"] = plugin.state_dict_type.name
        pc = getattr(accelerator, "parallelism_config", None)  # absent in older accelerate releases
        if pc is not None:
            summary["mesh"] = {"dp_replicate": pc.dp_replicate_size, "dp_shard": pc.dp_shard_size}
    return summary


def _sharded(model: Any) -> bool:
    """Whether the prepared model really is sharded: FSDP2 DTensor parameters, or an FSDP1 wrapper."""
    from torch.distributed.fsdp import FullyShardedDataParallel

    if isinstance(model, FullyShardedDataParallel):
        return True
    try:
        from torch.distributed.tensor import DTensor
    except ImportError:  # pragma: no cover - torch < 2.4
        return False
    return any(isinstance(p, DTensor) for p in model.parameters())


def _fill_optimizer_state(optimizer: Any) -> None:
    """Give every parameter its AdamW state before a checkpoint is loaded into it.

    accelerate loads an FSDP1 sharded optimizer through a template built from the optimizer's current state;
    an optimizer that has not stepped has none, and nothing would be loaded (silently: model, scheduler and RNG
    are restored, only the losses after the restart differ). One step with zero gradients at lr 0 creates the
    state and changes no weight (AdamW's decay multiplies by 1 - 0 * wd); load_state then overwrites it.
    """
    inner = getattr(optimizer, "optimizer", optimizer)  # accelerate's wrapper would also step a grad scaler
    if inner.state:
        return
    lrs = [group["lr"] for group in inner.param_groups]
    for group in inner.param_groups:
        group["lr"] = 0.0
        for p in group["params"]:
            if p.requires_grad and p.grad is None:
                p.grad = torch.zeros_like(p)
    inner.step()
    for group, lr in zip(inner.param_groups, lrs, strict=True):
        group["lr"] = lr
    inner.zero_grad(set_to_none=True)


def _check_optimizer_restored(optimizer: Any, step: int, checkpoint: Path) -> None:
    inner = getattr(optimizer, "optimizer", optimizer)
    counts = {int(state["step"]) for state in inner.state.values() if "step" in state}
    if counts != {step}:  # a bug, not a user error: keep the traceback
        raise RuntimeError(
            f"the optimizer state loaded from {checkpoint} is incomplete: AdamW step counters {sorted(counts)} "
            f"over {len(inner.state)} parameter states, expected all at {step}"
        )


def _load_checkpoint(accelerator: Any, checkpoint: Path) -> None:
    """Load a checkpoint that passed rundir.validate_checkpoint; a file that is still unreadable is named."""
    from safetensors import SafetensorError

    try:
        accelerator.load_state(str(checkpoint))
    except (SafetensorError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"checkpoint {checkpoint} could not be read ({type(exc).__name__}: {exc}); delete {checkpoint} to "
            f"resume from the checkpoint before it"
        ) from None


def train(config: CPTConfig, overwrite: bool = False) -> Path:
    """Run (or resume) continued pre-training; returns the final Hugging Face model folder.

    ``overwrite``: a finished run in ``output_dir``, or checkpoints of another config, are deleted (only the
    trainer's own files, never an input) and training starts from scratch; without it such a run is refused.
    """
    # Everything that can refuse the run reads only and comes before the model, tokenizer and corpora load.
    plan = plan_run(config, overwrite)
    output_dir = plan.output_dir
    if plan.finished:
        if _main_rank():
            print(f"{output_dir} holds this run, finished: final model {output_dir / 'final'}; nothing to train "
                  f"(--overwrite trains it again from scratch)")
        return output_dir / "final"

    from accelerate import Accelerator
    from accelerate.utils import DistributedType, set_seed
    from tqdm.auto import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # Devices, FSDP and mixed precision come from `accelerate launch` (its config file);
    # the weights themselves are loaded in config.dtype (bf16, as the paper).
    # cpu=True without a GPU: otherwise accelerate ignores torchrun's ranks on CPU and every rank trains alone.
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    world, rank = accelerator.num_processes, accelerator.process_index
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if launched != world:
        raise ConfigError(
            f"the launcher started {launched} processes but accelerate sees {world}; "
            "launch with `accelerate launch` (or torchrun with ACCELERATE_USE_CPU=1 on CPU-only machines)"
        )
    launch = _launch_summary(accelerator)
    accum = config.grad_accumulation(world)
    ensure_writable(output_dir, Path(config.data.cache_dir))
    accelerator.wait_for_everyone()  # every rank has planned before the main one changes anything
    if accelerator.is_main_process:
        claim(plan, launch)
        if plan.resume_from is None:
            described = ", ".join(f"{k}={v}" for k, v in launch.items())
            print(f"training from step 0 into {output_dir} ({described})")
    accelerator.wait_for_everyone()
    set_seed(config.seed)

    tokenizer = AutoTokenizer.from_pretrained(config.tokenizer or config.model)
    with accelerator.main_process_first():  # rank 0 tokenizes into the cache, the others read it
        stream: PackedStream = build_stream(config, tokenizer)

    varlen = config.attn_implementation == ATTN_IMPLEMENTATION
    if varlen:
        register_sdpa_varlen()
    model = AutoModelForCausalLM.from_pretrained(
        config.model, dtype=getattr(torch, config.dtype), attn_implementation=config.attn_implementation
    )
    model.config.use_cache = False
    if config.activation_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]

    # The fused AdamW kernel (CPU and CUDA; what HF Trainer uses by default); FSDP gets foreach.
    fused = accelerator.distributed_type != DistributedType.FSDP
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.optim.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.optim.lr,
        betas=config.optim.betas,
        eps=config.optim.eps,
        fused=fused or None,
        foreach=None if fused else True,
    )
    flops_per_token = _flops_per_token(model, config.seq_len)  # before sharding: the whole model
    model, optimizer = accelerator.prepare(model, optimizer)
    if accelerator.distributed_type == DistributedType.FSDP and not _sharded(model):
        raise RuntimeError(f"accelerate reports FSDP but the prepared model is not sharded ({type(model).__name__})")
    scheduler = _scheduler(optimizer, config)
    accelerator.register_for_checkpointing(scheduler)  # not prepare(): that would step it once per rank

    start = 0
    if plan.resume_from is not None:
        _fill_optimizer_state(optimizer)
        _load_checkpoint(accelerator, plan.resume_from)
        start = plan.start_step
        _check_optimizer_restored(optimizer, start, plan.resume_from)
        inner = getattr(optimizer, "optimizer", optimizer)
        accelerator.print(f"resumed from {plan.resume_from} at step {start} "
                          f"(model, optimizer state of {len(inner.state)} parameters, scheduler, RNG; {launch})")
        if accelerator.is_main_process:  # drop the steps logged after the checkpoint
            atomic_write_text(output_dir / LOSS_LOG, "".join(x + "\n" for x in read_losses(output_dir, start)))
    accelerator.wait_for_everyone()

    writer = None
    if config.tensorboard and accelerator.is_main_process:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(output_dir / "tensorboard"))
    peak = _peak_flops(config, accelerator.device)

    model.train()
    total = config.total_steps
    bar = tqdm(total=total, initial=start, disable=not accelerator.is_main_process, desc="cpt", unit="step")
    for step in range(start, total):
        t0 = time.perf_counter()
        global_indices = list(range(step * config.global_batch_size, (step + 1) * config.global_batch_size))
        n_loss_tokens = stream.label_count(global_indices)
        step_loss = torch.zeros((), device=accelerator.device, dtype=torch.float64)
        for micro in range(accum):
            batch = stream.batch(_micro_indices(step, micro, rank, config, world))
            extra = {LAYOUT_KWARG: packed_layout(batch["position_ids"]).to(accelerator.device)} if varlen else {}
            batch = {k: v.to(accelerator.device) for k, v in batch.items()}
            sync = nullcontext() if micro == accum - 1 else accelerator.no_sync(model)
            with sync:
                out = model(**batch, **extra, num_items_in_batch=n_loss_tokens)
                # Ranks' gradients are averaged; scale so the sum is the global per-token mean.
                accelerator.backward(out.loss * world)
            step_loss += out.loss.detach().double()
        grad_norm = None
        if config.optim.grad_clip:
            grad_norm = float(accelerator.clip_grad_norm_(model.parameters(), config.optim.grad_clip))
        lr = scheduler.get_last_lr()[0]  # the rate this step used
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        loss = float(accelerator.reduce(step_loss, reduction="sum"))
        elapsed = time.perf_counter() - t0
        tokens_per_s = config.tokens_per_step / elapsed
        mfu = flops_per_token * tokens_per_s / (peak * world) if peak else None
        record = {
            "step": step + 1,
            "loss": loss,
            "lr": lr,
            "grad_norm": grad_norm,
            "tokens_per_s": tokens_per_s,
            "mfu": mfu,
            "tokens": (step + 1) * config.tokens_per_step,
            "time": time.time(),  # wall clock at the step's end
        }
        if (step + 1) % config.log_every == 0 or step + 1 == total:
            _log(accelerator, writer, output_dir, record)
            if accelerator.is_main_process:  # a plain line on stdout too (SLURM logs, no terminal)
                bar.write(
                    f"step {step + 1}/{total} loss {loss:.4f} lr {lr:.3e} tokens/s {tokens_per_s:,.0f} "
                    f"mfu {'n/a' if mfu is None else f'{mfu:.1%}'}"
                )
            bar.set_postfix(loss=f"{loss:.4f}", lr=f"{record['lr']:.2e}", tok_s=f"{tokens_per_s:,.0f}", mfu="n/a" if mfu is None else f"{mfu:.1%}")
        bar.update(1)
        if (step + 1) % config.checkpoint_every == 0 and step + 1 < total:
            _save_checkpoint(accelerator, output_dir, step + 1, config.keep_last)
    bar.close()
    final = _save_final(accelerator, model, tokenizer, output_dir, writer)
    if accelerator.is_main_process:
        mark_finished(output_dir, total)
    accelerator.wait_for_everyone()
    return final



def _save_final(accelerator: Any, model: Any, tokenizer: Any, output_dir: Path, writer: Any) -> Path:
    """A plain Hugging Face folder (safetensors + config + tokenizer) that merge recipes take as input."""
    final = output_dir / "final"
    state = accelerator.get_state_dict(model)  # gathers FSDP shards on rank 0
    if accelerator.is_main_process:
        tmp = output_dir / "final.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        accelerator.unwrap_model(model).save_pretrained(str(tmp), state_dict=state, safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        if writer is not None:
            writer.close()
    accelerator.wait_for_everyone()
    return final
