"""Session fixtures: offline environment, network guard, tiny models, demo mirror."""

import os
import sys
from pathlib import Path

import pytest

NETGUARD_DIR = Path(__file__).parent / "_netguard"
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}

# Offline before anything imports huggingface_hub / datasets.
os.environ.update(OFFLINE_ENV)
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(NETGUARD_DIR))
import sitecustomize as _netguard  # noqa: E402,F401  (installs the socket guard in this process)

sys.path.remove(str(NETGUARD_DIR))

from lm_eval_iberian import demo_data_dir  # noqa: E402

# Every test reads the demo mirror unless it sets IBERIAN_DATA_DIR itself (monkeypatch).
os.environ["IBERIAN_DATA_DIR"] = demo_data_dir()


@pytest.fixture(scope="session")
def demo_mirror() -> str:
    return demo_data_dir()


@pytest.fixture(scope="session")
def tiny_tokenizer():
    from lm_eval_iberian.testing import build_tiny_tokenizer

    return build_tiny_tokenizer()


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory, tiny_tokenizer) -> Path:
    """Llama-style tiny model with an untied lm_head."""
    from lm_eval_iberian.testing import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny_llama"), "llama", seed=0, tokenizer=tiny_tokenizer)


@pytest.fixture(scope="session")
def tiny_qwen3(tmp_path_factory, tiny_tokenizer) -> Path:
    """Qwen3-style tiny model with lm_head tied to the embeddings."""
    from lm_eval_iberian.testing import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny_qwen3"), "qwen3", seed=1, tokenizer=tiny_tokenizer)


@pytest.fixture(scope="session")
def tiny_hflm(tiny_llama):
    """One lm-eval HFLM on the tiny Llama, shared by the end-to-end tests."""
    from lm_eval.models.huggingface import HFLM

    return HFLM(pretrained=str(tiny_llama), device="cpu", batch_size=16, max_length=2048)


@pytest.fixture(scope="session")
def subprocess_env():
    """Builds the environment for subprocesses: offline, network-guarded, demo mirror."""

    def make(**extra: str) -> dict[str, str]:
        env = dict(os.environ, **OFFLINE_ENV)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(NETGUARD_DIR), env.get("PYTHONPATH")]))
        env["IBERIAN_DATA_DIR"] = demo_data_dir()
        env.update(extra)
        return env

    return make


@pytest.fixture(scope="session")
def tiny_families(tmp_path_factory, tiny_tokenizer) -> dict[str, dict[str, Path]]:
    """base / instruct / expert triplets of one architecture each: llama (untied), qwen3 (tied)."""
    from lm_eval_iberian.testing import build_tiny_model

    root = tmp_path_factory.mktemp("families")
    return {
        arch: {
            role: build_tiny_model(root / f"{arch}-{role}", arch, seed=seed, tokenizer=tiny_tokenizer)
            for role, seed in (("base", 10), ("instruct", 11), ("expert", 12))
        }
        for arch in ("llama", "qwen3")
    }


def _tree_hashes(paths) -> dict[str, str]:
    """sha256 of every file under the given files/folders (what 'input unchanged' is checked against)."""
    import hashlib

    out = {}
    for root in map(Path, paths):
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for f in files:
            out[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


@pytest.fixture
def cli_error(capsys):
    """Run ``lm-eval-iberian ARGV`` expecting a user error.

    Asserts: exit status 2; stderr is the one-line error (or argparse's usage + error line), never a traceback;
    every fragment appears in it; every file under ``inputs`` is byte-identical afterwards; nothing under
    ``outputs`` was left behind (no output, no temporary file). Returns the error text.
    """
    from lm_eval_iberian.cli import main

    def run(argv, *fragments, inputs=(), outputs=()):
        before = _tree_hashes(inputs)
        existed = {str(p): Path(p).exists() for p in outputs}
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse's own errors
            code = exc.code
        err = capsys.readouterr().err
        assert code == 2, (code, err)
        assert "Traceback" not in err, err
        lines = [line for line in err.strip().splitlines() if line.strip()]
        assert lines and ("error:" in lines[-1]), err
        assert len(lines) == 1 or lines[0].startswith("usage:"), err
        for fragment in fragments:
            assert fragment in err, (fragment, err)
        assert _tree_hashes(inputs) == before, "an input file changed"
        for p in outputs:
            if not existed[str(p)]:
                assert not Path(p).exists(), f"{p} was created by a failed command"
            leftovers = [x for x in Path(p).parent.rglob("*") if ".tmp" in x.name] if Path(p).parent.exists() else []
            assert not leftovers, leftovers
        return err

    return run


@pytest.fixture
def tree_hashes():
    """sha256 of every file under the given files/folders, to show a command left its inputs unchanged."""
    return _tree_hashes
