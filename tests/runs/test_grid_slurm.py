"""The grid on the CI's Slurm cluster through sbatch (submitit job arrays): 2 merges x 2 task groups on CPU,
submitted without waiting, adopted (not submitted twice) by a second `grid run`, one job cancelled mid-run with
scancel; the next `grid run` runs only that job again, and every result equals the uninterrupted local run's."""

import json
import subprocess
import sys
import time

from lm_eval_iberian.cli import main
from lm_eval_iberian.runs import expand_plan, job_results, load_plan
from tests._slurm import slurm_cluster, wait_until_gone  # noqa: F401  (fixture)
from tests.runs.conftest import write_plan


def _metrics(grid) -> dict[str, dict]:
    out = {}
    for job in grid.jobs:
        (path,) = job_results(job)
        data = json.loads(path.read_text())
        out[job.key] = {t: {k: v for k, v in m.items() if k not in ("alias", "name")} for t, m in data["results"].items()}
    return out


def _running_task(cluster, array_id: str) -> str | None:
    """An array task of ``array_id`` that runs and has started Python (its log has content)."""
    for entry in cluster.squeue():
        job_id, state, _ = (entry.split() + ["", ""])[:3]
        if job_id.startswith(f"{array_id}_") and state == "RUNNING":
            return job_id
    return None


def test_slurm_grid_cancel_one_job_and_resume(slurm_cluster, grid_recipes, local_grid, tmp_path, subprocess_env,  # noqa: F811
                                               monkeypatch, capsys):
    ref_plan, ref_proc = local_grid
    assert ref_proc.returncode == 0, ref_proc.stderr
    plan = write_plan(tmp_path, grid_recipes, resources={"executor": "slurm", "gpus_per_job": 0, "cpus_per_job": 1,
                                                         "time": "00:10:00", "retries": 1})
    env = subprocess_env()
    monkeypatch.setenv("PYTHONPATH", env["PYTHONPATH"])  # jobs submitted from this process: network-guarded too
    grid = expand_plan(*load_plan(plan))
    reference = expand_plan(*load_plan(ref_plan))
    assert [j.key for j in grid.jobs] == [j.key for j in reference.jobs]  # the executor is not part of the key

    started = time.monotonic()
    assert main(["grid", "run", str(plan), "--no-wait"]) == 0
    assert f"submitted {len(grid.jobs)} job(s) (slurm " in capsys.readouterr().out
    state = json.loads((tmp_path / "out" / "grid.json").read_text())
    array_id = next(iter(state["jobs"].values()))["attempts"][0]["job_id"].split("_")[0]

    # A second `grid run` waits for the queued array instead of submitting it again; once it has taken the jobs
    # over, the array's last task is cancelled mid-run (it starts last: 2 one-CPU jobs run at once).
    waiter = subprocess.Popen([sys.executable, "-m", "lm_eval_iberian", "grid", "run", str(plan), "--poll-seconds", "0.5"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines = []
    while not any("of an earlier `grid run` still queued or running" in line for line in lines):
        line = waiter.stdout.readline()
        assert line, "".join(lines) + waiter.stderr.read()
        lines.append(line)
    victim = f"{array_id}_{len(grid.jobs) - 1}"
    deadline = time.monotonic() + 120
    while not any(e.split()[:2] == [victim, "RUNNING"] for e in slurm_cluster.squeue(victim)):
        assert time.monotonic() < deadline, slurm_cluster.squeue()
        time.sleep(0.2)
    time.sleep(1.5)  # mid-run: its Python has started and is importing / evaluating
    victim_job = next(j for j in grid.jobs if state["jobs"][j.key]["attempts"][0]["job_id"] == victim)
    assert not job_results(victim_job)
    subprocess.run(["scancel", victim], check=True)
    out, err = waiter.communicate(timeout=300)
    out = "".join(lines) + out
    assert waiter.returncode == 1, out + err
    assert "submitted" not in out  # nothing submitted twice
    assert f"{victim_job.name} was cancelled ({victim}); not retried" in out
    assert main(["grid", "status", str(plan)]) == 0
    status = capsys.readouterr().out
    assert f"{len(grid.jobs) - 1} done" in status and "1 failed" in status and "CANCELLED" in status, status

    # Run again: only the cancelled job is submitted; the final results equal the uninterrupted run's.
    before = {j.key: job_results(j) for j in grid.jobs}
    assert main(["grid", "run", str(plan), "--poll-seconds", "0.5"]) == 0
    again = capsys.readouterr().out
    assert f"{len(grid.jobs) - 1} of {len(grid.jobs)} jobs already done" in again
    assert "submitted 1 job(s) (slurm " in again
    attempts = {k: len(v["attempts"]) for k, v in json.loads((tmp_path / "out" / "grid.json").read_text())["jobs"].items()}
    assert sorted(attempts.values()) == [1] * (len(grid.jobs) - 1) + [2]
    assert all(job_results(j) == before[j.key] for j in grid.jobs if before[j.key])  # the done ones untouched
    assert _metrics(grid) == _metrics(reference)
    assert wait_until_gone(slurm_cluster, [array_id], timeout=30) == []
    print(f"slurm grid test: {time.monotonic() - started:.1f} s")


def test_slurm_settings_are_checked_or_refusals_named(slurm_cluster, grid_recipes, tmp_path, cli_error):  # noqa: F811
    base = {"executor": "slurm", "gpus_per_job": 0, "time": "00:05:00"}
    plan = write_plan(tmp_path, grid_recipes, resources={**base, "partition": "nope"})
    cli_error(["grid", "run", str(plan)], f"resources.partition 'nope' does not exist on this cluster; choose one of "
              f"{slurm_cluster.partition}", outputs=[tmp_path / "out"])
    plan = write_plan(tmp_path, grid_recipes, resources={k: v for k, v in base.items() if k != "time"})
    cli_error(["grid", "run", str(plan)], "resources.time is required with the Slurm executor", outputs=[tmp_path / "out"])
    # what only sbatch knows (a feature no node has) comes back as one line with sbatch's reason
    plan = write_plan(tmp_path, grid_recipes, resources={**base, "slurm_options": {"constraint": "no-such-feature"}})
    err = cli_error(["grid", "run", str(plan)], "sbatch refused the job array", "fix the resources in the plan")
    assert "feature" in err.lower(), err
    assert not slurm_cluster.squeue()
