"""Cost of the lm-eval start-up hook for Python programs that never use lm-eval.

Builds the wheel, installs it (no dependencies: start-up needs none) into a
fresh virtual environment, then runs `python -c pass` there alternately with
the hook (default) and without it (LM_EVAL_IBERIAN_AUTOLOAD=0: the .pth line
then imports nothing of ours). Also sums the `-X importtime` self-times of the
modules the hook imports. Prints a table and, last, one JSON line.

A regular install is measured on purpose: setuptools' editable finder alone
costs ~15 ms per start-up in a `pip install -e .` environment, hook or not.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("BENCH_RUNS", "40"))


def wall(python: str, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([python, "-c", "pass"], env=env, check=True)
    return time.perf_counter() - t0


def hook_import_us(python: str, env: dict[str, str]) -> tuple[int, list[str]]:
    err = subprocess.run([python, "-X", "importtime", "-c", "pass"], env=env, capture_output=True, text=True).stderr
    total, names = 0, []
    for line in err.splitlines():
        if line.startswith("import time:") and "lm_eval_iberian" in line:
            total += int(line.split("|")[0].split(":")[1])
            names.append(line.rsplit("|", 1)[1].strip())
    return total, names


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", tmp, str(ROOT)], check=True)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", f"{tmp}/venv"], check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                        next(Path(tmp, "venv", "lib").glob("python*/site-packages")), str(wheel)], check=True)  # fmt: skip
        python = f"{tmp}/venv/bin/python"
        on = {k: v for k, v in os.environ.items() if k not in {"LM_EVAL_IBERIAN_AUTOLOAD", "PYTHONPATH"}}
        off = dict(on, LM_EVAL_IBERIAN_AUTOLOAD="0")
        for env in (on, off):
            wall(python, env)  # warm the page cache and write .pyc files
        with_hook, without = [], []
        for _ in range(RUNS):
            with_hook.append(wall(python, on))
            without.append(wall(python, off))
        med_on, med_off = statistics.median(with_hook), statistics.median(without)
        samples = [hook_import_us(python, on) for _ in range(9)]
        us = statistics.median(s[0] for s in samples)
        names = samples[0][1]
        assert hook_import_us(python, off)[1] == [], "with the opt-out nothing of ours may be imported"
    print(f"fresh venv, regular install; python -c pass, median of {RUNS} alternating runs:")
    print(f"  with hook    {med_on * 1e3:7.2f} ms")
    print(f"  without hook {med_off * 1e3:7.2f} ms")
    print(f"  modules imported by the hook: {', '.join(names)}; import self-time {us} us (median of 9)")
    print(json.dumps({"runs": RUNS, "with_hook_ms": round(med_on * 1e3, 3), "without_ms": round(med_off * 1e3, 3),
                      "ratio": round(med_on / med_off, 4), "hook_import_us": us, "hook_modules": names}))  # fmt: skip


if __name__ == "__main__":
    main()
