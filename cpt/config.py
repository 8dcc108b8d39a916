"""Training configuration: one pydantic model, validated before anything is loaded.

Defaults are the paper's continued pre-training recipe (HiTZ model cards and
their axolotl config): sequences of 8192 tokens, 256 sequences per optimizer
step, cosine schedule with 10 % warm-up, peak LR 1e-5, AdamW β (0.9, 0.95),
weight decay 0.1, bf16, activation checkpointing.
"""

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lm_eval_iberian._errors import UsageError, UserError
from lm_eval_iberian._parsing import StrictBool
from lm_eval_iberian._paths import read_yaml_file, user_path

__all__ = ["CPTConfig", "ConfigError", "CorpusSource", "DataConfig", "OptimConfig", "load_config"]


class ConfigError(UserError, ValueError):
    """A bad configuration; the message names the key, the value and what is allowed."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CorpusSource(_Strict):
    """One corpus: a local file/folder/glob (jsonl[.gz], parquet, txt) or a hub dataset."""

    name: str = Field(min_length=1)
    path: str | None = None
    hub: str | None = None
    hub_config: str | None = None
    split: str = "train"
    text_field: str = "text"
    # Share of the training tokens drawn from this corpus (normalised over all sources).
    ratio: float = Field(gt=0)

    @model_validator(mode="after")
    def _one_location(self) -> "CorpusSource":
        if (self.path is None) == (self.hub is None):
            raise ValueError(f"corpus {self.name!r}: give exactly one of path= (local files) or hub= (a hub dataset id)")
        return self


class DataConfig(_Strict):
    sources: list[CorpusSource] = Field(min_length=1)
    # Tokenized corpora are cached here, keyed by tokenizer and source contents.
    cache_dir: str = ".cache/lm_eval_iberian/cpt"

    @model_validator(mode="after")
    def _unique_names(self) -> "DataConfig":
        names = [s.name for s in self.sources]
        if len(set(names)) != len(names):
            raise ValueError(f"corpus names must be unique, got {names}")
        return self


class OptimConfig(_Strict):
    lr: float = Field(1e-5, gt=0)
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = Field(0.1, ge=0)
    eps: float = Field(1e-8, gt=0)
    grad_clip: float | None = Field(1.0, gt=0)
    schedule: Literal["cosine", "linear", "constant"] = "cosine"
    warmup_ratio: float = Field(0.1, ge=0, lt=1)


class CPTConfig(_Strict):
    """Everything a run needs; ``key=value`` overrides use the dotted field names."""

    model: str = Field(min_length=1, description="base model: local folder or hub id")
    tokenizer: str | None = None
    output_dir: str = Field(min_length=1)
    data: DataConfig
    optim: OptimConfig = OptimConfig()

    seq_len: int = Field(8192, ge=8)
    global_batch_size: int = Field(256, ge=1, description="sequences per optimizer step, all ranks together")
    micro_batch_size: int = Field(1, ge=1, description="sequences per forward pass on one rank")
    max_steps: int | None = Field(None, ge=1)
    max_tokens: int | None = Field(None, ge=1, description="alternative to max_steps")

    dtype: Literal["bfloat16", "float16", "float32"] = "bfloat16"
    # sdpa_varlen (cpt/attention.py): documents attend within themselves at about sum(len^2) cost, any device.
    attn_implementation: Literal["sdpa_varlen", "sdpa", "eager", "flash_attention_2", "flex_attention"] = "sdpa_varlen"
    activation_checkpointing: StrictBool = True
    seed: int = 0

    checkpoint_every: int = Field(500, ge=1)
    keep_last: int = Field(3, ge=1)
    resume: StrictBool = True
    log_every: int = Field(1, ge=1)
    tensorboard: StrictBool = True
    # Peak dense bf16 TFLOP/s of one device, for the MFU estimate (known GPUs are detected).
    peak_tflops: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _length(self) -> "CPTConfig":
        if (self.max_steps is None) == (self.max_tokens is None):
            raise ValueError("give exactly one of max_steps or max_tokens")
        if self.attn_implementation == "flash_attention_2" and self.micro_batch_size > 1:
            # transformers keeps packed documents apart under flash attention only for batch size 1.
            raise ValueError("attn_implementation=flash_attention_2 keeps documents apart only with micro_batch_size=1; "
                             "use micro_batch_size=1 (more accumulation steps) or sdpa_varlen")
        return self

    @property
    def tokens_per_step(self) -> int:
        return self.global_batch_size * self.seq_len

    @property
    def total_steps(self) -> int:
        if self.max_steps is not None:
            return self.max_steps
        return max(1, -(-self.max_tokens // self.tokens_per_step))

    def grad_accumulation(self, world_size: int) -> int:
        """Micro-batches per rank per optimizer step; the global batch must split evenly."""
        per_pass = self.micro_batch_size * world_size
        if self.global_batch_size % per_pass:
            valid = [m for m in range(1, self.global_batch_size + 1) if self.global_batch_size % (m * world_size) == 0]
            raise ConfigError(
                f"global_batch_size={self.global_batch_size} is not a multiple of micro_batch_size={self.micro_batch_size} "
                f"x world size {world_size}; choose micro_batch_size in {valid[:12]} or change global_batch_size"
            )
        return self.global_batch_size // per_pass


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    node: Any = tree
    parts = dotted.split(".")
    for part in parts[:-1]:
        if isinstance(node, list):
            node = node[int(part)]
        else:
            node = node.setdefault(part, {})
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def _explain(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "config"
        got = err.get("input")
        shown = "" if isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"  {where}: {err['msg']}{shown}")
    return "\n".join(lines)


def load_config(path: str | Path | None = None, overrides: list[str] | None = None, **fields: Any) -> CPTConfig:
    """Read a YAML config, apply ``key=value`` overrides (dotted keys, YAML values), validate.

    ``fields`` are merged first (for programmatic use). Raises :class:`ConfigError`
    listing every bad key with its value and what is allowed.
    """
    tree: dict[str, Any] = {}
    if path is not None:
        try:
            path = user_path(path, "--config")
        except UsageError as exc:
            raise ConfigError(str(exc)) from None
        tree = read_yaml_file(path, f"config file {path}", ConfigError, "a YAML config (examples: cpt/examples/)") or {}
        if not isinstance(tree, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of config keys")
    tree.update(fields)
    for item in overrides or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} must look like key=value, e.g. optim.lr=2e-5")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or type(exc).__name__
            raise ConfigError(f"override {item!r}: the value is not valid YAML ({problem}); write a number, "
                              "true/false, a list such as [a, b] or a quoted string") from None
        try:
            _set_dotted(tree, key.strip(), value)
        except (IndexError, ValueError, TypeError) as exc:
            raise ConfigError(f"override {item!r}: no such entry ({exc})") from None
    try:
        return CPTConfig.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(f"invalid CPT config{f' {path}' if path else ''}:\n{_explain(exc)}") from None
