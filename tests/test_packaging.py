"""`pip install .` ships one import namespace, the task YAMLs, the demo mirror and the start-up hook."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_wheel_exposes_only_lm_eval_iberian(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = tmp_path.glob("lm_eval_iberian-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    dist_info = {t for t in top if t.endswith(".dist-info")}
    assert top - dist_info == {"lm_eval_iberian", "lm_eval_iberian-autoload.pth"}, top
    # Top-level folders mapped into the namespace.
    assert "lm_eval_iberian/tasks/__init__.py" in names
    assert "lm_eval_iberian/tasks/groups/iberian_eu.yaml" in names
    assert "lm_eval_iberian/tasks/flores/_flores_template" in names
    assert "lm_eval_iberian/merge_models/__init__.py" in names and "lm_eval_iberian/cpt/__init__.py" in names
    assert "lm_eval_iberian/merge_models/qwen3_8b/eu_linear_w1.5.yml" in names
    assert "[lm_eval.models]" in zipfile.ZipFile(wheel).read(f"{next(iter(dist_info))}/entry_points.txt").decode()
    yamls = [n for n in names if n.startswith("lm_eval_iberian/tasks/") and n.endswith(".yaml")]
    assert len(yamls) == len(list((ROOT / "tasks").rglob("*.yaml")))
    demo = [n for n in names if n.startswith("lm_eval_iberian/data/demo/")]
    assert "lm_eval_iberian/data/demo/iberian-mirror.json" in demo and len(demo) == 81
    assert {f"lm_eval_iberian/ifeval/data/{n}.yaml" for n in ("errata", "answer_language", "quote_marks")} <= set(names)
    entry_points = zipfile.ZipFile(wheel).read(f"{next(iter(dist_info))}/entry_points.txt").decode()
    assert "lm-eval-iberian = lm_eval_iberian.cli:main" in entry_points
    assert "[lm_eval.tasks]" in entry_points and "iberian = lm_eval_iberian.tasks" in entry_points
    assert not any(n.startswith(("tests/", "scripts/", "bench/")) for n in names)
