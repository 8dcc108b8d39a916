"""The CI's Slurm cluster, seen from the tests (`.ci/slurm-cluster` starts it; `make test` does so around pytest).

``slurm_cluster`` (session fixture) finds the running cluster and returns what tests need: its default partition,
CPUs, whether accounting (sacct) answers, the folder with the daemons' logs. Where no cluster answers the test skips
with the reason, except where ``IBERIAN_REQUIRE_SLURM=1`` (`.ci/run`): CI must have it, so there it fails.

Use it with ``from tests._slurm import slurm_cluster  # noqa: F401`` (a fixture import) in a test module.
"""

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["SlurmCluster", "find_cluster", "slurm_cluster", "wait_until_gone"]

REPO = Path(__file__).resolve().parents[1]
START_HINT = f"start one with `bash {REPO / '.ci' / 'slurm-cluster'} start` (make test does)"


@dataclass(frozen=True)
class SlurmCluster:
    partition: str  # the default partition
    cpus: int  # CPUs of its node(s), together
    accounting: bool  # sacct answers (submitit needs it to see cancelled jobs)
    log_dir: Path | None  # the daemons' logs, when the cluster is the CI's

    def squeue(self, *job_ids: str) -> list[str]:
        """Entries ("ID STATE REASON") of these jobs still queued or running (all of this user's if none given).

        One query per id: squeue fails on an id it no longer knows (finished and purged)."""
        queries = [["-j", j] for j in job_ids] if job_ids else [["-u", str(os.getuid())]]
        entries = []
        for query in queries:
            proc = subprocess.run(["squeue", "-h", "-o", "%i %T %r", *query], capture_output=True, text=True)
            entries += proc.stdout.splitlines() if proc.returncode == 0 else []
        return entries


def _ci_dir() -> Path | None:
    folder = Path(os.environ.get("IBERIAN_SLURM_DIR", "/tmp/lm-eval-iberian-slurm"))
    return folder if folder.is_dir() else None


def find_cluster() -> tuple[SlurmCluster | None, str]:
    """The cluster answering on this machine, or None and why not."""
    if shutil.which("sinfo") is None:
        return None, "Slurm's client commands are not installed (`.ci/slurm-cluster install` installs the cluster)"
    proc = subprocess.run(["sinfo", "-h", "-o", "%P|%a|%T|%c|%D"], capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        why = proc.stderr.strip().splitlines()[-1:] or ["sinfo failed"]
        folder = _ci_dir()
        error = folder / "start_error" if folder else None
        if error is not None and error.is_file():
            why.append(f"last start error: {error.read_text().strip()}")
        return None, f"no Slurm controller answers ({'; '.join(why)}); {START_HINT}"
    rows = [line.split("|") for line in proc.stdout.splitlines() if line.count("|") == 4]
    default = next((r for r in rows if r[0].endswith("*")), None)
    if default is None:
        return None, f"the Slurm cluster has no default partition (sinfo: {proc.stdout.strip()})"
    usable = [r for r in rows if r[0] == default[0] and r[1] == "up" and r[2] in ("idle", "mixed", "allocated")]
    if not usable:
        return None, f"no node of partition {default[0].rstrip('*')} is up (sinfo: {proc.stdout.strip()})"
    accounting = subprocess.run(["sacct", "-n", "-X", "-j", "1"], capture_output=True).returncode == 0
    cpus = sum(int(r[3]) * int(r[4]) for r in usable)
    return SlurmCluster(default[0].rstrip("*"), cpus, accounting, _ci_dir()), ""


@pytest.fixture(scope="session")
def slurm_cluster() -> SlurmCluster:
    cluster, why = find_cluster()
    if cluster is None:
        if os.environ.get("IBERIAN_REQUIRE_SLURM") == "1":
            pytest.fail(f"IBERIAN_REQUIRE_SLURM=1 but {why}")
        pytest.skip(why)
    return cluster


def wait_until_gone(cluster: SlurmCluster, job_ids: list[str], timeout: float) -> list[str]:
    """Wait until none of ``job_ids`` is queued or running; returns what is still there after ``timeout``."""
    deadline = time.monotonic() + timeout
    while (left := cluster.squeue(*job_ids)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left
