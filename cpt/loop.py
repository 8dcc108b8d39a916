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
import shutil
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from lm_eval_iberian.cpt.attention import ATTN_IMPLEMENTATION, LAYOUT_KWARG, packed_layout, register_sdpa_varlen
from lm_eval_iberian.cpt.config import CPTConfig
from lm_eval_iberian.cpt.data import PackedStream, build_stream

__all__ = ["train"]

STATE_FILE = "trainer_state.json"
LOSS_LOG = "losses.jsonl"
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


def _checkpoints(output_dir: Path) -> list[Path]:
    return sorted(p for p in output_dir.glob("checkpoint-*") if (p / STATE_FILE).is_file() and not p.name.endswith(".tmp"))


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
        (tmp / STATE_FILE).write_text(json.dumps({"step": step}))
        os.replace(tmp, final)
        for old in _checkpoints(output_dir)[:-keep_last]:
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


def train(config: CPTConfig) -> Path:
    """Run (or resume) continued pre-training; returns the final Hugging Face model folder."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # Devices, FSDP and mixed precision come from `accelerate launch` (its config file);
    # the weights themselves are loaded in config.dtype (bf16, as the paper).
    # cpu=True without a GPU: otherwise accelerate ignores torchrun's ranks on CPU and every rank trains alone.
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    world, rank = accelerator.num_processes, accelerator.process_index
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if launched != world:
        raise RuntimeError(
            f"the launcher started {launched} processes but accelerate sees {world}; "
            "launch with `accelerate launch` (or torchrun with ACCELERATE_USE_CPU=1 on CPU-only machines)"
        )
    accum = config.grad_accumulation(world)
    output_dir = Path(config.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
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
    from accelerate.utils import DistributedType

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
    scheduler = _scheduler(optimizer, config)
    accelerator.register_for_checkpointing(scheduler)  # not prepare(): that would step it once per rank

    start = 0
    existing = _checkpoints(output_dir) if config.resume else []
    if existing:
        accelerator.load_state(str(existing[-1]))
        start = json.loads((existing[-1] / STATE_FILE).read_text())["step"]
        accelerator.print(f"resumed from {existing[-1]} at step {start}")
        if accelerator.is_main_process and (output_dir / LOSS_LOG).exists():  # drop steps logged after it
            kept = [x for x in (output_dir / LOSS_LOG).read_text().splitlines() if json.loads(x)["step"] <= start]
            (output_dir / LOSS_LOG).write_text("".join(x + "\n" for x in kept))
    elif accelerator.is_main_process:  # a fresh run: nothing of an earlier run may be resumed or kept
        for old in [*output_dir.glob("checkpoint-*"), output_dir / "final", output_dir / LOSS_LOG]:
            if old.is_dir():
                shutil.rmtree(old)
            elif old.exists():
                old.unlink()
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
    return _save_final(accelerator, model, tokenizer, output_dir, writer)


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
