"""Tokenize once, mix by ratio, pack without padding and without attention across documents."""

import json

import numpy as np
import pytest
import torch
from lm_eval_iberian.cpt import ConfigError, CorpusSource
from lm_eval_iberian.cpt.data import IGNORE_INDEX, PackedStream, iter_documents, tokenize_corpus


@pytest.fixture(scope="module")
def tokenizer(cpt_base):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(cpt_base)


@pytest.fixture(scope="module")
def tokenized(corpora, tokenizer, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return [
        tokenize_corpus(CorpusSource(name="a", path=str(corpora["a"]), ratio=1), tokenizer, cache),
        tokenize_corpus(CorpusSource(name="b", path=str(corpora["b"]), ratio=1), tokenizer, cache),
    ]


def test_documents_end_with_eos(tokenized, tokenizer, corpora):
    a = tokenized[0]
    docs = list(iter_documents(CorpusSource(name="a", path=str(corpora["a"]), ratio=1)))
    assert a.n_documents == len(docs)
    for i in (0, 5, a.n_documents - 1):
        ids = list(a.tokens[a.offsets[i] : a.offsets[i + 1]])
        assert ids == tokenizer(docs[i], add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]


def test_sequences_are_full_with_positions_and_labels_restarting_per_document(tokenized, tokenizer):
    stream = PackedStream(tokenized, [0.5, 0.5], seq_len=64, total_tokens=64 * 40, seed=0)
    eos = tokenizer.eos_token_id
    for i in range(40):
        seq = stream.sequence(i)
        ids, pos, labels = seq["input_ids"], seq["position_ids"], seq["labels"]
        assert ids.shape == pos.shape == labels.shape == (64,)  # no padding, ever
        starts = [0] + [t for t in range(1, 64) if ids[t - 1] == eos]
        assert [t for t in range(64) if pos[t] == 0] == starts
        for t in range(1, 64):
            assert labels[t] == (IGNORE_INDEX if t in starts else ids[t])
    # The stream is the corpora's tokens, each document whole and in order.
    flat = torch.cat([stream.sequence(i)["input_ids"] for i in range(40)]).numpy()
    first = stream.doc_index[0], stream.doc_corpus[0]
    corpus = tokenized[first[1]]
    assert list(flat[: 5]) == list(corpus.tokens[corpus.offsets[first[0]] : corpus.offsets[first[0]] + 5])


@pytest.mark.parametrize("attn", ["sdpa_varlen", "sdpa", "eager"])
def test_packed_document_logits_equal_the_document_alone(cpt_base, tokenized, attn):
    from lm_eval_iberian.cpt.attention import register_sdpa_varlen
    from transformers import AutoModelForCausalLM

    register_sdpa_varlen()
    model = AutoModelForCausalLM.from_pretrained(cpt_base, dtype=torch.float32, attn_implementation=attn).eval()
    stream = PackedStream(tokenized, [0.5, 0.5], seq_len=128, total_tokens=128 * 4, seed=1)
    seq = stream.sequence(2)
    ids, pos = seq["input_ids"], seq["position_ids"]
    starts = [t for t in range(128) if pos[t] == 0] + [128]
    assert len(starts) >= 3, "the test needs a sequence holding several documents"
    with torch.no_grad():
        packed = model(input_ids=ids[None], position_ids=pos[None], use_cache=False).logits[0]
        for lo, hi in zip(starts[:-1], starts[1:], strict=True):
            alone = model(input_ids=ids[None, lo:hi], use_cache=False).logits[0]
            torch.testing.assert_close(packed[lo:hi], alone, rtol=1e-5, atol=1e-5)
        # Without position ids the documents would see each other: the test can fail.
        causal = model(input_ids=ids[None], use_cache=False).logits[0]
        lo, hi = starts[1], starts[2]
        assert not torch.allclose(causal[lo:hi], packed[lo:hi], atol=1e-4)


def test_mixing_ratios_hold(tokenized):
    stream = PackedStream(tokenized, [0.8, 0.2], seq_len=64, total_tokens=20_000, seed=0)
    longest = max(int(np.diff(c.offsets).max()) for c in tokenized)
    for n in (2_000, 10_000, 20_000):
        share = stream.token_share(n)
        assert abs(share[0] - 0.8) <= longest / n + 1e-9, (n, share)
    # A small corpus is repeated in a fresh order rather than starving the mixture.
    assert max(stream.passes) >= 1
    # Same seed, same stream; another seed, another order.
    again = PackedStream(tokenized, [0.8, 0.2], seq_len=64, total_tokens=20_000, seed=0)
    other = PackedStream(tokenized, [0.8, 0.2], seq_len=64, total_tokens=20_000, seed=1)
    assert np.array_equal(again.doc_index, stream.doc_index)
    assert not np.array_equal(other.doc_index[:50], stream.doc_index[:50])


def test_tokenization_is_cached_and_refreshed_when_the_corpus_changes(tmp_path, tokenizer):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"text": "Kaixo mundua, zer moduz?"}) + "\n")
    source = CorpusSource(name="c", path=str(corpus), ratio=1)
    first = tokenize_corpus(source, tokenizer, tmp_path / "cache")
    calls = []
    original = type(tokenizer).__call__
    try:
        type(tokenizer).__call__ = lambda self, *a, **k: calls.append(1) or original(self, *a, **k)
        tokenize_corpus(source, tokenizer, tmp_path / "cache")
        assert calls == []  # read from the cache
        corpus.write_text(json.dumps({"text": "Kaixo berriro, lagunok."}) + "\n" + json.dumps({"text": "Bigarren dokumentua."}) + "\n")
        second = tokenize_corpus(source, tokenizer, tmp_path / "cache")
    finally:
        type(tokenizer).__call__ = original
    assert calls and (first.n_documents, second.n_documents) == (1, 2)


