"""Paired comparisons: the bootstrap against hand-computed cases, identical runs (interval exactly 0), corpus BLEU
and IFEval's instruction-level accuracy rebuilt from per-item statistics, language averages, pooled seeds, and every
way items can fail to pair (an error naming the benchmark, never a silent drop)."""

import hashlib
import json
from pathlib import Path

import pytest
import sacrebleu

from lm_eval_iberian.cli import main
from lm_eval_iberian.report import ReportError, compare_runs, load_runs, render_comparisons

DATE = "2026-12-01T00-00-00.000000"


def _write_run(folder: Path, model: str, tasks: dict[str, list[dict]], seed: int = 0) -> Path:
    """An lm-eval results file and per-sample logs: ``tasks`` maps a task to its items (doc_id + metric fields)."""
    folder.mkdir(parents=True, exist_ok=True)
    results = {}
    for task, items in tasks.items():
        metric = next(k for k in ("inst_level_strict_acc", "bleu", "acc") if k in items[0])
        with (folder / f"samples_{task}_{DATE}.jsonl").open("w") as fh:
            for item in items:
                row = {"doc_id": item["doc_id"], "filter": "none", "metrics": [metric],
                       "doc_hash": item.get("doc_hash") or hashlib.sha256(f"{task}{item['doc_id']}".encode()).hexdigest(),
                       metric: item[metric]}
                fh.write(json.dumps(row) + "\n")
        results[task] = {f"{metric},none": 0.0, "alias": task}
    path = folder / f"results_{DATE}.json"
    path.write_text(json.dumps({"results": results, "config": {"model": "hf", "model_args": {"pretrained": model},
                                                                "random_seed": seed}}))
    return path


def _acc(values: list[int]) -> list[dict]:
    return [{"doc_id": i, "acc": float(v)} for i, v in enumerate(values)]


def _compare(tmp_path, a: dict, b: dict, **kw):
    runs = load_runs([_write_run(tmp_path / "a", "org/cand", a), _write_run(tmp_path / "b", "org/base", b)])
    (comp,) = compare_runs(runs, "base", **kw)
    return {r.benchmark: r for r in comp.rows}, comp


def test_two_items_the_percentiles_are_the_enumerable_extremes(tmp_path):
    # per-item differences (1, 0): a resample's mean difference is 0, 1/2 or 1 with probabilities 1/4, 1/2, 1/4,
    # so with B = 1000 the 2.5th and 97.5th percentiles are 0 and 1 (x 100 %); the estimate is 1/2
    rows, _ = _compare(tmp_path, {"iberian_catcola": _acc([1, 0])}, {"iberian_catcola": _acc([0, 0])}, bootstrap=1000)
    row = rows["iberian_catcola"]
    assert (row.n, row.candidate, row.baseline, row.diff) == (2, 50.0, 0.0, 50.0)
    assert (row.low, row.high) == (0.0, 100.0) and not row.significant


def test_a_constant_per_item_difference_gives_an_exact_interval(tmp_path):
    rows, _ = _compare(tmp_path, {"iberian_catcola": _acc([1, 1, 0, 1, 0])}, {"iberian_catcola": _acc([0, 0, 0, 0, 0])},
                       bootstrap=300)
    assert rows["iberian_catcola"].diff == 60.0
    rows, _ = _compare(tmp_path / "2", {"iberian_catcola": _acc([1] * 7)}, {"iberian_catcola": _acc([0] * 7)}, bootstrap=300)
    row = rows["iberian_catcola"]
    assert (row.diff, row.low, row.high, row.significant) == (100.0, 100.0, 100.0, True)


