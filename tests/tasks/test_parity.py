"""Our tasks and lm-eval's built-ins give identical per-sample loglikelihoods and scores.

The built-ins read the hub through ``datasets.load_dataset``; here that call is
served from the demo mirror so both sides see the same rows.
"""

import json

import datasets
import pytest

from lm_eval_iberian import tasks_path
from lm_eval_iberian.data import SplitRef
from lm_eval_iberian.data._mirror import split_file

PAIRS = [
    ("iberian_eus_trivia", "eus_trivia"),
    ("iberian_eus_proficiency", "eus_proficiency"),
    ("iberian_eus_reading", "eus_reading"),
    ("iberian_belebele_eus_Latn", "belebele_eus_Latn"),
    ("iberian_belebele_glg_Latn", "belebele_glg_Latn"),
    ("iberian_galcola", "galcola"),
    ("iberian_catcola", "catcola"),
    ("iberian_openbookqa_es", "openbookqa_es"),
    ("iberian_eus_exams_eu_opeosakienfeu", "eus_exams_eu_opeosakienfeu"),
]
# 0-shot on both sides (lm-eval never overrides a task configured with num_fewshot: 0).
ZERO_SHOT_PAIRS = [
    ("iberian_xstorycloze_eu", "xstorycloze_eu"),
    ("iberian_xstorycloze_es", "xstorycloze_es"),
    ("iberian_xstorycloze_gl", "xstorycloze_gl"),
    ("iberian_xstorycloze_ca", "xstorycloze_ca"),
]


@pytest.fixture
def hub_served_from_demo(monkeypatch, demo_mirror):
    def fake_load_dataset(path, name=None, split=None, **kwargs):
        root = split_file(demo_mirror, SplitRef(path, name or "default", "x")).parent
        if not root.is_dir():
            raise FileNotFoundError(f"demo mirror has no {path} [{name}]")
        splits = {
            p.stem: datasets.Dataset.from_list([json.loads(line) for line in p.read_text().splitlines() if line.strip()])
            for p in sorted(root.glob("*.jsonl"))
        }
        return splits[split] if split else datasets.DatasetDict(splits)

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)


@pytest.mark.parametrize(("pairs", "shots"), [(PAIRS, 3), (ZERO_SHOT_PAIRS, None)], ids=["3-shot", "0-shot"])
def test_tasks_match_lm_eval_builtins_sample_by_sample(tiny_hflm, hub_served_from_demo, pairs, shots):
    import lm_eval
    from lm_eval.tasks import TaskManager

    out = lm_eval.simple_evaluate(
        model=tiny_hflm,
        tasks=[o for o, _ in pairs] + [t for _, t in pairs],
        num_fewshot=shots,  # same k on both sides (the built-ins default to 0, ours to 5)
        bootstrap_iters=0,
        log_samples=True,
        task_manager=TaskManager(include_path=tasks_path()),
    )
    for mine, builtin in pairs:
        a, b = out["samples"][mine], out["samples"][builtin]
        assert len(a) == len(b) > 0, (mine, builtin)
        for sa, sb in zip(sorted(a, key=lambda s: s["doc_id"]), sorted(b, key=lambda s: s["doc_id"]), strict=True):
            assert sa["arguments"] == sb["arguments"], (mine, sa["doc_id"])
            assert sa["resps"] == sb["resps"], (mine, sa["doc_id"])
            assert sa["target"] == sb["target"]
        for key, value in out["results"][builtin].items():
            if key.endswith(",none") and "stderr" not in key:
                assert out["results"][mine][key] == pytest.approx(value), (mine, key)
