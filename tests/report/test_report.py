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
