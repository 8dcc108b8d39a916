"""Corpora -> tokens (cached once) -> mixture by ratio -> packed sequences.

* Each corpus is tokenized once into ``<cache_dir>/<key>/tokens.npy`` (every
  document followed by EOS) and ``offsets.npy``; the key hashes the tokenizer
  and the corpus contents' identity, so a changed file or tokenizer re-tokenizes.
* The training stream is a deterministic function of the config and the seed:
  documents of every corpus in a seeded order (a fresh order per pass over a
  corpus), interleaved so each corpus holds its token ratio at every point
  (deficit scheduling, off by at most one document).
* Packing: the stream is cut into sequences of exactly ``seq_len`` tokens, so
  there is no padding. ``position_ids`` restart at every document (and at every
  sequence), which makes transformers build a block-diagonal causal mask (or
  variable-length flash attention): no token attends across documents. The
  first token of a document gets label -100, so no document is predicted from
  the previous one.
"""

import glob
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lm_eval_iberian.cpt.config import ConfigError, CorpusSource, CPTConfig

from lm_eval_iberian._jsonl import json_lines

__all__ = ["PackedStream", "TokenizedCorpus", "iter_documents", "tokenize_corpus"]

IGNORE_INDEX = -100
_TOKEN_DTYPE = np.uint32


def _local_files(source: CorpusSource) -> list[Path]:
    pattern = os.path.expanduser(source.path)
    if os.path.isdir(pattern):
        files = sorted(p for p in Path(pattern).rglob("*") if p.is_file() and _kind(p))
    else:
        files = sorted(Path(p) for p in glob.glob(pattern, recursive=True))
    if not files:
        raise ConfigError(f"corpus {source.name!r}: path={source.path!r} matches no .jsonl/.jsonl.gz/.parquet/.txt file")
    unknown = [str(f) for f in files if not _kind(f)]
    if unknown:
        raise ConfigError(f"corpus {source.name!r}: unsupported file type(s) {unknown[:3]}; use .jsonl[.gz], .parquet or .txt")
    return files


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    for suffix, kind in ((".jsonl.gz", "jsonl"), (".jsonl", "jsonl"), (".json", "jsonl"), (".parquet", "parquet"), (".txt", "txt")):
        if name.endswith(suffix):
            return kind
    return None


def iter_documents(source: CorpusSource) -> Iterator[str]:
    """The documents of one corpus, in file order. ``.txt``: documents are separated by blank lines."""
    if source.hub is not None:
        import datasets

        ds = datasets.load_dataset(source.hub, source.hub_config, split=source.split)
        if source.text_field not in ds.column_names:
            raise ConfigError(f"corpus {source.name!r}: {source.hub} has no column {source.text_field!r} ({ds.column_names})")
        yield from (t for t in ds[source.text_field] if isinstance(t, str) and t.strip())
        return
    for path in _local_files(source):
        kind = _kind(path)
        if kind == "txt":
            text = path.read_text(encoding="utf-8")
            yield from (d.strip() for d in text.split("\n\n") if d.strip())
        elif kind == "parquet":
            import datasets

            ds = datasets.Dataset.from_parquet(str(path))
            yield from (t for t in ds[source.text_field] if isinstance(t, str) and t.strip())
        else:
            import gzip

            opener = gzip.open if path.name.endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8") as fh:
                for lineno, row in json_lines(fh, str(path), ConfigError, objects=False):
                    text = row.get(source.text_field) if isinstance(row, dict) else None
                    if not isinstance(text, str):
                        raise ConfigError(f"{path}:{lineno}: no string field {source.text_field!r} (set text_field=)")
                    if text.strip():
                        yield text


def _fingerprint(source: CorpusSource) -> dict[str, Any]:
    if source.hub is not None:
        return {"hub": source.hub, "config": source.hub_config, "split": source.split, "field": source.text_field}
    files = _local_files(source)
    return {"files": [(str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns) for f in files], "field": source.text_field}


