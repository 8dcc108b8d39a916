"""The CI's Slurm cluster works as the grid and the CPT/corpus cluster paths need: root jobs, 2 jobs at once on 2
CPUs, accounting, and submitit (job arrays, results, a cancelled job reported as such instead of a hang)."""

import math
import subprocess
import sys
import time

import pytest

from tests._slurm import slurm_cluster, wait_until_gone  # noqa: F401  (fixture)


def _sbatch(*args: str) -> str:
    return subprocess.run(["sbatch", "--parsable", *args], capture_output=True, text=True, check=True).stdout.strip()


def test_two_jobs_run_at_once_as_root(slurm_cluster, tmp_path):  # noqa: F811
    if slurm_cluster.cpus < 2:
        pytest.skip(f"the cluster has {slurm_cluster.cpus} CPU: one job at a time")
    # Each job waits (at most 60 s) until the other has started: both finish only if they ran at the same time.
    barrier = "touch {me}; for i in $(seq 600); do [ -e {other} ] && exit 0; sleep 0.1; done; exit 1"
    a, b = tmp_path / "a", tmp_path / "b"
    ids = [
        _sbatch("-c", "1", "-o", str(tmp_path / f"{name}.out"), "--wrap", f"id -u > {me}.uid; " + barrier.format(me=me, other=other))
        for name, me, other in (("a", a, b), ("b", b, a))
    ]
    assert wait_until_gone(slurm_cluster, ids, timeout=90) == []
    states = subprocess.run(["sacct", "-n", "-X", "-P", "-o", "State", "-j", ",".join(ids)], capture_output=True,
                            text=True, check=True).stdout.split()
    assert states == ["COMPLETED", "COMPLETED"], states
    assert (tmp_path / "a.uid").read_text().strip() == "0"  # jobs run as the submitting user, root here


def test_submitit_array_results_and_a_cancelled_job(slurm_cluster, tmp_path):  # noqa: F811
    import submitit
    from submitit.core.utils import UncompletedJobError

    executor = submitit.AutoExecutor(folder=tmp_path / "jobs", cluster="slurm")
    executor.update_parameters(slurm_partition=slurm_cluster.partition, cpus_per_task=1, timeout_min=5)
    assert sys.executable.startswith(sys.prefix)  # jobs run this interpreter: the venv, activated or not
    sleeper = executor.submit(time.sleep, 300)
    jobs = executor.map_array(math.factorial, [3, 4, 5])
    assert [job.result() for job in jobs] == [6, 24, 120]
    while sleeper.state in ("UNKNOWN", "PENDING"):
        time.sleep(0.2)
    subprocess.run(["scancel", sleeper.job_id], check=True)
    started = time.monotonic()
    with pytest.raises(UncompletedJobError, match="CANCELLED"):
        sleeper.result()  # submitit reads the state from sacct, then waits 15 s for a result file
    assert time.monotonic() - started < 60
    assert wait_until_gone(slurm_cluster, [sleeper.job_id, jobs[0].job_id.split("_")[0]], timeout=30) == []
