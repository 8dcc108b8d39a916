"""`corpus filter` as a command: bad input gives one error before any work, the output folder is marked as ours,
re-runs say what they do (refuse / --resume / --overwrite), --overwrite removes only what a run created, and the
Slurm options are checked and rendered without a cluster (a fake `sinfo` stands in for one where needed)."""

import hashlib
import json
import shlex
import stat

import pytest
from lm_eval_iberian.cpt.corpus import MARKER, CorpusError, filter_corpus, make_executor

from lm_eval_iberian.cli import build_parser, main
from tests.cpt.texts import CLEAN


def _hashes(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def corpus(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.jsonl").write_text(json.dumps({"text": CLEAN["gl"]}, ensure_ascii=False) + "\n")
    return src


def _filter(src, out, *extra):
    return main(["corpus", "filter", "--input", str(src), "--output", str(out), "--lang", "gl", *extra])


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lm-eval-iberian: error: "), err  # one line, no traceback
    return err[0]


@pytest.mark.parametrize(("setup", "expected"), [
    (lambda src: src / "missing", "does not exist; give the folder holding the JSON-lines files"),
    (lambda src: src / "a.jsonl", "is a file; give its folder and select it by name: --input"),
    (lambda src: (src / "empty").mkdir() or src / "empty", "has no files; nothing to filter"),
])
def test_bad_input_is_one_error_naming_the_fix(corpus, tmp_path, capsys, setup, expected):
    assert _filter(setup(corpus), tmp_path / "out") == 2
    assert expected in _error(capsys)
    assert not (tmp_path / "out").exists()  # refused before any work


def test_input_given_as_a_file_prints_a_command_that_works(corpus, tmp_path, capsys):
    assert _filter(corpus / "a.jsonl", tmp_path / "out") == 2
    fix = shlex.split(_error(capsys).split("select it by name: ")[1])
    assert fix == ["--input", str(corpus), "--glob", "a.jsonl"]
    assert main(["corpus", "filter", *fix, "--output", str(tmp_path / "out"), "--lang", "gl"]) == 0
    assert json.loads(capsys.readouterr().out)["read"] == 1


def test_tasks_zero_glob_without_match_workers_on_slurm(corpus, tmp_path, capsys):
    assert _filter(corpus, tmp_path / "out", "--tasks", "0") == 2
    assert "--tasks must be at least 1 (got 0)" in _error(capsys)
    assert _filter(corpus, tmp_path / "out", "--glob", "*.parquet") == 2
    assert "has no files matching --glob '*.parquet'" in _error(capsys)
    assert _filter(corpus, tmp_path / "out", "--executor", "slurm", "--workers", "4") == 2
    assert "on Slurm use --slurm-max-parallel" in _error(capsys)
    assert _filter(corpus, tmp_path / "out", "--executor", "slurm", "--slurm-cpus-per-task", "0") == 2
    assert "--slurm-cpus-per-task 0: Input should be greater than or equal to 1" in _error(capsys)
    assert _filter(corpus, tmp_path / "out", "--slurm-time", "1:00:00") == 2
    assert "--slurm-* options need --executor slurm" in _error(capsys)
    assert not (tmp_path / "out").exists()


def test_output_overlapping_the_input_is_refused(corpus, tmp_path, capsys):
    assert _filter(corpus, corpus / "filtered") == 2
    assert "is inside --input" in _error(capsys)
    assert _filter(corpus, corpus.parent) == 2
    assert "is inside --output" in _error(capsys)


def test_a_folder_that_is_not_ours_is_never_written(corpus, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    for flags in ([], ["--overwrite"], ["--resume"]):
        assert _filter(corpus, out, *flags) == 2
        assert f"holds no earlier `corpus filter` run ({MARKER})" in _error(capsys)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_rerun_refuses_then_resumes_or_overwrites_only_what_it_made(corpus, tmp_path, capsys):
    out = tmp_path / "out"
    assert _filter(corpus, out) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["read"] == 1 and json.loads((out / MARKER).read_text())["tool"] == "lm-eval-iberian corpus filter"
    before = _hashes(corpus)

    # The same run again: refused, saying what it holds and the two ways on.
    assert _filter(corpus, out) == 2
    assert "already holds this run, complete (report.json); add --resume" in _error(capsys)
    assert _filter(corpus, out, "--resume") == 0
    assert json.loads(capsys.readouterr().out) == first

    # New input into the same folder: a resume would skip the new documents, so it is refused.
    (corpus / "b.jsonl").write_text(json.dumps({"text": CLEAN["gl"].replace("\n", " Engadido.\n", 1)}) + "\n")
    for flags in ([], ["--resume"]):
        assert _filter(corpus, out, *flags) == 2
        assert "holds a run with other settings or input (changed: input files)" in _error(capsys)
    (out / "notes.txt").write_text("the user's")
    assert _filter(corpus, out, "--overwrite") == 0
    assert json.loads(capsys.readouterr().out)["read"] == 2  # the new document is read
    assert (out / "notes.txt").read_text() == "the user's"  # only the run's own files were replaced
    assert _hashes(corpus) == {**before, "b.jsonl": _hashes(corpus)["b.jsonl"]}  # the input untouched


def test_resume_of_an_interrupted_local_run_counts_every_task(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i, lang in enumerate(["gl", "es", "ca"]):
        (src / f"{i}.jsonl").write_text(json.dumps({"text": CLEAN[lang]}, ensure_ascii=False) + "\n")
    straight = filter_corpus(str(src), str(tmp_path / "straight"), "gl", tasks=3)
    out = tmp_path / "out"
    filter_corpus(str(src), str(out), "gl", tasks=3)
    (out / "logs" / "completions" / "00001").unlink()  # as if task 1 had been killed
    (out / "logs" / "stats" / "00001.json").unlink()
    with pytest.raises(CorpusError, match=r"\(2 of 3 tasks done\); add --resume"):
        filter_corpus(str(src), str(out), "gl", tasks=3)
    resumed = filter_corpus(str(src), str(out), "gl", tasks=3, mode="resume")
    assert resumed == straight  # datatrove's own stats.json would hold task 1 only
    assert resumed["read"] == 3


def _fake_sinfo(tmp_path, monkeypatch, partitions: str):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    sinfo = bin_dir / "sinfo"
    sinfo.write_text(f"#!/bin/sh\nprintf '{partitions}'\n")
    sinfo.chmod(sinfo.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")


def test_partition_is_checked_against_the_cluster(corpus, tmp_path, monkeypatch, capsys):
    _fake_sinfo(tmp_path, monkeypatch, "gpu|up\\ncpu-long|up\\n")
    assert _filter(corpus, tmp_path / "out", "--executor", "slurm") == 2
    assert "this cluster has no default partition: pass --slurm-partition (one of cpu-long, gpu)" in _error(capsys)
    assert _filter(corpus, tmp_path / "out", "--executor", "slurm", "--slurm-partition", "cpu") == 2
    assert "--slurm-partition 'cpu' does not exist on this cluster; choose one of cpu-long, gpu" in _error(capsys)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert _filter(corpus, tmp_path / "out", "--executor", "slurm") == 2
    assert "needs Slurm's client commands (sinfo is not on PATH)" in _error(capsys)
    assert not (tmp_path / "out").exists()


def test_sbatch_script_asks_only_for_what_was_given(tmp_path):
    import sys
    from pathlib import Path

    from lm_eval_iberian.cpt.corpus import build_pipeline

    pipeline = build_pipeline(str(tmp_path), str(tmp_path / "out"), "gl")
    bare = make_executor("slurm", pipeline, str(tmp_path / "logs"), tasks=512, slurm={"partition": "ci"})
    script = bare.get_launch_file_contents(bare.get_sbatch_args(512), "run")
    assert "--partition=ci" in script and "--array=0-511\n" in script
    for absent in ("--time", "--mem-per-cpu", "--qos", "--account"):
        assert absent not in script
    # Jobs get this interpreter's bin folder (where datatrove's launch_pickled_pipeline is), activated or not.
    assert f"export PATH={Path(sys.executable).parent}:" in script
    full = make_executor("slurm", pipeline, str(tmp_path / "logs"), tasks=512, slurm={
        "partition": "cpu", "time": "04:00:00", "mem_per_cpu_gb": 4, "cpus_per_task": 2, "qos": "high",
        "account": "hitz", "max_parallel": 64, "sbatch_args": {"constraint": "intel"}})
    script = full.get_launch_file_contents(full.get_sbatch_args(512), "run")
    for present in ("--time=04:00:00", "--mem-per-cpu=4G", "--cpus-per-task=2", "--qos=high", "--account=hitz",
                    "--array=0-511%64", "--constraint=intel"):
        assert present in script


def test_the_printed_follow_up_command_parses_to_the_same_run(tmp_path):
    from lm_eval_iberian.cli import _corpus_filter_argv

    argv = ["corpus", "filter", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "o u t"), "--lang", "eu",
            "--tlds", "es,eus", "--text-key", "content", "--glob", "*.jsonl.gz", "--executor", "slurm", "--tasks", "8",
            "--slurm-partition", "cpu", "--slurm-time", "1:00:00", "--slurm-cpus-per-task", "2",
            "--slurm-mem-per-cpu-gb", "3", "--slurm-qos", "q", "--slurm-account", "a", "--slurm-max-parallel", "4",
            "--slurm-env-command", "source /v/bin/activate", "--slurm-sbatch-arg", "constraint=intel",
            "--poll-seconds", "1"]
    parser = build_parser()
    args = parser.parse_args(argv)
    again = parser.parse_args(shlex.split(shlex.join([*_corpus_filter_argv(args), "--resume", "--wait"])))
    assert (again.resume, again.wait) == (True, True)
    assert {**vars(again), "resume": False, "wait": False} == vars(args)
