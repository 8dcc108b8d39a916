"""`lm-eval-iberian` console script: tasks table and data commands."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lm_eval_iberian.cli import main
from lm_eval_iberian.data import leaf_tasks

CLI = str(Path(sys.executable).with_name("lm-eval-iberian"))


def test_tasks_prints_include_path_and_every_task(capsys):
    from lm_eval_iberian import tasks_path

    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"include path: {tasks_path()}"
    for name in leaf_tasks():
        assert name in out
    assert "iberian_flores_to_eu" in out and "iberian_all" in out


def test_readme_task_table_is_current(capsys):
    """The README embeds `lm-eval-iberian tasks --markdown`; regenerate it when tasks change."""
    main(["tasks", "--markdown"])
    table = capsys.readouterr().out.split("\n", 3)[3].strip()
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert table in readme, "README task table is stale: paste `lm-eval-iberian tasks --markdown` into it"


def test_console_script_data_verify_and_errors(tmp_path, demo_mirror, subprocess_env):
    ok = subprocess.run([CLI, "data", "verify", "--dir", demo_mirror], capture_output=True, text=True, env=subprocess_env())
    assert ok.returncode == 0, ok.stderr
    assert "75 ok, 0 missing, 0 corrupt" in ok.stdout
    mirror = tmp_path / "m"
    shutil.copytree(demo_mirror, mirror)
    shutil.rmtree(mirror / "nbel")
    bad = subprocess.run([CLI, "data", "verify", "--dir", str(mirror)], capture_output=True, text=True, env=subprocess_env())
    assert bad.returncode == 1
    assert "MISSING  nbel/CatCoLA [default] train" in bad.stdout
    assert f"lm-eval-iberian data pull --dest {mirror} --datasets nbel/CatCoLA,nbel/EsCoLA" in bad.stdout


def test_data_add_via_cli(tmp_path, demo_mirror, capsys):
    src = Path(demo_mirror) / "nbel" / "EsCoLA" / "default" / "validation.jsonl"
    assert main(["data", "add", "--dir", str(tmp_path), "--dataset", "nbel/EsCoLA", "--split", "validation", str(src)]) == 0
    assert "added nbel/EsCoLA [default] validation" in capsys.readouterr().out
    assert main(["data", "verify", "--dir", str(tmp_path), "--tasks", "iberian_escola"]) == 1  # train still missing
    assert main(["data", "add", "--dir", str(tmp_path), "--dataset", "nbel/EsCoLA", "--split", "tests", str(src)]) == 2
    err = capsys.readouterr().err
    assert "no iberian_* task reads nbel/EsCoLA [default] tests" in err and "--split validation" in err


def test_unknown_task_is_a_clear_cli_error(capsys, tmp_path):
    assert main(["data", "verify", "--dir", str(tmp_path), "--tasks", "iberian_xx"]) == 2
    assert "unknown task or group 'iberian_xx'" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.slow
def test_demo_command_runs_the_whole_pipeline(tmp_path, subprocess_env):
    """`make demo`: CPT-trained tiny base/instruct/experts, merges and a sweep, evaluation, tables, plot (offline)."""
    from lm_eval_iberian.demo import EXPERT_LANGS

    proc = subprocess.run(
        [CLI, "demo", "--out", str(tmp_path), "--limit", "2"], capture_output=True, text=True, env=subprocess_env(), timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    for title in ("Benchmark average", "Flores BLEU", "IFEval", "Merge methods", "Held-out perplexity"):
        assert title in proc.stdout
    assert (tmp_path / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    summary = json.loads((tmp_path / "summary.json").read_text())
    for lang in EXPERT_LANGS:
        assert f"{lang}-expert" in summary["runs"] and sum(name.startswith(f"{lang}-linear") for name in summary["runs"]) == 3
        transfer = summary["transfer"][lang]
        assert transfer["instruct_bits_per_byte"] > 0 and len(transfer["bits_per_byte"]) == 5
    point = tmp_path / "results" / "eu-linear" / "point-weight_eu-expert=2" / "results.json"
    assert json.loads(point.read_text())["config"]["iberian_merge"]["recipe"]["models"][0]["parameters"]["weight"] == 2.0
    assert (tmp_path / "models" / "eu-expert" / "model.safetensors").is_file()


def test_readme_errata_tables_are_current(capsys):
    main(["ifeval", "errata"])
    tables = capsys.readouterr().out.strip()
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert tables in readme, "README IFEval errata tables are stale: paste `lm-eval-iberian ifeval errata` into it"


def test_ifeval_score_command(tmp_path, capsys):
    rows = [
        {"key": 1, "prompt": "Ez erabili komarik.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}], "response": "Ados eta kitto."},
        {"key": 2, "prompt": "Izenburua jarri.", "instruction_id_list": ["detectable_format:title"], "kwargs": [{}], "response": "Ez dago."},
    ]
    src = tmp_path / "gen.jsonl"
    src.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
    assert main(["ifeval", "score", "--lang", "eu", "--input", str(src), "--output", str(tmp_path / "s.json")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["prompt_level_strict_acc"], summary["n_prompts"], summary["lang"]) == (0.5, 2, "eu")
    assert json.loads((tmp_path / "s.json").read_text())["responses"][1]["verdicts"][0]["strict"] is False
    src.write_text(json.dumps({k: v for k, v in rows[0].items() if k != "response"}))
    assert main(["ifeval", "score", "--lang", "eu", "--input", str(src)]) == 2
    assert "no string field 'response'" in capsys.readouterr().err
