"""Every iberian_* task and group through lm_eval.simple_evaluate on a tiny model over the demo mirror."""

import math

import pytest
import sacrebleu

from lm_eval_iberian import tasks_path
from lm_eval_iberian.data import groups, leaf_tasks

LIMIT = 3


def _members(group: str) -> list[str]:
    return [m if isinstance(m, str) else m["task"] for m in groups()[group].config["task"]]


def _leaves(group: str) -> list[str]:
    return [leaf for m in _members(group) for leaf in (_leaves(m) if m in groups() else [m])]


@pytest.fixture(scope="module")
def everything(tiny_hflm):
    import lm_eval
    from lm_eval.tasks import TaskManager

    return lm_eval.simple_evaluate(
        model=tiny_hflm,
        tasks=["iberian_all", "iberian_mt", "iberian_eus_exams_eu_by_exam", "iberian_ifeval", "iberian_ifeval_full", "iberian_ppl"],
        limit=LIMIT,
        bootstrap_iters=0,  # stderr bootstraps of mcc/BLEU dominate the run time otherwise
        log_samples=True,
        gen_kwargs="max_gen_toks=24",
        task_manager=TaskManager(include_path=tasks_path()),
        random_seed=0,
        numpy_random_seed=0,
        torch_random_seed=0,
        fewshot_random_seed=0,
    )


def test_every_leaf_task_reports_its_metrics(everything):
    results = everything["results"]
    for name, info in leaf_tasks().items():
        assert name in results, f"{name} did not run"
        metrics = [m["metric"] for m in info.config["metric_list"]]
        for metric in metrics:
            value = results[name][f"{metric},none"]
            assert isinstance(value, float) and not math.isnan(value), (name, metric, value)
            if metric in {"acc", "acc_norm"} or metric.endswith("_acc"):
                assert 0.0 <= value <= 1.0
            elif metric == "mcc":
                assert -1.0 <= value <= 1.0
            else:  # bleu, chrf, ter
                assert value >= 0.0
        assert everything["n-samples"][name]["effective"] == LIMIT


def test_fewshot_counts_follow_the_paper(everything):
    n_shot = everything["n-shot"]
    for name in leaf_tasks():
        assert n_shot[name] == (0 if name.startswith(("iberian_xstorycloze_", "iberian_ifeval_", "iberian_ppl_")) else 5), name


def test_cola_tasks_report_mcc_and_acc(everything):
    for name in ("iberian_galcola", "iberian_catcola", "iberian_escola"):
        assert {"mcc,none", "acc,none"} <= set(everything["results"][name])


def _value(everything, name: str, metric: str) -> float:
    return everything["results"][name][f"{metric},none"]


@pytest.mark.parametrize("group", sorted(groups()))
def test_group_aggregate_equals_mean_of_its_tasks(everything, group):
    """lm-eval 0.4.13 aggregates a group over its leaf tasks; recompute that from the leaves."""
    cfg = groups()[group].config
    assert everything["group_subtasks"][group] == _members(group)
    leaves = _leaves(group)
    for agg in cfg["aggregate_metric_list"]:
        metric = agg["metric"]
        values = [_value(everything, m, metric) for m in leaves]
        if agg.get("weight_by_size"):
            sizes = [everything["n-samples"][m]["effective"] for m in leaves]
            expected = sum(v * s for v, s in zip(values, sizes, strict=False)) / sum(sizes)
        else:
            expected = sum(values) / len(values)
        assert _value(everything, group, metric) == pytest.approx(expected, abs=1e-9), (group, metric)


