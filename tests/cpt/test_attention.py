"""sdpa_varlen: packed documents attend only within themselves, exactly as the block-diagonal mask."""

import pytest
import torch
import torch.nn.functional as F
from lm_eval_iberian.cpt.attention import (
    ATTN_IMPLEMENTATION,
    packed_layout,
    register_sdpa_varlen,
    sdpa_varlen_attention_forward,
)
from lm_eval_iberian.cpt.data import PackedStream

from tests.cpt.conftest import make_config


class _Attention(torch.nn.Module):  # what transformers' attention modules expose to the interface
    is_causal = True

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.num_key_value_groups = groups


def _document_ids(position_ids: torch.Tensor) -> torch.Tensor:
    return (torch.diff(position_ids, dim=-1, prepend=position_ids[:, :1] - 1) != 1).cumsum(-1)


def _masked_reference(q, k, v, position_ids, groups):
    doc = _document_ids(position_ids)
    seq = q.shape[2]
    mask = (doc[:, None, :, None] == doc[:, None, None, :]) & torch.ones(seq, seq, dtype=torch.bool).tril()
    k, v = k.repeat_interleave(groups, 1), v.repeat_interleave(groups, 1)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask).transpose(1, 2)


def _random_positions(batch: int, seq: int, gen: torch.Generator) -> torch.Tensor:
    rows = []
    for _ in range(batch):
        pieces, left = [], seq
        while left:
            n = min(left, int(torch.randint(1, 90, (1,), generator=gen)))
            pieces.append(torch.arange(n))
            left -= n
        rows.append(torch.cat(pieces))
    return torch.stack(rows)


