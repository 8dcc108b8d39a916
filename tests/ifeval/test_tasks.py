"""The iberian_ifeval_* lm-eval tasks: metrics, the errata switch, the real CLI."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lm_eval_iberian import tasks_path
from lm_eval_iberian.ifeval import LANGUAGES, score_responses

METRICS = ("prompt_level_strict_acc", "inst_level_strict_acc", "prompt_level_loose_acc", "inst_level_loose_acc")


def _evaluate(lm, tasks, **kwargs):
    import lm_eval
    from lm_eval.tasks import TaskManager

    return lm_eval.simple_evaluate(
        model=lm,
        tasks=tasks,
        bootstrap_iters=0,
        log_samples=True,
        gen_kwargs="max_gen_toks=24",
        task_manager=TaskManager(include_path=tasks_path(), metadata=kwargs.pop("metadata", None)),
        **kwargs,
    )


@pytest.fixture(scope="module")
def full_run(tiny_hflm):
    return _evaluate(tiny_hflm, ["iberian_ifeval_full"])


@pytest.mark.parametrize("lang", LANGUAGES)
def test_task_metrics_equal_the_public_scoring_function(full_run, lang):
    """lm-eval's numbers are exactly score_responses on the logged generations."""
    task = f"iberian_ifeval_{lang}_full"
    samples = full_run["samples"][task]
    assert len(samples) == 6
    records = [{k: s["doc"][k] for k in ("key", "prompt", "instruction_id_list")} | {"kwargs": json.loads(s["doc"]["kwargs"])} for s in samples]
    responses = [s["filtered_resps"][0] for s in samples]
    scores = score_responses(records, responses, lang, protocol="full")
    for metric in METRICS:
        assert full_run["results"][task][f"{metric},none"] == pytest.approx(getattr(scores, metric))


def test_response_language_is_scored_only_in_full(full_run, tiny_hflm):
    paper = _evaluate(tiny_hflm, ["iberian_ifeval_eu"])
    assert len(paper["samples"]["iberian_ifeval_eu"]) == 5  # key 9405 has only response_language
    ids = {i for s in paper["samples"]["iberian_ifeval_eu"] for i in s["doc"]["instruction_id_list"]}
    assert "language:response_language" not in ids
    full_ids = {i for s in full_run["samples"]["iberian_ifeval_eu_full"] for i in s["doc"]["instruction_id_list"]}
    assert "language:response_language" in full_ids


def test_errata_switch_reaches_the_documents(tiny_hflm):
    out = _evaluate(tiny_hflm, ["iberian_ifeval_gl"], metadata={"ifeval_errata": False})
    assert {s["doc"]["errata"] for s in out["samples"]["iberian_ifeval_gl"]} == {False}
    with pytest.raises(ValueError, match="metadata ifeval_errata='maybe' is not a boolean; write one of true/false, 1/0, yes/no"):
        _evaluate(tiny_hflm, ["iberian_ifeval_gl"], metadata={"ifeval_errata": "maybe"})
    # The same switch spelled as people write it: "no" means no (it used to be bool("no") elsewhere).
    spelled = _evaluate(tiny_hflm, ["iberian_ifeval_gl"], metadata={"ifeval_errata": "no"})
    assert {s["doc"]["errata"] for s in spelled["samples"]["iberian_ifeval_gl"]} == {False}


@pytest.mark.slow
def test_stock_lm_eval_cli_runs_iberian_ifeval(tiny_llama, tmp_path, subprocess_env):
    lm_eval = Path(sys.executable).with_name("lm_eval")
    out = tmp_path / "out"
    proc = subprocess.run(
        [str(lm_eval), "--model", "hf", "--model_args", f"pretrained={tiny_llama}", "--tasks", "iberian_ifeval",
         "--gen_kwargs", "max_gen_toks=16", "--batch_size", "16", "--output_path", str(out)],
        env=subprocess_env(), capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(next(out.rglob("results_*.json")).read_text())["results"]
    for lang in LANGUAGES:
        for metric in METRICS:
            assert 0.0 <= results[f"iberian_ifeval_{lang}"][f"{metric},none"] <= 1.0
    assert set(METRICS) <= {k.split(",")[0] for k in results["iberian_ifeval"]}