def test_identical_runs_give_exactly_zero(tmp_path):
    refs = ["El gato se sentó en la alfombra.", "Un zorro marrón salta sobre el perro.", "Hola, ¿qué tal estás hoy?"]
    hyps = ["El gato se sentó en una alfombra.", "Un zorro salta sobre el perro perezoso.", "Hola, ¿cómo estás?"]
    tasks = {
        "iberian_catcola": _acc([1, 0, 1, 1]),
        "iberian_flores_en-gl": [{"doc_id": i, "bleu": [r, h]} for i, (r, h) in enumerate(zip(refs, hyps, strict=True))],
        "iberian_ifeval_gl": [{"doc_id": 0, "inst_level_strict_acc": [True, False]}, {"doc_id": 1, "inst_level_strict_acc": [True]}],
    }
    rows, comp = _compare(tmp_path, tasks, tasks)
    assert set(rows) == set(tasks)
    for row in rows.values():
        assert (row.diff, row.low, row.high, row.significant) == (0.0, 0.0, 0.0, False)
        assert row.candidate == row.baseline


def test_corpus_bleu_from_summed_sentence_statistics_equals_sacrebleu(tmp_path):
    refs = ["The cat sat on the mat today.", "A quick brown fox jumps over the lazy dog.", "Hello there, general!",
            "It is raining in Bilbao again.", "Galician is spoken in Galicia."]
    cand = ["The cat sat on a mat.", "A fast brown fox jumped over the dog.", "Hello there!", "It rains in Bilbao.",
            "Galician is spoken in Galicia."]
    base = ["A cat.", "The fox.", "Hi.", "Rain in Bilbao again.", "Galician is a language."]
    items = lambda hyps: [{"doc_id": i, "bleu": [r, h]} for i, (r, h) in enumerate(zip(refs, hyps, strict=True))]  # noqa: E731
    rows, _ = _compare(tmp_path, {"iberian_flores_es-gl": items(cand)}, {"iberian_flores_es-gl": items(base)}, bootstrap=200)
    row = rows["iberian_flores_es-gl"]
    assert row.candidate == pytest.approx(sacrebleu.corpus_bleu(cand, [refs]).score, abs=1e-9)
    assert row.baseline == pytest.approx(sacrebleu.corpus_bleu(base, [refs]).score, abs=1e-9)
    assert row.low <= row.diff <= row.high


def test_ifeval_is_resampled_over_prompts(tmp_path):
    # prompt 1: 2 instructions (candidate follows both, baseline one), prompt 2: 1 instruction (both fail).
    # A resample takes prompt 1 c times (c = 0, 1, 2): difference c / (2c + (2 - c)) = 0, 1/3, 1/2.
    cand = [{"doc_id": 0, "inst_level_strict_acc": [True, True]}, {"doc_id": 1, "inst_level_strict_acc": [False]}]
    base = [{"doc_id": 0, "inst_level_strict_acc": [True, False]}, {"doc_id": 1, "inst_level_strict_acc": [False]}]
    rows, _ = _compare(tmp_path, {"iberian_ifeval_gl": cand}, {"iberian_ifeval_gl": base}, bootstrap=1000)
    row = rows["iberian_ifeval_gl"]
    assert (row.n, row.candidate, row.baseline) == (2, pytest.approx(200 / 3), pytest.approx(100 / 3))
    assert (row.low, row.high) == (0.0, 50.0)


def test_language_average_resamples_each_member(tmp_path):
    refs = ["Bo día a todos.", "A casa é grande.", "Chove moito hoxe."]
    es = [{"doc_id": i, "bleu": [r, r]} for i, r in enumerate(refs)]  # perfect
    en = [{"doc_id": i, "bleu": [r, "nada"]} for i, r in enumerate(refs)]
    rows, comp = _compare(tmp_path, {"iberian_flores_es-gl": es, "iberian_flores_en-gl": es},
                          {"iberian_flores_es-gl": en, "iberian_flores_en-gl": es}, bootstrap=300)
    avg = rows["iberian_flores_to_gl"]
    assert avg.kind == "average" and avg.members == 2 and avg.n == 6
    assert avg.diff == pytest.approx((rows["iberian_flores_es-gl"].diff + rows["iberian_flores_en-gl"].diff) / 2)
    assert avg.low <= avg.diff <= avg.high
    # a group with a member scored by one side only: no average, and the note says why
    rows, comp = _compare(tmp_path / "2", {"iberian_flores_es-gl": es}, {"iberian_flores_es-gl": en})
    assert "iberian_flores_to_gl" not in rows
    assert any("iberian_flores_to_gl average not computed: iberian_flores_en-gl" in n for n in comp.notes)


