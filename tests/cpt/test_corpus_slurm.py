"""`corpus filter --executor slurm` on the CI's Slurm cluster, called as a user would: the CLI by its full path,
no venv activated, no partition named (the cluster's default). Its result equals the local run's; a failing task
is reported as failed, and nothing of the run is left queued."""

import gzip
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests._slurm import slurm_cluster, wait_until_gone  # noqa: F401  (fixture)

CLI = Path(sys.executable).with_name("lm-eval-iberian")


def _env() -> dict[str, str]:
    """A login shell's environment: the venv not activated (its bin folder not on PATH)."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "/usr/bin:/bin").split(os.pathsep) if p != venv_bin)
    return env


def _run(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([str(CLI), "corpus", "filter", *args], capture_output=True, text=True, env=_env(),
                          timeout=timeout)


@pytest.fixture(scope="module")
def demo_input(tmp_path_factory) -> Path:
    """The demo corpora (Galician and Spanish text of the demo mirror) as documents of 12 lines, in 3 files, with a
    malformed line: enough for every rule to keep or drop something."""
    from lm_eval_iberian.demo import demo_corpora

    corpora = demo_corpora()
    docs = [{"text": "\n".join(texts[i: i + 12]), "url": f"https://example.{'gal' if lang == 'gl' else 'com'}/{i}"}
            for lang in ("gl", "es") for texts in [corpora[lang]] for i in range(0, len(texts), 12)]
    src = tmp_path_factory.mktemp("demo-input")
    for part in range(3):
        lines = [json.dumps(d, ensure_ascii=False) for d in docs[part::3]]
        (src / f"part-{part}.jsonl").write_text("\n".join(lines + (["{not json"] if part == 1 else [])) + "\n")
    return src


def _documents(folder: Path) -> list[tuple[str, str]]:
    return sorted((d["id"], d["text"]) for f in folder.rglob("*.jsonl.gz")
                  for d in map(json.loads, gzip.open(f, "rt", encoding="utf-8")))


def test_slurm_run_equals_the_local_run(slurm_cluster, demo_input, tmp_path):  # noqa: F811
    common = ["--input", str(demo_input), "--lang", "gl", "--tasks", "3"]
    local = _run(*common, "--output", str(tmp_path / "local"))
    assert local.returncode == 0, local.stderr[-2000:]

    # Submitted without --wait: the jobs, the log folders and the command that waits; never a report.
    out = tmp_path / "slurm"
    submitted = _run(*common, "--output", str(out), "--executor", "slurm", "--poll-seconds", "0.5")
    assert submitted.returncode == 0, submitted.stderr[-2000:]
    status = json.loads(submitted.stdout)
    assert status["status"] == "submitted" and "read" not in status
    assert status["jobs"]["partition"] == slurm_cluster.partition and status["logs"] == str(out / "logs")
    assert f"as job(s) {status['jobs']['filter'][0]} on partition {slurm_cluster.partition}" in submitted.stderr
    then = shlex.split(status["then"])  # runs as printed: the CLI by the path it was called with
    assert then[0] == str(CLI) and then[-2:] == ["--resume", "--wait"]
    waited = subprocess.run(then, capture_output=True, text=True, env=_env(), timeout=240)
    assert waited.returncode == 0, waited.stderr[-3000:]

    report = json.loads(waited.stdout)
    assert report == json.loads((tmp_path / "local" / "report.json").read_text())
    assert report == json.loads((out / "report.json").read_text())
    assert report["read"] > 30 and report["kept"] > 0 and report["malformed_lines"] == 1 and report["dropped"]
    for sub in ("kept", "removed/c4", "removed/gopher_repetition", "removed/gopher_quality"):
        assert _documents(out / sub) == _documents(tmp_path / "local" / sub), sub
    assert _documents(out / "kept")
    jobs = [*status["jobs"]["filter"], status["jobs"]["merge_stats"]]
    assert wait_until_gone(slurm_cluster, jobs, timeout=30) == []


def test_a_failing_task_is_reported_and_nothing_is_left_queued(slurm_cluster, demo_input, tmp_path):  # noqa: F811
    src = tmp_path / "in"
    src.mkdir()
    (src / "good.jsonl").write_bytes((demo_input / "part-0.jsonl").read_bytes())
    (src / "bad.jsonl.gz").write_bytes(b"not gzip at all" * 10)
    out = tmp_path / "out"
    res = _run("--input", str(src), "--output", str(out), "--lang", "gl", "--tasks", "2", "--executor", "slurm",
               "--wait", "--poll-seconds", "0.5", timeout=180)
    assert res.returncode == 2, res.stderr[-2000:]
    error = res.stderr.strip().splitlines()[-1]
    assert error.startswith("lm-eval-iberian: error: 1 of 2 Slurm tasks failed: task ")
    assert "BadGzipFile" in error and "--resume --wait" in error and str(out / "logs") in error
    assert not (out / "report.json").exists()
    marker = json.loads((out / "corpus_filter.json").read_text())
    jobs = [*marker["jobs"]["filter"], marker["jobs"]["merge_stats"]]
    assert wait_until_gone(slurm_cluster, jobs, timeout=30) == []  # the merge job that could never run: cancelled


def test_unknown_partition_lists_the_cluster_s(slurm_cluster, demo_input, tmp_path):  # noqa: F811
    res = _run("--input", str(demo_input), "--output", str(tmp_path / "out"), "--lang", "gl", "--executor", "slurm",
               "--slurm-partition", "cpu")
    assert res.returncode == 2
    assert f"--slurm-partition 'cpu' does not exist on this cluster; choose one of {slurm_cluster.partition}" in res.stderr
    assert not (tmp_path / "out").exists()