def _tokenizer_fingerprint(tokenizer: Any) -> str:
    vocab = json.dumps(sorted(tokenizer.get_vocab().items()), ensure_ascii=False).encode()
    return hashlib.sha256(vocab + str(tokenizer.eos_token_id).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TokenizedCorpus:
    name: str
    tokens: np.ndarray  # all documents, each followed by EOS
    offsets: np.ndarray  # document i is tokens[offsets[i]:offsets[i+1]]

    @property
    def n_documents(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_tokens(self) -> int:
        return int(self.offsets[-1])


def tokenize_corpus(source: CorpusSource, tokenizer: Any, cache_dir: str | Path, batch_size: int = 256) -> TokenizedCorpus:
    """Tokenize a corpus once (EOS after every document) and memory-map it from the cache."""
    if tokenizer.eos_token_id is None:
        raise ConfigError("the tokenizer has no eos_token; CPT separates documents with EOS")
    key = hashlib.sha256(json.dumps([_fingerprint(source), _tokenizer_fingerprint(tokenizer)]).encode()).hexdigest()[:20]
    folder = Path(cache_dir) / f"{source.name}-{key}"
    if not (folder / "offsets.npy").is_file():
        chunks, lengths, batch = [], [], []

        def flush() -> None:
            for ids in tokenizer(batch, add_special_tokens=False)["input_ids"]:
                ids = [*ids, tokenizer.eos_token_id]
                chunks.append(np.asarray(ids, dtype=_TOKEN_DTYPE))
                lengths.append(len(ids))
            batch.clear()

        for doc in iter_documents(source):
            batch.append(doc)
            if len(batch) == batch_size:
                flush()
        if batch:
            flush()
        if not lengths:
            raise ConfigError(f"corpus {source.name!r} has no non-empty documents")
        tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
        tmp.mkdir(parents=True, exist_ok=True)
        np.save(tmp / "tokens.npy", np.concatenate(chunks))
        np.save(tmp / "offsets.npy", np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))
        try:
            os.replace(tmp, folder)  # atomic: a half-written cache is never read
        except OSError:  # another rank won the race; its copy is identical
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    return TokenizedCorpus(
        source.name, np.load(folder / "tokens.npy", mmap_mode="r"), np.load(folder / "offsets.npy", mmap_mode="r")
    )


class PackedStream:
    """The training stream: sequence ``i`` is a deterministic function of (corpora, ratios, seed, i)."""

    def __init__(self, corpora: list[TokenizedCorpus], ratios: list[float], seq_len: int, total_tokens: int, seed: int):
        if len(corpora) != len(ratios):
            raise ValueError("one ratio per corpus")
        self.corpora, self.seq_len = corpora, seq_len
        weights = np.asarray(ratios, dtype=np.float64) / float(sum(ratios))
        self.ratios = weights
        rng = np.random.default_rng(seed)
        # Interleave: next document from the corpus furthest below its share.
        produced = np.zeros(len(corpora))
        passes = [0] * len(corpora)
        orders = [rng.permutation(c.n_documents) for c in corpora]
        cursor = [0] * len(corpora)
        doc_corpus, doc_index, doc_lengths = [], [], []
        total = 0
        while total < total_tokens + seq_len:
            deficit = weights * max(total, 1) - produced
            k = int(np.argmax(deficit))
            if cursor[k] == len(orders[k]):  # next pass over this corpus, in a new order
                passes[k] += 1
                orders[k] = rng.permutation(corpora[k].n_documents)
                cursor[k] = 0
            d = int(orders[k][cursor[k]])
            cursor[k] += 1
            length = int(corpora[k].offsets[d + 1] - corpora[k].offsets[d])
            doc_corpus.append(k)
            doc_index.append(d)
            doc_lengths.append(length)
            produced[k] += length
            total += length
        self.doc_corpus = np.asarray(doc_corpus, dtype=np.int32)
        self.doc_index = np.asarray(doc_index, dtype=np.int64)
        self.doc_starts = np.concatenate([[0], np.cumsum(doc_lengths)]).astype(np.int64)
        self.passes = passes

    def token_share(self, n_tokens: int) -> np.ndarray:
        """Share of each corpus among the first ``n_tokens`` tokens of the stream."""
        shares = np.zeros(len(self.corpora))
        ends = np.minimum(self.doc_starts[1:], n_tokens)
        lengths = np.clip(ends - self.doc_starts[:-1], 0, None)
        np.add.at(shares, self.doc_corpus, lengths)
        return shares / max(n_tokens, 1)

    def sequence(self, i: int) -> dict[str, torch.Tensor]:
        """Sequence ``i``: ``input_ids``, ``position_ids`` (restarting per document) and ``labels``."""
        start, end = i * self.seq_len, (i + 1) * self.seq_len
        first = int(np.searchsorted(self.doc_starts, start, side="right") - 1)
        ids, pos, labels = [], [], []
        d = first
        while self.doc_starts[d] < end:
            corpus = self.corpora[self.doc_corpus[d]]
            doc = int(self.doc_index[d])
            lo, hi = max(start, int(self.doc_starts[d])), min(end, int(self.doc_starts[d + 1]))
            offset = lo - int(self.doc_starts[d])
            piece = corpus.tokens[corpus.offsets[doc] + offset : corpus.offsets[doc] + offset + (hi - lo)]
            piece = torch.from_numpy(np.asarray(piece, dtype=np.int64))
            ids.append(piece)
            pos.append(torch.arange(hi - lo))
            lab = piece.clone()
            if offset == 0 and lo > start:
                lab[0] = IGNORE_INDEX  # a new document is not predicted from the previous one's EOS
            labels.append(lab)
            d += 1
        return {"input_ids": torch.cat(ids), "position_ids": torch.cat(pos), "labels": torch.cat(labels)}

    def batch(self, indices: list[int]) -> dict[str, torch.Tensor]:
        items = [self.sequence(i) for i in indices]
        return {k: torch.stack([it[k] for it in items]) for k in items[0]}

    def label_count(self, indices: list[int]) -> int:
        """Tokens that carry a loss in these sequences, from the document boundaries alone.

        HF shifts labels, so position 0 never counts; a document starting at position
        t > 0 has its label -100 there. So each sequence has ``seq_len - 1`` minus the
        number of document starts strictly inside it.
        """
        starts = np.asarray(indices, dtype=np.int64) * self.seq_len
        inside = np.searchsorted(self.doc_starts, starts + self.seq_len, side="left") - np.searchsorted(
            self.doc_starts, starts, side="right"
        )
        return int(((self.seq_len - 1) - inside).sum())


def build_stream(config: CPTConfig, tokenizer: Any) -> PackedStream:
    corpora = [tokenize_corpus(s, tokenizer, config.data.cache_dir) for s in config.data.sources]
    total = config.total_steps * config.tokens_per_step
    return PackedStream(corpora, [s.ratio for s in config.data.sources], config.seq_len, total, config.seed)