def test_seeds_of_one_model_are_pooled_per_item(tmp_path):
    cand = [_write_run(tmp_path / f"c{s}", "org/cand", {"iberian_catcola": _acc(v)}, seed=s)
            for s, v in ((0, [1, 0, 1]), (1, [1, 1, 1]))]
    base = _write_run(tmp_path / "b", "org/base", {"iberian_catcola": _acc([0, 0, 1])})
    (comp,) = compare_runs(load_runs([*cand, base]), "org/base", bootstrap=100)
    (row,) = comp.rows
    assert (row.n, row.candidate, row.baseline) == (3, pytest.approx(500 / 6), pytest.approx(100 / 3))


@pytest.mark.parametrize(("cand", "base", "message"), [
    (_acc([1, 0, 1]), _acc([1, 0]), r"iberian_catcola: 3 items in .* and 2 in .*; 1 only in the first \(doc_id 2\), 0 only"),
    (_acc([1, 0]), _acc([1, 0, 0, 1]), r"iberian_catcola: 2 items .* and 4 in .*; 0 only in the first .*, 2 only in the baseline \(doc_id 2, 3\)"),
    ([{"doc_id": 0, "acc": 1.0, "doc_hash": "x"}], [{"doc_id": 0, "acc": 1.0, "doc_hash": "y"}],
     "iberian_catcola: doc_id 0 .* different document"),
])
def test_items_that_do_not_pair_are_an_error_naming_the_benchmark(tmp_path, cand, base, message):
    with pytest.raises(ReportError, match=message):
        _compare(tmp_path, {"iberian_catcola": cand}, {"iberian_catcola": base})


def test_missing_per_sample_log_and_unknown_baseline(tmp_path):
    a = _write_run(tmp_path / "a", "org/cand", {"iberian_catcola": _acc([1, 0])})
    b = _write_run(tmp_path / "b", "org/base", {"iberian_catcola": _acc([1, 0])})
    next((tmp_path / "b").glob("samples_*")).unlink()
    runs = load_runs([a, b])
    with pytest.raises(ReportError, match=r"no per-sample log of iberian_catcola .* --log_samples"):
        compare_runs(runs, "base")
    with pytest.raises(ReportError, match="--compare 'nope' names none of the runs; give one of: base; cand"):
        compare_runs(runs, "nope")


def test_cli_report_compare(tmp_path, capsys):
    _write_run(tmp_path / "a", "org/cand", {"iberian_catcola": _acc([1, 1, 1, 1])})
    _write_run(tmp_path / "b", "org/base", {"iberian_catcola": _acc([0, 0, 0, 0])})
    assert main(["report", str(tmp_path), "--compare", "org/base", "--bootstrap-samples", "50"]) == 0
    out = capsys.readouterr().out
    assert "Paired comparison: cand minus base" in out
    assert "| iberian_catcola | acc (%) | 4 | 100.00 | 0.00 | +100.00 | [+100.00, +100.00] | * |" in out
    assert main(["report", str(tmp_path), "--compare", "base", "--format", "latex"]) == 0
    assert "\\begin{tabular}" in capsys.readouterr().out
    runs = load_runs([tmp_path])
    csv_text = render_comparisons(compare_runs(runs, "base", bootstrap=10), "csv")
    assert csv_text.splitlines()[1].startswith("cand,base,iberian_catcola,task,acc (%),4,100.0,0.0,100.0,100.0,100.0,1,10")