def test_bad_corpora_are_clear_errors(tmp_path, tokenizer):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{oops\n')
    with pytest.raises(ConfigError, match=r"bad.jsonl:2: not valid JSON"):
        tokenize_corpus(CorpusSource(name="bad", path=str(bad), ratio=1), tokenizer, tmp_path / "cache")
    field = tmp_path / "field.jsonl"
    field.write_text('{"content": "ok"}\n')
    with pytest.raises(ConfigError, match=r"field.jsonl:1: no string field 'text' \(set text_field=\)"):
        tokenize_corpus(CorpusSource(name="field", path=str(field), ratio=1), tokenizer, tmp_path / "cache")
    with pytest.raises(ConfigError, match="matches no .jsonl"):
        tokenize_corpus(CorpusSource(name="none", path=str(tmp_path / "nothing*.jsonl"), ratio=1), tokenizer, tmp_path / "cache")


def test_parquet_and_hub_sources(tmp_path, monkeypatch):
    import datasets

    datasets.Dataset.from_dict({"body": ["Lehen dokumentua.", "", "Bigarren dokumentua."]}).to_parquet(str(tmp_path / "c.parquet"))
    local = CorpusSource(name="p", path=str(tmp_path / "*.parquet"), text_field="body", ratio=1)
    assert list(iter_documents(local)) == ["Lehen dokumentua.", "Bigarren dokumentua."]

    calls = []

    def fake_load_dataset(path, name=None, split=None, **kwargs):
        calls.append((path, name, split))
        return datasets.Dataset.from_dict({"text": ["Hub testua.", None, "Beste bat."]})

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    hub = CorpusSource(name="h", hub="HiTZ/some-corpus", hub_config="eu", split="train", ratio=1)
    assert list(iter_documents(hub)) == ["Hub testua.", "Beste bat."]
    assert calls == [("HiTZ/some-corpus", "eu", "train")]
    with pytest.raises(ConfigError, match="has no column 'content'"):
        list(iter_documents(CorpusSource(name="h2", hub="x/y", text_field="content", ratio=1)))


def test_label_count_from_boundaries_equals_the_labels(tokenized):
    stream = PackedStream(tokenized, [0.5, 0.5], seq_len=64, total_tokens=64 * 30, seed=3)
    for indices in ([0], [1, 2, 3], list(range(30))):
        expected = sum(int((stream.sequence(i)["labels"][1:] != IGNORE_INDEX).sum()) for i in indices)
        assert stream.label_count(indices) == expected
