"""Tiny corpora and a tiny base model for the CPT tests."""

import json
from pathlib import Path

import pytest

from lm_eval_iberian.testing import demo_corpus


@pytest.fixture(scope="session")
def corpora(tmp_path_factory) -> dict[str, Path]:
    """Two small corpora (written by this project: the demo mirror's text) as jsonl and txt."""
    root = tmp_path_factory.mktemp("corpora")
    texts = [t for t in demo_corpus() if len(t) > 40]
    (root / "a.jsonl").write_text("\n".join(json.dumps({"text": t}, ensure_ascii=False) for t in texts[::2]))
    (root / "b.txt").write_text("\n\n".join(texts[1::2]))
    return {"a": root / "a.jsonl", "b": root / "b.txt"}


@pytest.fixture(scope="session")
def cpt_base(tiny_llama) -> Path:
    return tiny_llama


def make_config(base: Path, corpora: dict[str, Path], out: Path, **overrides):
    from lm_eval_iberian.cpt import load_config

    fields = {
        "model": str(base),
        "output_dir": str(out),
        "data": {
            "sources": [
                {"name": "a", "path": str(corpora["a"]), "ratio": 0.8},
                {"name": "b", "path": str(corpora["b"]), "ratio": 0.2},
            ],
            "cache_dir": str(out.parent / "cache"),
        },
        "seq_len": 64,
        "global_batch_size": 4,
        "micro_batch_size": 2,
        "max_steps": 8,
        "dtype": "float32",
        "activation_checkpointing": False,
        "checkpoint_every": 2,
        "keep_last": 2,
        "tensorboard": False,
        "optim": {"lr": 3e-3},
    }
    fields.update(overrides)
    return load_config(None, None, **fields)
