"""Reports from real lm-eval result files produced here: every cell recomputed from the files."""

import csv
import io
import json
import statistics

import pytest

from lm_eval_iberian import tasks_path
from lm_eval_iberian.report import build_table, load_runs, plot_sweep, render

TASKS = ["iberian_eu", "iberian_flores_to_eu", "iberian_ifeval_eu"]


@pytest.fixture(scope="module")
def result_files(tiny_families, tmp_path_factory):
    """Merged tiny models at several weights and two methods, evaluated by lm-eval, saved as results files."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    from lm_eval_iberian.merge._lm import MergedLM

    fam = tiny_families["llama"]
    out = tmp_path_factory.mktemp("results")
    points = [("linear", w, 0) for w in (0.5, 1.0, 2.0)] + [("task_arithmetic", w, 0) for w in (0.5, 1.0)] + [("linear", 1.0, 1)]
    files = []
    for i, (method, weight, seed) in enumerate(points):
        args = {"method": method, "models": f"{fam['expert']}@{weight}+{fam['instruct']}@1.0", "dtype": "float32", "seed": str(seed)}
        if method == "task_arithmetic":
            args["base"] = str(fam["base"])
        lm = MergedLM(**args, batch_size=8, max_length=1024, device="cpu")
        res = lm_eval.simple_evaluate(model=lm, tasks=TASKS, limit=2, bootstrap_iters=0, gen_kwargs="max_gen_toks=8",
                                      task_manager=TaskManager(include_path=tasks_path()), random_seed=seed)
        res.pop("samples", None)
        path = out / f"run{i}" / "results_2026-11-26T00-00-00.json"
        path.parent.mkdir()
        path.write_text(json.dumps(res, default=str))
        files.append(path)
    return out, files


def _raw(path, task, metric):
    return json.loads(path.read_text())["results"][task][f"{metric},none"]


def test_rows_are_named_from_recipes_and_seeds_share_a_row(result_files):
    _, files = result_files
    runs = load_runs([str(f) for f in files])
    labels = {r.label for r in runs}
    assert len(labels) == 5  # two seeds of linear@1.0 share one row
    assert "linear(llama-expert×2.0 + llama-instruct×1.0)" in labels, labels
    assert {r.method for r in runs} == {"linear", "task_arithmetic"}


@pytest.mark.parametrize(("table", "task", "metric", "scale"), [
    ("benchmarks", "iberian_eu", "acc", 100), ("mt", "iberian_flores_to_eu", "bleu", 1),
    ("ifeval", "iberian_ifeval_eu", "inst_level_strict_acc", 100),
])
def test_every_cell_equals_the_values_in_the_files(result_files, table, task, metric, scale):
    root, files = result_files
    runs = load_runs([str(root)])
    built = build_table(table, runs)
    column = built.columns[0]  # EU
    for label in built.rows:
        paths = [r.path for r in runs if r.label == label]
        values = [_raw(__import__("pathlib").Path(p), task, metric) * scale for p in paths]
        mean, sd = built.cells[(label, column)]
        assert mean == pytest.approx(statistics.fmean(values))
        assert sd == (pytest.approx(statistics.stdev(values)) if len(values) > 1 else None)
    assert all(built.cells[(label, built.columns[1])] is None for label in built.rows)  # GL not evaluated: shown as –
    shown = {round(built.cells[(r, column)][0], built.decimals) for r in built.rows}
    md = render(built, "md")
    assert "–" in md
    if len(shown) > 1:  # bold marks the best value as shown, and only where values differ
        assert f"**{max(shown):.1f}" in md and md.count("**") == 2 * sum(built.is_best(r, column) for r in built.rows)
    else:
        assert "**" not in md
    rows = list(csv.reader(io.StringIO(render(built, "csv"))))
    assert rows[0][0] == "model" and len(rows) == len(built.rows) + 1
    for row, label in zip(rows[1:], built.rows, strict=True):  # plain numbers, full precision, no markers
        assert float(row[1]) == built.cells[(label, column)][0]
    latex = render(built, "latex")
    assert latex.count("\\\\") == len(built.rows) + 1 and ("\\textbf{" in latex) == (len(shown) > 1)


def test_methods_table_and_average(result_files):
    root, _ = result_files
    runs = load_runs([str(root)])
    # These tiny experts carry no language in their names: no column can claim them.
    assert all(c is None for key, c in build_table("methods", runs).cells.items() if key[1] != "Avg")
    runs = [r.model_copy(update={"target_lang": "eu"}) for r in runs]  # as for HiTZ/eu_... experts
    table = build_table("methods", runs)
    assert table.rows == ["linear", "task_arithmetic"]
    for method in table.rows:
        values = [r.value("iberian_eu", "acc") * 100 for r in runs if r.method == method]
        assert table.cells[(method, "EU")][0] == pytest.approx(statistics.fmean(values))
        assert table.cells[(method, "Avg")][0] == pytest.approx(table.cells[(method, "EU")][0])  # only EU evaluated


def test_sweep_plot_and_cli(result_files, tmp_path, capsys):
    from lm_eval_iberian.cli import main

    root, _ = result_files
    png = plot_sweep(load_runs([str(root)]), tmp_path / "sweep.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert main(["report", str(root), "--table", "benchmarks", "--table", "ifeval", "--format", "md", "--plot", "sweep", "--out", str(tmp_path / "f.png")]) == 0
    out = capsys.readouterr().out
    assert "Benchmark average" in out and "IFEval" in out and (tmp_path / "f.png").is_file()
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def _realistic_results(root, langs=("eu", "gl", "ca", "es", "en")):
    """Result files at the paper's scale: a Qwen3-8B eu linear sweep, and the instruct model and expert alone."""
    bench = {"eu": 0.52, "gl": 0.66, "ca": 0.70, "es": 0.71, "en": 0.80}
    bleu = {"eu": 8.1, "gl": 24.0, "ca": 33.0, "es": 24.5, "en": 36.0}
    ifeval = {"eu": 0.55, "gl": 0.74, "ca": 0.78, "es": 0.80, "en": 0.86}

    def results(shift_b, shift_t, shift_i):
        out = {}
        for lang in langs:
            out[f"iberian_{lang}"] = {"acc,none": bench[lang] + shift_b(lang), "acc_stderr,none": 0.01}
            out[f"iberian_flores_to_{lang}"] = {"bleu,none": bleu[lang] + shift_t(lang)}
            out[f"iberian_ifeval_{lang}"] = {"inst_level_strict_acc,none": ifeval[lang] + shift_i(lang)}
        return out

    def write(name, res, config):
        path = root / name / "results_2026-12-01T00-00-00.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"results": res, "config": config}))

    zero = lambda lang: 0.0  # noqa: E731
    write("instruct", results(zero, zero, zero), {"model": "vllm", "model_args": "pretrained=Qwen/Qwen3-8B"})
    write("expert", results(lambda lang: 0.08 if lang == "eu" else -0.06, lambda lang: 8.0 if lang == "eu" else -3.0,
                            lambda lang: -0.35), {"model": "vllm", "model_args": "pretrained=HiTZ/eu_Qwen3-8B-Base"})
    for w in (0.5, 1.0, 1.5, 2.0):
        recipe = {"merge_method": "linear", "dtype": "bfloat16", "models": [
            {"model": "HiTZ/eu_Qwen3-8B-Base", "parameters": {"weight": w}}, {"model": "Qwen/Qwen3-8B", "parameters": {"weight": 1.0}}]}
        record = {"record_version": 1, "model_name": f"merged-linear-eu_Qwen3-8B-Base-{w}", "method": "linear", "recipe": recipe,
                  "recipe_source": "inline", "recipe_sha256": str(w), "seed": 0, "inputs": [], "tokenizer": "Qwen/Qwen3-8B",
                  "versions": {}, "backend": "vllm"}
        g = w / 2
        write(f"w{w}", results(lambda lang, g=g: 0.07 * g if lang == "eu" else -0.02 * g,
                               lambda lang, g=g: 7.5 * g if lang == "eu" else -1.0 * g,
                               lambda lang, g=g: 0.02 * g if lang == "eu" else -0.05 * g),
              {"model": "merged_vllm", "iberian_merge": record})