@pytest.mark.parametrize("seed", range(5))
def test_outputs_and_gradients_equal_the_block_diagonal_mask(seed):
    gen = torch.Generator().manual_seed(seed)
    batch, heads, kv_heads, seq, dim = 3, 4, 2, 200, 8
    pos = _random_positions(batch, seq, gen)
    q = torch.randn(batch, heads, seq, dim, generator=gen, requires_grad=True)
    k = torch.randn(batch, kv_heads, seq, dim, generator=gen, requires_grad=True)
    v = torch.randn(batch, kv_heads, seq, dim, generator=gen, requires_grad=True)
    grad_out = torch.randn(batch, seq, heads, dim, generator=gen)

    ours, _ = sdpa_varlen_attention_forward(_Attention(2), q, k, v, None, scaling=dim**-0.5, packed_layout=packed_layout(pos))
    ours_grads = torch.autograd.grad(ours, (q, k, v), grad_out)
    ref = _masked_reference(q, k, v, pos, 2)
    ref_grads = torch.autograd.grad(ref, (q, k, v), grad_out)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    for a, b in zip(ours_grads, ref_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    # Without the layout the function finds the same documents from position_ids itself.
    again, _ = sdpa_varlen_attention_forward(_Attention(2), q, k, v, None, scaling=dim**-0.5, position_ids=pos)
    torch.testing.assert_close(again, ours)
    # ...and a layout that ignores the documents gives different numbers: the test can fail.
    plain = torch.arange(seq).expand(batch, seq)
    wrong, _ = sdpa_varlen_attention_forward(_Attention(2), q, k, v, None, scaling=dim**-0.5, packed_layout=packed_layout(plain))
    assert not torch.allclose(wrong, ref, atol=1e-3)


def test_layout_places_every_token_once_in_small_buckets():
    pos = torch.stack([torch.cat([torch.arange(5), torch.arange(40), torch.arange(3), torch.arange(16)]), torch.arange(64)])
    layout = packed_layout(pos)
    sizes = [size for _, size in layout.buckets]
    assert sizes == sorted(sizes) and sizes == [16, 48, 64]
    # Every token's output row is a distinct row of the bucket outputs, holding that very token.
    gathered = torch.cat([index for index, _ in layout.buckets])
    assert torch.equal(gathered[layout.gather_back], torch.arange(2 * 64))
    assert len(set(layout.gather_back.tolist())) == 2 * 64
    assert layout.attention_fraction == pytest.approx((3 * 16 * 16 + 48 * 48 + 64 * 64) / (2 * 64 * 64))


def test_documents_split_across_rows_and_one_token_documents():
    # Positions that do not step by one start a document, as transformers' own packed-mask detection;
    # so does every row start, even mid-document (the data restarts positions there).
    pos = torch.tensor([[3, 4, 5, 0, 0, 1, 2, 0], [7, 8, 0, 1, 0, 0, 0, 1]])
    q = torch.randn(2, 2, 8, 4)
    ours, _ = sdpa_varlen_attention_forward(_Attention(1), q, q, q, None, packed_layout=packed_layout(pos))
    torch.testing.assert_close(ours, _masked_reference(q, q, q, pos, 1), rtol=1e-6, atol=1e-6)


def test_padding_masks_and_other_misuse_are_clear_errors():
    q = torch.randn(1, 2, 8, 4)
    pad = torch.tensor([[1, 1, 1, 1, 1, 1, 0, 0]], dtype=torch.bool)
    with pytest.raises(ValueError, match="without padding"):
        sdpa_varlen_attention_forward(_Attention(1), q, q, q, pad)
    with pytest.raises(ValueError, match=r"layout is for \[1, 6\]"):
        sdpa_varlen_attention_forward(_Attention(1), q, q, q, None, packed_layout=packed_layout(torch.arange(6)[None]))
    with pytest.raises(ValueError, match=r"\[batch, seq\]"):
        packed_layout(torch.arange(8))
    windowed = _Attention(1)
    windowed.sliding_window = 4
    with pytest.raises(ValueError, match="sliding-window"):
        sdpa_varlen_attention_forward(windowed, q, q, q, None)
    with pytest.raises(ValueError, match="sliding-window"):  # Mistral passes the window as a keyword
        sdpa_varlen_attention_forward(_Attention(1), q, q, q, None, sliding_window=4)
    with pytest.raises(ValueError, match="softcap"):
        sdpa_varlen_attention_forward(_Attention(1), q, q, q, None, softcap=30.0)
    # A full attention mask (no padding) is accepted.
    sdpa_varlen_attention_forward(_Attention(1), q, q, q, torch.ones(1, 8, dtype=torch.bool))


def test_a_padded_mask_given_to_the_model_is_refused_not_dropped(cpt_base):
    """transformers drops 2D masks of unknown attention implementations before attention runs."""
    from transformers import AutoModelForCausalLM

    register_sdpa_varlen()
    model = AutoModelForCausalLM.from_pretrained(cpt_base, dtype=torch.float32, attn_implementation=ATTN_IMPLEMENTATION)
    ids = torch.tensor([[5, 6, 7, 8, 9, 10]])
    with pytest.raises(ValueError, match="without padding"):
        model(input_ids=ids, attention_mask=torch.tensor([[0, 0, 1, 1, 1, 1]]), use_cache=False)
    full = model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=False).logits
    torch.testing.assert_close(full, model(input_ids=ids, use_cache=False).logits)


def test_model_gradients_equal_transformers_packed_sdpa(cpt_base, corpora, tmp_path):
    """The whole tiny model, packed batch, loss and gradients: sdpa_varlen == transformers' masked sdpa."""
    from lm_eval_iberian.cpt.data import build_stream
    from transformers import AutoModelForCausalLM, AutoTokenizer

    register_sdpa_varlen()
    config = make_config(cpt_base, corpora, tmp_path, seq_len=128)
    stream: PackedStream = build_stream(config, AutoTokenizer.from_pretrained(cpt_base))
    batch = stream.batch([0, 1, 2, 3])
    assert int((batch["position_ids"] == 0).sum()) > 8, "the test needs several documents per sequence"
    grads = {}
    for attn in (ATTN_IMPLEMENTATION, "sdpa"):
        model = AutoModelForCausalLM.from_pretrained(cpt_base, dtype=torch.float32, attn_implementation=attn)
        model.config.use_cache = False
        extra = {"packed_layout": packed_layout(batch["position_ids"])} if attn == ATTN_IMPLEMENTATION else {}
        out = model(**batch, **extra)
        out.loss.backward()
        grads[attn] = (out.loss.detach(), {n: p.grad for n, p in model.named_parameters()})
    torch.testing.assert_close(grads["sdpa"][0], grads[ATTN_IMPLEMENTATION][0], rtol=1e-6, atol=1e-6)
    for name, g in grads["sdpa"][1].items():
        torch.testing.assert_close(grads[ATTN_IMPLEMENTATION][1][name], g, rtol=1e-4, atol=1e-6, msg=name)
