"""Where the IFEval tests find data that the repository does not ship."""

import os
from pathlib import Path

import pytest

TESTS_DATA = Path(__file__).parent / "data"


def shared_dir() -> Path | None:
    """``$IBERIAN_SHARED_DIR`` or the workplace's ``shared/`` folder beside the checkout."""
    env = os.environ.get("IBERIAN_SHARED_DIR")
    candidates = [Path(env)] if env else []
    candidates += [parent / "shared" for parent in Path(__file__).resolve().parents]
    return next((c for c in candidates if (c / "data" / "ifeval").is_dir()), None)


def published_file(lang: str) -> Path:
    """The published IFEval prompt file of ``lang``; skips the test when it is not available."""
    if lang == "en":
        return TESTS_DATA / "input_data.en.jsonl"
    shared = shared_dir()
    if shared is None:
        pytest.skip(
            f"the published {lang} IFEval file is not in the repository (no license stated upstream); "
            "set IBERIAN_SHARED_DIR to a folder with data/ifeval/input_data.<lang>.jsonl"
        )
    return shared / "data" / "ifeval" / f"input_data.{lang}.jsonl"


def nltk_data_dir() -> Path:
    """NLTK's English punkt_tab data for lm-eval's own ifeval (a test-only copy; see its SOURCES.md)."""
    path = TESTS_DATA / "nltk_data"
    if not (path / "tokenizers" / "punkt_tab" / "english").is_dir():
        pytest.skip(
            "lm-eval's own ifeval needs NLTK's English punkt_tab data; set IBERIAN_SHARED_DIR to a folder with "
            "data/nltk_data/tokenizers/punkt_tab/english"
        )
    return path


@pytest.fixture(autouse=True, scope="session")
def _english_punkt_for_published_scoring():
    """The published scoring counts sentences with NLTK's English Punkt: point NLTK at the test copy."""
    path = TESTS_DATA / "nltk_data"
    if not (path / "tokenizers" / "punkt_tab" / "english").is_dir():
        yield
        return
    import nltk

    previous = os.environ.get("NLTK_DATA")
    os.environ["NLTK_DATA"] = str(path)  # also for the lm_eval subprocesses of test_tasks
    nltk.data.path.insert(0, str(path))
    yield
    nltk.data.path.remove(str(path))
    if previous is None:
        os.environ.pop("NLTK_DATA", None)
    else:
        os.environ["NLTK_DATA"] = previous


@pytest.fixture
def published_rows():
    """``published_rows(lang)``: the published IFEval rows of ``lang`` (skips when the file is not available)."""
    import json

    def read(lang: str) -> list[dict]:
        return [json.loads(line) for line in published_file(lang).read_text(encoding="utf-8").splitlines()]

    return read
