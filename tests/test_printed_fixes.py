"""Every command the tool prints as a fix runs as printed: parsed by the real parser, and run where it can be."""

import shlex
import shutil
from pathlib import Path

import pytest

from lm_eval_iberian.cli import build_parser, main
from lm_eval_iberian.data import MirrorError, SplitRef, load_task_dataset, verify
from lm_eval_iberian.data._mirror import missing_message, split_file


def printed_commands(text: str) -> list[str]:
    """`lm-eval-iberian ...` commands in a message: on their own line, or between backquotes."""
    found = []
    for line in text.splitlines():
        stripped = line.strip()
        if "lm-eval-iberian " in stripped:
            found += [c for c in stripped.split("`")[1::2] if c.startswith("lm-eval-iberian ")]
            tail = stripped[stripped.index("lm-eval-iberian "):]
            if "`" not in stripped:
                found.append(tail)
    return found


def parse(command: str):
    argv = shlex.split(command)
    assert argv[0] == "lm-eval-iberian", command
    return build_parser().parse_args(argv[1:])


@pytest.fixture
def broken_mirror(tmp_path, demo_mirror) -> Path:
    mirror = tmp_path / "a mirror with spaces"  # paths are quoted in printed commands
    shutil.copytree(demo_mirror, mirror)
    shutil.rmtree(mirror / "nbel")
    (mirror / "HiTZ" / "EusTrivia" / "default" / "test.jsonl").write_text('{"question": "changed"}\n')
    return mirror


def test_verify_prints_pull_and_add_commands_that_parse_and_repair_the_mirror(broken_mirror, demo_mirror, capsys):
    assert main(["data", "verify", "--dir", str(broken_mirror)]) == 1
    commands = printed_commands(capsys.readouterr().out)
    pulls = [c for c in commands if " data pull " in c]
    adds = [c for c in commands if " data add " in c]
    assert len(pulls) == 1 and len(adds) == 5  # CatCoLA and EsCoLA (2 splits each) missing, EusTrivia corrupt
    args = parse(pulls[0])
    assert Path(args.dest) == broken_mirror and args.datasets == "HiTZ/EusTrivia,nbel/CatCoLA,nbel/EsCoLA"
    for command in adds:  # run each offline fix with the demo's copy of the file
        args = parse(command)
        source = split_file(demo_mirror, SplitRef(args.dataset, args.config, args.split))
        argv = shlex.split(command.replace(" FILE", " " + shlex.quote(str(source))))[1:]
        assert main(argv) == 0
    assert verify(broken_mirror).passed


def test_loader_message_commands_parse(broken_mirror, monkeypatch):
    monkeypatch.setenv("IBERIAN_DATA_DIR", str(broken_mirror))
    with pytest.raises(MirrorError) as err:
        load_task_dataset(iberian_source="nbel/EsCoLA", iberian_configs=["default"], iberian_splits=["validation"])
    commands = printed_commands(str(err.value))
    assert len(commands) == 2
    for command in commands:
        parse(command)
    ref = SplitRef("nbel/EsCoLA", "default", "validation")
    assert printed_commands(missing_message(broken_mirror, ref, split_file(broken_mirror, ref))) == commands
