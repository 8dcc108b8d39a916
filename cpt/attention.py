"""``sdpa_varlen``: packed documents attend only within themselves, at the cost of their own lengths.

A packed sequence of ``seq_len`` tokens holding many documents needs a block-diagonal causal
mask. With stock sdpa/eager, transformers materializes that ``seq_len x seq_len`` mask and the
kernel still computes every masked score, so packing costs as much attention as one
``seq_len``-long document. Flash attention's variable-length kernel avoids that, but only on
CUDA with flash-attn installed, and only at micro-batch 1 through transformers.

``sdpa_varlen`` is the same idea on torch's own sdpa: the documents of a micro-batch are gathered
into a few length buckets (right-padded), each bucket runs one causal sdpa call (transformers'
own ``sdpa_attention_forward``: GQA, scaling, dropout handled there), and the outputs are scattered
back. Causal attention with right padding is exact for the real tokens: a real query never sees a
key at a later, padded position. Attention FLOPs become sum(padded_len^2) (a document is padded to
at most 1.5x its length) instead of seq_len^2 per sequence; it works on CPU and GPU at any
micro-batch size, and builds no mask.

Documents are where transformers itself finds them: a new one starts wherever ``position_ids``
do not increase by one (``find_packed_sequence_indices``), and at every row start.
"""

from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["ATTN_IMPLEMENTATION", "PackedLayout", "packed_layout", "register_sdpa_varlen"]

ATTN_IMPLEMENTATION = "sdpa_varlen"
LAYOUT_KWARG = "packed_layout"
_MIN_BUCKET = 16


@dataclass(frozen=True)
class PackedLayout:
    """Where each document of a ``[batch, seq]`` micro-batch goes, precomputed once per micro-batch.

    ``buckets[i] = (index, padded_len)``: ``index`` (``n * padded_len``) gathers the bucket's
    ``n`` right-padded documents from the flattened ``batch * seq`` tokens (padding repeats a
    document's last token and is never read back); ``gather_back`` picks every token's output
    row from the concatenated bucket outputs.
    """

    batch: int
    seq_len: int
    buckets: tuple[tuple[torch.Tensor, int], ...]
    gather_back: torch.Tensor

    def to(self, device: torch.device | str) -> "PackedLayout":
        return PackedLayout(
            self.batch,
            self.seq_len,
            tuple((index.to(device, non_blocking=True), padded) for index, padded in self.buckets),
            self.gather_back.to(device, non_blocking=True),
        )

    @property
    def attention_fraction(self) -> float:
        """Scores computed (padding included) as a share of the dense ``batch * seq_len^2``."""
        done = sum(index.numel() * padded for index, padded in self.buckets)
        return done / (self.batch * self.seq_len**2)


def _padded_length(n: int, cap: int) -> int:
    """Bucket sizes 16, 24, 32, 48, 64, 96, ...: at most 1.5x a document's length, few buckets."""
    size = _MIN_BUCKET
    while size < n:
        size = size * 3 // 2 if size & (size - 1) == 0 else size // 3 * 4
    return min(size, cap)


def packed_layout(position_ids: torch.Tensor) -> PackedLayout:
    """The bucketed document layout of a micro-batch, from its ``position_ids`` (``[batch, seq]``).

    Computed on the host (the data's ``position_ids`` live there), then moved with the batch, so
    the attention layers never synchronize with the device to find documents.
    """
    if position_ids.ndim != 2:
        raise ValueError(f"position_ids must be [batch, seq], got shape {tuple(position_ids.shape)}")
    position_ids = position_ids.detach().to("cpu", torch.int64)
    batch, seq = position_ids.shape
    diff = torch.diff(position_ids, dim=-1, prepend=position_ids[:, :1] - 1)
    is_start = diff != 1
    is_start[:, 0] = True
    starts = torch.nonzero(is_start.reshape(-1)).squeeze(1)
    lengths = torch.diff(starts, append=torch.tensor([batch * seq]))
    padded = torch.tensor([_padded_length(int(n), seq) for n in lengths.tolist()])
    buckets, token_rows = [], torch.empty(batch * seq, dtype=torch.int64)
    row0 = 0
    for size in sorted(set(padded.tolist())):
        members = torch.nonzero(padded == size).squeeze(1)
        offsets = torch.arange(size)
        # Padding repeats the document's last token: a real index, never read back.
        index = starts[members, None] + torch.minimum(offsets[None, :], lengths[members, None] - 1)
        real = offsets[None, :] < lengths[members, None]
        rows = row0 + torch.arange(members.numel() * size).view(-1, size)
        token_rows[index[real]] = rows[real]
        buckets.append((index.reshape(-1), size))
        row0 += members.numel() * size
    return PackedLayout(batch, seq, tuple(buckets), token_rows)


