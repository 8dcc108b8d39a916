"""The start-up hook: stock lm_eval sees plugin tasks and models; other programs pay nothing."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PY = sys.executable


def _run(code: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, timeout=600)


def _imported_modules(env: dict[str, str]) -> list[str]:
    proc = subprocess.run([PY, "-X", "importtime", "-c", "pass"], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")]


def test_hook_imports_only_its_own_tiny_modules_at_startup(subprocess_env, tmp_path):
    with_hook = _imported_modules(subprocess_env())
    without = _imported_modules(subprocess_env(LM_EVAL_IBERIAN_AUTOLOAD="0"))
    added = [m for m in with_hook if m not in without]
    # The .pth line imports nothing at all: not even lm_eval_iberian.
    assert added == [], added
    assert not any(m.startswith(("lm_eval.", "torch", "transformers")) or m == "lm_eval" for m in with_hook)


def test_hook_is_installed_and_idle_until_lm_eval_is_imported(subprocess_env):
    code = textwrap.dedent(
        """
        import sys
        assert getattr(sys.meta_path[0], "_lm_eval_iberian_hook", False), sys.meta_path
        import json, csv  # unrelated imports go through untouched
        assert "lm_eval" not in sys.modules and "lm_eval_iberian._startup" not in sys.modules
        print("idle")
        """
    )
    proc = _run(code, subprocess_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "idle"


def test_task_manager_indexes_plugin_tasks_without_include_path(subprocess_env):
    code = textwrap.dedent(
        """
        from lm_eval.tasks import TaskManager
        import lm_eval_iberian
        tm = TaskManager()
        names = set(tm.all_tasks)
        assert {"iberian_eu", "iberian_mt", "iberian_flores_es-eu", "iberian_eus_trivia"} <= names
        assert "eus_trivia" in names  # built-ins are still there
        assert tm.include_path is None  # the user's argument is reported unchanged
        # A user include_path is kept, and ours is not added twice.
        tm2 = TaskManager(include_path=lm_eval_iberian.tasks_path())
        assert "iberian_eu" in tm2.all_tasks
        print("ok")
        """
    )
    proc = _run(code, subprocess_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("ok")


def test_hook_can_be_switched_off(subprocess_env):
    code = "from lm_eval.tasks import TaskManager; print('iberian_eu' in TaskManager().all_tasks)"
    proc = _run(code, subprocess_env(LM_EVAL_IBERIAN_AUTOLOAD="0"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("False")


@pytest.fixture
def plugin_model_dist(tmp_path) -> Path:
    """A throw-away installed distribution declaring an `lm_eval.models` entry point."""
    (tmp_path / "iberian_probe_plugin.py").write_text(
        textwrap.dedent(
            """
            from lm_eval.models.huggingface import HFLM

            class ProbeLM(HFLM):
                '''HFLM under another name: proves the entry point resolved to this class.'''
            """
        )
    )
    dist = tmp_path / "iberian_probe_plugin-0.0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: iberian-probe-plugin\nVersion: 0.0.1\n")
    (dist / "entry_points.txt").write_text("[lm_eval.models]\niberian-probe = iberian_probe_plugin:ProbeLM\n")
    return tmp_path


def test_plugin_models_resolve_by_name_and_builtins_survive(subprocess_env, plugin_model_dist):
    code = textwrap.dedent(
        """
        import sys
        from lm_eval.api.registry import get_model
        probe = get_model("iberian-probe")
        assert probe.__name__ == "ProbeLM" and probe.__module__ == "iberian_probe_plugin", probe
        assert get_model("hf").__name__ == "HFLM"
        from lm_eval.api.registry import model_registry
        assert "vllm" in model_registry.keys()
        print("ok")
        """
    )
    env = subprocess_env()
    env["PYTHONPATH"] = f"{plugin_model_dist}:{env['PYTHONPATH']}"
    proc = _run(code, env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("ok")


@pytest.mark.slow
def test_stock_lm_eval_cli_runs_plugin_task_with_plugin_model(subprocess_env, plugin_model_dist, tiny_llama, tmp_path):
    """The real `lm_eval` CLI, no --include_path: plugin group + plugin model by name."""
    env = subprocess_env()
    env["PYTHONPATH"] = f"{plugin_model_dist}:{env['PYTHONPATH']}"
    out = tmp_path / "results"
    lm_eval = Path(PY).with_name("lm_eval")
    proc = subprocess.run(
        [
            str(lm_eval),
            "--model", "iberian-probe",
            "--model_args", f"pretrained={tiny_llama},max_length=2048",
            "--tasks", "iberian_ca",
            "--limit", "2",
            "--batch_size", "8",
            "--output_path", str(out),
            "--log_samples",
        ],
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    results = list(out.rglob("results_*.json"))
    assert len(results) == 1, list(out.rglob("*"))
    import json

    data = json.loads(results[0].read_text())
    assert set(data["group_subtasks"]["iberian_ca"]) == {
        "iberian_belebele_cat_Latn", "iberian_catcola", "iberian_openbookqa_ca", "iberian_xstorycloze_ca",
    }  # fmt: skip
    assert 0.0 <= data["results"]["iberian_ca"]["acc,none"] <= 1.0
    assert data["config"]["model"] == "iberian-probe"


@pytest.mark.slow
def test_stock_lm_eval_ls_lists_every_plugin_task(subprocess_env):
    from lm_eval_iberian.data import groups, leaf_tasks

    lm_eval = Path(PY).with_name("lm_eval")
    proc = subprocess.run([str(lm_eval), "ls", "tasks"], env=subprocess_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in [*leaf_tasks(), *groups()]:
        assert name in proc.stdout, name