def test_language_groups_hold_the_papers_lists(everything):
    assert _members("iberian_eu") == [
        "iberian_eus_reading", "iberian_belebele_eus_Latn", "iberian_eus_proficiency", "iberian_eus_trivia",
        "iberian_eus_exams_eu", "iberian_xstorycloze_eu", "iberian_bertaqa_eu_global", "iberian_bertaqa_eu_local",
    ]  # fmt: skip
    # Each language average is over its own benchmarks only: EusExams is one task, not 29.
    for lang in ("eu", "gl", "ca", "es", "en"):
        assert _leaves(f"iberian_{lang}") == _members(f"iberian_{lang}")
    assert len(_members("iberian_eus_exams_eu_by_exam")) == 29
    assert _members("iberian_gl") == [
        "iberian_belebele_glg_Latn", "iberian_parafrases_gl", "iberian_openbookqa_gl", "iberian_galcola",
        "iberian_xstorycloze_gl",
    ]  # fmt: skip
    assert sorted(_members("iberian_mt")) == [f"iberian_flores_to_{t}" for t in sorted(["eu", "gl", "ca", "es", "en"])]
    directions = sorted(m for g in _members("iberian_mt") for m in _members(g))
    assert len(directions) == 14 and all(s != t for s, t in (d.removeprefix("iberian_flores_").split("-") for d in directions))


@pytest.mark.parametrize("task", sorted(t for t in leaf_tasks() if t.startswith("iberian_flores_")))
def test_flores_bleu_and_chrf_equal_sacrebleu_on_logged_predictions(everything, task):
    samples = everything["samples"][task]
    preds = [s["filtered_resps"][0] for s in samples]
    refs = [s["target"] for s in samples]
    assert _value(everything, task, "bleu") == pytest.approx(sacrebleu.corpus_bleu(preds, [refs]).score)
    assert _value(everything, task, "chrf") == pytest.approx(sacrebleu.corpus_chrf(preds, [refs]).score)


def test_flores_prompts_are_in_the_right_direction(everything):
    sample = everything["samples"]["iberian_flores_es-eu"][0]
    prompt = sample["arguments"][0][0]
    assert prompt.rstrip().endswith("Basque sentence:") and "Spanish sentence:" in prompt
    assert sample["target"] == sample["doc"]["sentence_eus_Latn"]


def test_bertaqa_splits_are_disjoint_and_cover_their_group(everything):
    for lang in ("eu", "en"):
        glob = {s["doc"]["group"] for s in everything["samples"][f"iberian_bertaqa_{lang}_global"]}
        loc = {s["doc"]["group"] for s in everything["samples"][f"iberian_bertaqa_{lang}_local"]}
        assert glob == {"Gai orokorrak"} and loc == {"Euskal gaiak"}


def test_chat_template_and_multiturn_fewshot_as_the_paper_ran_instruct_models(tiny_qwen3):
    """The paper evaluates instruct/merged models with --apply_chat_template --fewshot_as_multiturn."""
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    lm = HFLM(pretrained=str(tiny_qwen3), device="cpu", batch_size=8, max_length=2048)
    out = lm_eval.simple_evaluate(
        model=lm,
        tasks=["iberian_es"],
        limit=2,
        bootstrap_iters=0,
        log_samples=True,
        apply_chat_template=True,
        fewshot_as_multiturn=True,
        task_manager=TaskManager(include_path=tasks_path()),
    )
    assert 0.0 <= out["results"]["iberian_es"]["acc,none"] <= 1.0
    prompt = out["samples"]["iberian_belebele_spa_Latn"][0]["arguments"][0][0]
    assert prompt.count("<|im_start|>user") == 6  # 5 few-shot turns + the question
    assert prompt.rstrip().endswith("<|im_start|>assistant")


def test_missing_mirror_split_fails_the_evaluation_with_one_clear_error(tiny_hflm, tmp_path, demo_mirror, monkeypatch):
    import shutil

    import lm_eval
    from lm_eval.tasks import TaskManager

    from lm_eval_iberian.data import MirrorError

    mirror = tmp_path / "mirror"
    shutil.copytree(demo_mirror, mirror)
    (mirror / "nbel" / "EsCoLA" / "default" / "train.jsonl").unlink()
    monkeypatch.setenv("IBERIAN_DATA_DIR", str(mirror))
    with pytest.raises(MirrorError) as err:
        lm_eval.simple_evaluate(
            model=tiny_hflm, tasks=["iberian_escola"], limit=1, task_manager=TaskManager(include_path=tasks_path())
        )
    assert "nbel/EsCoLA [default] train" in str(err.value)
    assert f"lm-eval-iberian data pull --dest {mirror} --datasets nbel/EsCoLA" in str(err.value)