def sdpa_varlen_attention_forward(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """transformers attention interface: ``query`` ``[b, heads, s, d]`` -> output ``[b, s, heads, d]``."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    _refuse_padding(attention_mask)
    # Models pass a sliding window either as a module attribute (Qwen3) or as a keyword (Mistral).
    if getattr(module, "sliding_window", None) or kwargs.get("sliding_window"):
        raise ValueError(f"attn_implementation={ATTN_IMPLEMENTATION} has no sliding-window attention; use sdpa or flash_attention_2")
    for unsupported in ("softcap", "s_aux", "position_bias"):
        if kwargs.get(unsupported) is not None:
            raise ValueError(f"attn_implementation={ATTN_IMPLEMENTATION} does not support `{unsupported}` (this model uses it); use eager or sdpa")
    batch, heads, seq, dim = query.shape
    layout: PackedLayout | None = kwargs.get(LAYOUT_KWARG)
    if layout is None:  # called outside the trainer: find the documents here (one host sync per layer)
        position_ids = kwargs.get("position_ids")
        if position_ids is None:
            position_ids = torch.arange(seq).expand(batch, seq)
        layout = packed_layout(position_ids.expand(batch, -1)).to(query.device)
    if (layout.batch, layout.seq_len) != (batch, seq):
        raise ValueError(f"packed layout is for [{layout.batch}, {layout.seq_len}] but attention got [{batch}, {seq}]")
    if seq != key.shape[2]:
        raise ValueError(f"attn_implementation={ATTN_IMPLEMENTATION} is for training without a KV cache; use sdpa to generate")

    def tokens(x: torch.Tensor) -> torch.Tensor:  # [b, h, s, d] -> [b * s, h, d]
        return x.transpose(1, 2).reshape(batch * seq, x.shape[1], dim)

    q, k, v = tokens(query), tokens(key), tokens(value)
    outputs = []
    for index, size in layout.buckets:
        def gather(x: torch.Tensor, index=index, size=size) -> torch.Tensor:  # -> [n, h, size, d]
            return x.index_select(0, index).view(-1, size, x.shape[1], dim).transpose(1, 2)

        out, _ = sdpa_attention_forward(
            module, gather(q), gather(k), gather(v), None, dropout=dropout, scaling=scaling, is_causal=True
        )
        outputs.append(out.reshape(-1, heads, dim))  # [n * size, h, d]
    out = torch.cat(outputs).index_select(0, layout.gather_back)
    return out.view(batch, seq, heads, dim), None


def _refuse_padding(attention_mask: torch.Tensor | None) -> None:
    if attention_mask is not None and not bool(attention_mask.all()):
        raise ValueError(
            f"attn_implementation={ATTN_IMPLEMENTATION} takes packed sequences without padding; "
            "pass position_ids (restarting per document) and no padded attention_mask, or use sdpa"
        )


def sdpa_varlen_mask(*args: Any, attention_mask: torch.Tensor | None = None, **kwargs: Any) -> None:
    """transformers mask interface: no mask is needed; a padded 2D mask is refused, never dropped.

    Without a registered mask function transformers would discard the user's 2D mask before the
    attention function sees it, and padded tokens would silently join the documents.
    """
    _refuse_padding(attention_mask)
    return None


def register_sdpa_varlen() -> str:
    """Make ``attn_implementation="sdpa_varlen"`` known to transformers; returns the name."""
    from transformers import AttentionInterface, AttentionMaskInterface

    AttentionInterface.register(ATTN_IMPLEMENTATION, sdpa_varlen_attention_forward)
    AttentionMaskInterface.register(ATTN_IMPLEMENTATION, sdpa_varlen_mask)
    return ATTN_IMPLEMENTATION