def test_sweep_figure_reads_at_the_papers_scale(tmp_path):
    """What a reader checks: titles naming the models, units, the swept weights as ticks, no negative axis, the
    unmerged models as reference lines, the target language bold, one legend outside the panels."""
    import matplotlib.pyplot as plt

    from lm_eval_iberian.report import sweep_figure

    _realistic_results(tmp_path)
    fig = sweep_figure(load_runs([str(tmp_path)]))
    (subfig,) = fig.subfigs
    assert subfig._suptitle.get_text() == "linear: eu_Qwen3-8B-Base (weight swept) + Qwen3-8B×1 — target language EU"
    axes = subfig.axes
    assert [ax.get_title() for ax in axes] == ["Benchmark average", "Flores into the language", "IFEval"]
    assert [ax.get_ylabel() for ax in axes] == ["accuracy (%)", "BLEU", "instruction-level strict accuracy (%)"]
    for ax in axes:
        assert list(ax.get_xticks()) == [0.5, 1.0, 1.5, 2.0]
        assert ax.get_ylim()[0] >= 0 and ax.get_legend() is None
        assert not ax.yaxis.get_major_formatter().get_offset()
        lines = [line for line in ax.get_lines() if len(line.get_xdata()) == 4]
        widths = sorted({line.get_linewidth() for line in lines})
        assert len(lines) == 5 and widths == [1.1, 2.6]  # one bold line: the target language
        refs = [line for line in ax.get_lines() if len(line.get_xdata()) == 2 and line.get_linestyle() in (":", "--")]
        assert {line.get_linestyle() for line in refs} == {":", "--"} and len(refs) == 10  # instruct and expert, 5 languages
    (legend,) = fig.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels[:5] == ["EU", "GL", "CA", "ES", "EN"] and any("instruct" in t for t in labels)
    plt.close(fig)


def test_sweep_figure_keeps_near_zero_scores_readable(result_files):
    """At the demo's scale BLEU is ~0: the axis is [0, 1], not 0..1e-9 with an offset."""
    import matplotlib.pyplot as plt

    from lm_eval_iberian.report import sweep_figure

    root, _ = result_files
    fig = sweep_figure(load_runs([str(root)]))
    for subfig in fig.subfigs:
        for ax in subfig.axes:
            low, high = ax.get_ylim()
            assert low >= 0 and high >= 1.0 and not ax.yaxis.get_major_formatter().get_offset()
    plt.close(fig)
