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
# CPT: a few bf16 steps of a small real-size Qwen3 (about 0.6B parameters, random weights, 4096 tokens per
# sequence) with the bundled trainer; prints tokens/s and the MFU the trainer estimates.
python - <<'PY'
import json, tempfile
from pathlib import Path
from transformers import Qwen3Config, Qwen3ForCausalLM
from lm_eval_iberian.cpt import load_config, train
from lm_eval_iberian.testing import build_tiny_tokenizer, demo_corpus
tmp = Path(tempfile.mkdtemp())
tok = build_tiny_tokenizer()
cfg = Qwen3Config(vocab_size=len(tok), hidden_size=1024, intermediate_size=3072, num_hidden_layers=28, num_attention_heads=16,
                  num_key_value_heads=8, head_dim=128, max_position_embeddings=8192, tie_word_embeddings=True)
Qwen3ForCausalLM(cfg).save_pretrained(tmp / "model"); tok.save_pretrained(tmp / "model")
(tmp / "corpus.jsonl").write_text("\n".join(json.dumps({"text": t}) for t in demo_corpus()))
result = {}
for attn in ("sdpa_varlen", "sdpa"):  # ours (default) vs transformers' block-diagonal mask, same data
    c = load_config(None, None, model=str(tmp / "model"), output_dir=str(tmp / attn), seq_len=4096, global_batch_size=8,
                    micro_batch_size=2, max_steps=6, dtype="bfloat16", attn_implementation=attn, tensorboard=False,
                    data={"sources": [{"name": "demo", "path": str(tmp / "corpus.jsonl"), "ratio": 1}], "cache_dir": str(tmp / "cache")})
    train(c)
    rows = [json.loads(x) for x in (tmp / attn / "losses.jsonl").read_text().splitlines()][2:]
    result[f"cpt_{attn}_tokens_per_s"] = sum(r["tokens_per_s"] for r in rows) / len(rows)
    result[f"cpt_{attn}_mfu"] = sum(r["mfu"] or 0 for r in rows) / len(rows)
    result[f"cpt_{attn}_losses"] = [round(r["loss"], 4) for r in rows]
print(json.dumps(result))
PY
# CPT under FSDP2 on the GPUs with the shipped 1-node accelerate config (num_processes = GPUs here): a run killed
# (SIGKILL, every rank) after its first checkpoint and resumed must give the uninterrupted run's losses, bit for bit.
python - <<'PY'
import json, tempfile
from pathlib import Path
import torch
from lm_eval_iberian.testing import build_tiny_model, build_tiny_tokenizer, demo_corpus
from tests.cpt.test_fsdp import _accelerate_config, _finish, _kill_after, _launch, _losses, _train_config
tmp = Path(tempfile.mkdtemp())
tok = build_tiny_tokenizer()
base = build_tiny_model(tmp / "base", "llama", seed=0, tokenizer=tok)
texts = [t for t in demo_corpus() if len(t) > 40]
corpora = {"a": tmp / "a.jsonl", "b": tmp / "b.txt"}
corpora["a"].write_text("\n".join(json.dumps({"text": t}) for t in texts[::2])); corpora["b"].write_text("\n\n".join(texts[1::2]))
gpus = torch.cuda.device_count()
accel = _accelerate_config(tmp, "accelerate_fsdp_1node.yaml", gpus)
env = {**__import__("os").environ, "HF_HUB_OFFLINE": "1"}
runs = {name: tmp / name for name in ("straight", "killed")}
_finish(_launch(accel, _train_config(base, corpora, runs["straight"], global_batch_size=8 * gpus), env, shim=False))
config = _train_config(base, corpora, runs["killed"], global_batch_size=8 * gpus)
_kill_after(_launch(accel, config, env, shim=False), runs["killed"], logged_steps=3)
resumed = [x for x in _finish(_launch(accel, config, env, shim=False)).splitlines() if x.startswith("resumed from")]
marker = json.loads((runs["killed"] / "cpt_run.json").read_text())
a, b = _losses(runs["straight"]), _losses(runs["killed"])
print(json.dumps({"cpt_fsdp_gpus": gpus, "cpt_fsdp_launch": marker["launch"], "cpt_fsdp_resumed": resumed,
                  "cpt_fsdp_resume_losses_identical": a == b, "cpt_fsdp_max_loss_diff": max(abs(a[k] - b[k]) for k in a)}))
PY
# vLLM merged backend (needs the [vllm] extra): the CPU CI's vLLM tests, same code path, here on the GPU (float32
# tiny models: merged_vllm vs merged on lm-eval tasks, sweep vs fresh engines, re-merge walk with prefix cache, TP 2
# when 2 GPUs are visible); then the injection candidates at real size in bf16 (re-merge s/point vs mergekit +
# fresh engine, logprob error vs that engine, bytes written; bench/vllm_reload.py).
if python -c "import vllm" 2>/dev/null; then
  python -m pytest -q -p no:cacheprovider tests/vllm
  python bench/vllm_reload.py --dtype bfloat16 --hidden 2048 --layers 16 --work "${BENCH_WORK:-/tmp/bench_vllm}"
else
  echo "gpu_check: vLLM not installed; skipping the merged_vllm check (pip install '.[vllm]')"
fi
