"""The grid on the local executor (submitit's LocalExecutor, CPU, one job after another): 2 merges x 2 task groups,
resumed without re-running anything, a failing job retried and reported with its log, a sweep job's per-sample
logs, and the report's paired comparison checked against the results files."""

import json
import shutil

import pytest

from lm_eval_iberian.cli import main
from lm_eval_iberian.report import compare_runs, load_runs
from lm_eval_iberian.runs import expand_plan, job_done, job_results, load_plan
from lm_eval_iberian.runs._worker import run_job, write_job_folder
from tests.runs.conftest import TASKS, write_plan
from tests.test_printed_fixes import parse, printed_commands


def _grid(plan):
    return expand_plan(*load_plan(plan))


def test_local_grid_runs_every_job_and_resumes_without_rerunning(local_grid, capsys):
    plan, proc = local_grid
    assert proc.returncode == 0, proc.stdout + proc.stderr
    grid = _grid(plan)
    assert len(grid.jobs) == 2 * len(TASKS) and all(job_done(j) for j in grid.jobs)
    for job in grid.jobs:
        (results,) = job_results(job)
        data = json.loads(results.read_text())
        assert data["config"]["iberian_grid"]["key"] == job.key
        assert set(job.leaves) <= set(data["results"])
        assert data["config"]["iberian_merge"]["recipe"] == job.spec["recipe"]  # merged through --model merged
        for leaf in job.leaves:  # lm-eval's per-sample log of each task, 2 items (limit 2)
            date = results.stem.removeprefix("results_")
            rows = (job.folder / f"samples_{leaf}_{date}.jsonl").read_text().splitlines()
            assert len(rows) == 2 and {"doc_id", "doc_hash", "filtered_resps"} <= set(json.loads(rows[0]))
    state = json.loads((grid.output / "grid.json").read_text())
    assert all(len(state["jobs"][j.key]["attempts"]) == 1 for j in grid.jobs)
    before = {p: p.stat().st_mtime_ns for p in grid.output.rglob("*") if p.is_file() and "jobs" in p.parts}
    assert main(["grid", "run", str(plan), "--poll-seconds", "0.5"]) == 0  # in-process: nothing left to run
    again = capsys.readouterr().out
    assert f"{len(grid.jobs)} of {len(grid.jobs)} jobs already done" in again and "submitted" not in again
    assert {p: p.stat().st_mtime_ns for p in before} == before  # nothing ran or was rewritten
    assert main(["grid", "status", str(plan)]) == 0
    assert f"{len(grid.jobs)} done" in capsys.readouterr().out


def test_grid_report_compares_on_paired_items(local_grid, capsys):
    plan, proc = local_grid
    assert proc.returncode == 0, proc.stderr
    grid = _grid(plan)
    runs = load_runs([p for j in grid.jobs for p in job_results(j)])
    low, high = sorted({r.label for r in runs})  # the two merges (weights 0.5 and 2)
    (comp,) = compare_runs(runs, low, bootstrap=200)
    rows = {r.benchmark: r for r in comp.rows}
    # every leaf, and the Flores target-language average (2 directions); items paired: 2 per leaf (limit 2)
    assert set(rows) == {"iberian_catcola", "iberian_flores_es-gl", "iberian_flores_en-gl", "iberian_flores_to_gl"}
    assert all(r.n == 2 for b, r in rows.items() if b != "iberian_flores_to_gl") and rows["iberian_flores_to_gl"].n == 4
    # the scores rebuilt from per-item statistics are the results files' own (acc in %, corpus BLEU)
    by_label = {r.label: r for r in runs if "iberian_catcola" in r.metrics}
    assert rows["iberian_catcola"].candidate == pytest.approx(100 * by_label[high].metrics["iberian_catcola"]["acc"])
    assert rows["iberian_catcola"].baseline == pytest.approx(100 * by_label[low].metrics["iberian_catcola"]["acc"])
    flores = {r.label: r for r in runs if "iberian_flores_es-gl" in r.metrics}
    for leaf in ("iberian_flores_es-gl", "iberian_flores_en-gl"):
        assert rows[leaf].candidate == pytest.approx(flores[high].metrics[leaf]["bleu"])
        assert rows[leaf].baseline == pytest.approx(flores[low].metrics[leaf]["bleu"])
    unit = next(j.unit for j in grid.jobs if "w0.5" in j.unit)
    assert main(["grid", "report", str(plan), "--compare", unit, "--format", "csv", "--bootstrap-samples", "200"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("model,baseline,benchmark") and len(lines) == 1 + len(rows)


def test_a_failing_job_is_retried_then_reported_with_its_log(grid_recipes, tiny_families, tmp_path, subprocess_env,
                                                             monkeypatch, capsys):
    broken = tmp_path / "broken-instruct"
    shutil.copytree(tiny_families["llama"]["instruct"], broken)
    for name in ("tokenizer.json", "tokenizer_config.json"):  # weights intact: the plan validates; loading fails
        (broken / name).unlink()
    plan = write_plan(tmp_path, grid_recipes, models=[{"model": str(broken)}], tasks=["iberian_catcola"],
                      resources={"executor": "local", "gpus_per_job": 0, "retries": 1})
    monkeypatch.setenv("PYTHONPATH", subprocess_env()["PYTHONPATH"])  # the jobs: network-guarded
    assert main(["grid", "run", str(plan), "--poll-seconds", "0.5"]) == 1
    proc = capsys.readouterr()
    assert "retrying (1 of 1 retries)" in proc.out
    (job,) = _grid(plan).jobs
    attempts = json.loads((tmp_path / "out" / "grid.json").read_text())["jobs"][job.key]["attempts"]
    assert len(attempts) == 2 and all(a["state"] == "EXITED" for a in attempts)
    log = attempts[-1]["stderr"]
    assert "failed" in proc.out and log in proc.out  # the table names the log
    assert "runs only those again" in proc.err
    (command,) = printed_commands(proc.err)
    assert parse(command).plan == str(plan)


def test_a_sweep_job_keeps_the_per_sample_logs_of_every_point(grid_recipes, tiny_families, tmp_path):
    expert = tiny_families["llama"]["expert"].name
    plan = write_plan(tmp_path, grid_recipes, tasks=["iberian_catcola"], models=[
        {"recipe": str(grid_recipes / "gl_linear_w2.yml"), "sweep": {"param": f"weight:{expert}", "values": [0.5, 1.5]}}])
    (job,) = _grid(plan).jobs
    assert job.kind == "sweep" and not job_done(job)
    write_job_folder(job)
    run_job(str(job.folder))  # what the node runs, here in-process
    assert job_done(job)
    files = job_results(job)
    assert [f.parent.name for f in files] == [f"point-weight_{expert}=0.5", f"point-weight_{expert}=1.5"]
    runs = load_runs(files)
    assert all(set(r.samples) == {"iberian_catcola"} for r in runs)
    (comp,) = compare_runs(runs, runs[0].label, bootstrap=50)
    assert [r.benchmark for r in comp.rows] == ["iberian_catcola"] and comp.rows[0].n == 2
