#!/usr/bin/env bash
# One short GPU check (installs nothing): merge a tiny real-architecture model into cuda and
# compare with the CPU merge; then time a ~430M-parameter merge into cuda.
# Usage: bash bench/gpu_check.sh   (from the repository root, in an environment with this package)
set -euo pipefail
python - <<'PY'
import json, sys, tempfile, time
import torch
if not torch.cuda.is_available():
    sys.exit("gpu_check: no CUDA device visible")
from lm_eval_iberian.merge import MergeRecipe, merge_model
from lm_eval_iberian.testing import build_tiny_model, build_tiny_tokenizer

tmp = tempfile.mkdtemp()
tok = build_tiny_tokenizer()
paths = {r: build_tiny_model(f"{tmp}/{r}", "qwen3", seed=s, tokenizer=tok) for s, r in enumerate(("base", "instruct", "expert"))}
report = {"device": torch.cuda.get_device_name(0)}
for method in ("linear", "task_arithmetic", "dare_ties", "slerp"):
    cfg = {"merge_method": method, "dtype": "bfloat16", "models": [
        {"model": str(paths["expert"]), "parameters": {"weight": 1.0, "density": 0.5} if method == "dare_ties" else {"weight": 1.0}},
        {"model": str(paths["instruct"]), "parameters": {"weight": 1.0, "density": 0.5} if method == "dare_ties" else {"weight": 1.0}}]}
    if method in ("task_arithmetic", "dare_ties"):
        cfg["base_model"] = str(paths["base"])
    if method == "slerp":
        cfg = {"merge_method": "slerp", "dtype": "bfloat16", "base_model": str(paths["instruct"]),
               "models": [{"model": str(paths["expert"])}, {"model": str(paths["instruct"])}], "parameters": {"t": 0.5}}
    recipe = MergeRecipe.from_mergekit_dict(cfg, seed=0)
    cpu, _ = merge_model(recipe, device="cpu", verbose=False)
    gpu, _ = merge_model(recipe, device="cuda", verbose=False)
    diffs = {n: (p.float() - gpu.state_dict()[n].float().cpu()).abs().max().item() for n, p in cpu.state_dict().items()}
    report[method] = {"max_abs_diff_cpu_vs_cuda": max(diffs.values()), "on_cuda": next(gpu.parameters()).is_cuda}
print(json.dumps(report))
PY
python bench/merge.py --device cuda --work "${BENCH_WORK:-/tmp/bench_merge}" | tail -1
