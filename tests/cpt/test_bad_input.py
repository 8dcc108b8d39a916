"""The trainer's output folder and damaged inputs: refusals name the problem and the fix, lose nothing, and come
before the model, tokenizer or corpora are loaded."""

import hashlib
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.cpt.conftest import make_config

RUN = {"max_steps": 6, "checkpoint_every": 2, "keep_last": 3}


def _tree(*roots: Path) -> dict[str, str]:
    """Every file under the roots with its sha256: the before/after picture of inputs and outputs."""
    out = {}
    for root in roots:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        out.update({str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files})
    return out


@pytest.fixture(scope="module")
def finished(cpt_base, corpora, tmp_path_factory) -> Path:
    """A finished run of 6 steps (checkpoints at steps 2 and 4, final/), copied by the tests that change it."""
    from lm_eval_iberian.cpt import train

    out = tmp_path_factory.mktemp("finished") / "run"
    train(make_config(cpt_base, corpora, out, **RUN))
    return out


@pytest.fixture
def run_copy(finished, tmp_path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    return out


class _Refuse:
    @staticmethod
    def from_pretrained(*args, **kwargs):
        raise AssertionError("the run loaded a model/tokenizer before refusing")


def _refuse_loading(monkeypatch) -> None:
    import transformers

    monkeypatch.setattr(transformers, "AutoModelForCausalLM", _Refuse)
    monkeypatch.setattr(transformers, "AutoTokenizer", _Refuse)


@pytest.fixture
def no_loading(monkeypatch):
    """Fail the test if the trainer gets as far as loading a tokenizer or a model."""
    _refuse_loading(monkeypatch)


def _cfg(cpt_base, corpora, out: Path, **overrides):
    return make_config(cpt_base, corpora, out, **{**RUN, **overrides})


def _config_file(cpt_base, corpora, out: Path, **overrides) -> Path:
    path = out.parent / f"{out.name}-config.yaml"
    path.write_text(yaml.safe_dump(_cfg(cpt_base, corpora, out, **overrides).model_dump(mode="json")))
    return path


def _refused(config, overwrite: bool = False) -> str:
    from lm_eval_iberian.cpt import ConfigError, train

    with pytest.raises(ConfigError) as err:
        train(config, overwrite=overwrite)
    return str(err.value)


def test_model_inside_output_dir_is_never_deleted(run_copy, cpt_base, corpora, no_loading):
    """Continuing from OUT/final into OUT: refused with and without --overwrite; nothing changes."""
    before = _tree(run_copy, *corpora.values())
    config = _cfg(cpt_base, corpora, run_copy, model=str(run_copy / "final"))
    for overwrite in (False, True):
        message = _refused(config, overwrite)
        assert f"model={run_copy.resolve() / 'final'} is {run_copy.resolve() / 'final'}, where the trainer writes its final model" in message
        assert f"choose another output_dir, e.g. output_dir={run_copy.resolve()}-2" in message
    assert _tree(run_copy, *corpora.values()) == before


def test_inputs_inside_checkpoints_or_logs_are_refused(run_copy, cpt_base, corpora, no_loading):
    before = _tree(run_copy)
    message = _refused(_cfg(cpt_base, corpora, run_copy, tokenizer=str(run_copy / "checkpoint-00000002")), True)
    assert "tokenizer=" in message and "a checkpoint folder of the trainer, deleted when newer checkpoints" in message
    cache = run_copy / "tensorboard" / "cache"
    message = _refused(_cfg(cpt_base, corpora, run_copy, data={"sources": [{"name": "a", "path": str(corpora["a"]), "ratio": 1}],
                                                                 "cache_dir": str(cache)}))
    assert f"data.cache_dir={cache.resolve()} lies inside" in message
    assert _tree(run_copy) == before and not cache.exists()


def test_finished_run_relaunched_says_so_and_trains_nothing(run_copy, cpt_base, corpora, capsys, no_loading):
    from lm_eval_iberian.cpt.cli import main

    before = _tree(run_copy)
    assert main(["--config", str(_config_file(cpt_base, corpora, run_copy))]) == 0
    printed = capsys.readouterr().out
    assert f"{run_copy} holds this run, finished: final model {run_copy / 'final'}; nothing to train" in printed
    assert f"final model: {run_copy / 'final'}" in printed
    assert _tree(run_copy) == before  # no step re-run, final/ untouched


def _parse_printed_command(message: str):
    """The command after 'the same command with --overwrite:', parsed by the real parser of its program."""
    from lm_eval_iberian.cpt.cli import add_train_arguments

    from lm_eval_iberian.cli import build_parser

    words = shlex.split(message.split("the same command with --overwrite: ")[1].rstrip(")\n"))
    if words[0] == "lm-eval-iberian":
        return build_parser().parse_args(words[1:])
    assert words[:3] == ["python", "-m", "lm_eval_iberian.cpt"], words
    import argparse

    parser = argparse.ArgumentParser(prog="python -m lm_eval_iberian.cpt")
    add_train_arguments(parser)
    return parser.parse_args(words[3:])


def test_finished_run_with_another_config_needs_overwrite(run_copy, cpt_base, corpora, capsys, monkeypatch):
    from lm_eval_iberian.cpt.cli import main

    from lm_eval_iberian.cli import main as cli_main

    before = _tree(run_copy, *corpora.values())
    config = _config_file(cpt_base, corpora, run_copy)
    # Refused before any loading, from both entry points, with the fix command that parses as printed.
    with monkeypatch.context() as m:
        _refuse_loading(m)
        for entry, argv in ((main, ["--config", str(config), "optim.lr=0.001"]),
                            (cli_main, ["cpt", "train", "--config", str(config), "optim.lr=0.001"])):
            assert entry(argv) == 2
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and err.startswith("lm-eval-iberian cpt: error: output_dir=")
            assert f"holds a finished run (final model {run_copy / 'final'}) with a different config (optim.lr: 0.003 -> 0.001)" in err
            assert "re-run with --overwrite to delete its checkpoints, losses.jsonl, tensorboard/ and final/" in err
            args = _parse_printed_command(err)
            assert (args.config, args.overrides, args.overwrite) == (str(config), ["optim.lr=0.001"], True)
    assert _tree(run_copy, *corpora.values()) == before
    # With --overwrite: the earlier run's files are replaced by a fresh run.
    assert main(["--config", str(config), "optim.lr=0.001", "--overwrite"]) == 0
    marker = json.loads((run_copy / "cpt_run.json").read_text())
    assert marker["status"] == "finished" and marker["config"]["optim.lr"] == 0.001
    losses = [json.loads(x) for x in (run_copy / "losses.jsonl").read_text().splitlines()]
    assert [r["step"] for r in losses] == list(range(1, 7))
    assert _tree(run_copy / "final") != {k: v for k, v in before.items() if "/final/" in k}
    assert _tree(*corpora.values()) == {k: v for k, v in before.items() if "/run/" not in k}


def test_resume_false_over_checkpoints_needs_overwrite(run_copy, cpt_base, corpora, no_loading):
    shutil.rmtree(run_copy / "final")  # an unfinished run: killed after its last checkpoint
    before = _tree(run_copy)
    message = _refused(_cfg(cpt_base, corpora, run_copy, resume=False))
    assert "resume=false asks for a fresh run but output_dir=" in message and "(checkpoint-00000004)" in message
    assert "set resume=true to continue it, or re-run with --overwrite to delete them" in message
    message = _refused(_cfg(cpt_base, corpora, run_copy, optim={"lr": 1e-3}))
    assert "holds checkpoints of an unfinished run started with a different config (optim.lr: 0.003 -> 0.001)" in message
    assert _tree(run_copy) == before


def test_files_the_trainer_did_not_write_are_never_deleted(tmp_path, cpt_base, corpora, tiny_llama, no_loading):
    out = tmp_path / "out"
    shutil.copytree(tiny_llama, out / "final")  # someone's model, where the trainer would write final/
    (out / "losses.jsonl").write_text("not ours\n")
    before = _tree(out)
    for overwrite in (False, True):
        message = _refused(_cfg(cpt_base, corpora, out), overwrite)
        assert f"output_dir={out} holds final/, losses.jsonl, which this trainer did not write (there is no cpt_run.json)" in message
        assert "never deletes files it did not write, with or without --overwrite" in message
    assert _tree(out) == before


def test_other_files_in_output_dir_are_kept(tmp_path, cpt_base, corpora):
    from lm_eval_iberian.cpt import train

    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    train(_cfg(cpt_base, corpora, out, max_steps=2))
    assert (out / "notes.txt").read_text() == "mine" and (out / "final" / "model.safetensors").is_file()


def test_unwritable_output_dir_fails_before_loading(tmp_path, cpt_base, corpora, no_loading):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for out in (blocker / "out", blocker):
        message = _refused(_cfg(cpt_base, corpora, out))
        assert str(out) in message and ("cannot write to" in message or "is a file, not a folder" in message)
    cache = {"sources": [{"name": "a", "path": str(corpora["a"]), "ratio": 1}], "cache_dir": str(blocker / "cache")}
    assert "cannot write to" in _refused(_cfg(cpt_base, corpora, tmp_path / "out", data=cache))
    assert not (tmp_path / "out").exists()  # nothing left behind by a refused run


def _unfinished(run: Path) -> Path:
    shutil.rmtree(run / "final")
    return run / "checkpoint-00000004"


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


DAMAGE = {
    "truncated safetensors": (lambda c: _truncate(c / "model.safetensors"), "model.safetensors is truncated: "),
    "state not JSON": (lambda c: (c / "trainer_state.json").write_text("{step: 4"), "trainer_state.json is not valid JSON"),
    "state without step": (lambda c: (c / "trainer_state.json").write_text("{}"), "trainer_state.json is without a positive integer 'step'"),
    "missing RNG file": (lambda c: (c / "random_states_0.pkl").unlink(), "random_states_0.pkl is missing"),
    "overwritten optimizer": (lambda c: (c / "optimizer.bin").write_bytes(b"\0" * (c / "optimizer.bin").stat().st_size),
                              "optimizer.bin is not a complete torch.save archive"),
    # A checkpoint without the file list (as an older trainer wrote it): the formats themselves are checked.
    "truncated, no file list": (lambda c: ((c / "trainer_state.json").write_text('{"step": 4}'), _truncate(c / "model.safetensors")),
                                "model.safetensors is truncated ("),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_checkpoint_names_the_file_and_the_fix(run_copy, cpt_base, corpora, damage, no_loading):
    checkpoint = _unfinished(run_copy)
    DAMAGE[damage][0](checkpoint)
    before = _tree(run_copy, *corpora.values())
    message = _refused(_cfg(cpt_base, corpora, run_copy))
    assert message.startswith(f"checkpoint {checkpoint} is damaged: ") and DAMAGE[damage][1] in message, message
    assert message.endswith(f"delete {checkpoint} to resume from the previous checkpoint checkpoint-00000002")
    assert _tree(run_copy, *corpora.values()) == before


def test_deleting_the_damaged_checkpoint_resumes_from_the_previous_one(run_copy, finished, cpt_base, corpora):
    from lm_eval_iberian.cpt import train

    checkpoint = _unfinished(run_copy)
    _truncate(checkpoint / "model.safetensors")
    shutil.rmtree(checkpoint)  # what the error says to do
    train(_cfg(cpt_base, corpora, run_copy))
    read = lambda out: [json.loads(x)["loss"] for x in (out / "losses.jsonl").read_text().splitlines()]  # noqa: E731
    assert read(run_copy) == read(finished)  # resumed at step 2: the same losses, every step


def test_run_killed_before_its_first_checkpoint_starts_again(run_copy, cpt_base, corpora):
    """Only logs of the trainer's own are left: a fresh start needs no --overwrite and replaces them."""
    from lm_eval_iberian.cpt import train

    for path in [*run_copy.glob("checkpoint-*"), run_copy / "final"]:
        shutil.rmtree(path)
    marker = json.loads((run_copy / "cpt_run.json").read_text())
    (run_copy / "cpt_run.json").write_text(json.dumps({**marker, "status": "running"}))
    lines = (run_copy / "losses.jsonl").read_text().splitlines()
    (run_copy / "losses.jsonl").write_text("\n".join(lines[:1]) + "\n" + lines[1][:20])  # killed mid-line
    train(_cfg(cpt_base, corpora, run_copy))
    assert [json.loads(x)["step"] for x in (run_copy / "losses.jsonl").read_text().splitlines()] == list(range(1, 7))


def test_partial_last_log_line_is_dropped_on_resume(tmp_path):
    from lm_eval_iberian.cpt.config import ConfigError
    from lm_eval_iberian.cpt.rundir import read_losses

    log = tmp_path / "losses.jsonl"
    log.write_text('{"step": 1}\n{"step": 2}\n{"step": 3}\n{"st')
    assert read_losses(tmp_path, 2) == ['{"step": 1}', '{"step": 2}']
    log.write_text('{"step": 1}\ngarbage\n{"step": 3}\n')
    with pytest.raises(ConfigError, match=r"losses.jsonl:2 is not a log record \('garbage'\); fix or delete that line"):
        read_losses(tmp_path, 3)


def test_damaged_run_file_is_refused(run_copy, cpt_base, corpora, no_loading):
    (run_copy / "cpt_run.json").write_text("{")
    message = _refused(_cfg(cpt_base, corpora, run_copy))
    assert f"{run_copy / 'cpt_run.json'} is damaged" in message and "Choose another output_dir" in message


def test_cli_error_is_one_line_without_traceback(run_copy, cpt_base, corpora, subprocess_env):
    config = _config_file(cpt_base, corpora, run_copy)
    cli = Path(sys.executable).with_name("lm-eval-iberian")
    res = subprocess.run([str(cli), "cpt", "train", "--config", str(config), "seed=1"], env=subprocess_env(),
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.startswith("lm-eval-iberian cpt: error: output_dir=") and res.stderr.count("\n") == 1
    assert "with a different config (seed: 0 -> 1)" in res.stderr
    args = _parse_printed_command(res.stderr)
    assert args.overrides == ["seed=1"] and args.overwrite
