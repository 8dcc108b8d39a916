"""How a merge gets into a running vLLM engine: the candidates measured side by side (run in .venv-vllm).

  ours        merged_vllm: every worker merges on its own device and streams the tensors into vLLM's
              in-place reload (worker_extension_cls + collective_rpc + Worker.reload_weights(weights_iterator=))
  via_folder  merge in the lm-eval process, write safetensors to a RAM-backed temporary folder, then
              collective_rpc("update_config" -> safetensors) + collective_rpc("reload_weights", weights_path=)
  apply_model the previous implementation: LLM.apply_model(lambda model: model.load_weights(stream))
  baseline    what a sweep does without any of them: mergekit writes the point, a fresh engine starts on it

Each candidate re-merges the same two points alternately; its outputs are compared with the baseline engine of
that point. Prints one JSON line: seconds per re-merge, max |prompt logprob| error, whether greedy tokens are
equal, bytes written to disk, and the baseline's seconds / the candidate's seconds (in bf16 the baseline merges
on the CPU, the candidates on the engine's device, so small rounding differences are expected there).

    .venv-vllm/bin/python bench/vllm_reload.py [--hidden 1024 --layers 8 --dtype float32]
"""

import argparse
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _observe(llm, prompts):
    from vllm import SamplingParams

    gen = llm.generate(prompts, SamplingParams(temperature=0, max_tokens=8), use_tqdm=False)
    scored = llm.generate(prompts, SamplingParams(temperature=0, max_tokens=1, prompt_logprobs=0), use_tqdm=False)
    return ([list(o.outputs[0].token_ids) for o in gen],
            [next(iter(d.values())).logprob for o in scored for d in o.prompt_logprobs[1:]])  # fmt: skip


def _error(got, want) -> float:
    return max(abs(a - b) for a, b in zip(got[1], want[1], strict=True))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--repeats", type=int, default=3, help="re-merges per candidate (alternating two points)")
    ap.add_argument("--work", default=None, help="folder for models (default: a temporary one)")
    args = ap.parse_args()

    import torch
    from vllm import LLM

    from lm_eval_iberian.merge import MergeRecipe, merge_model, save_merged
    from lm_eval_iberian.merge._vllm import MergedVLLM
    from lm_eval_iberian.testing import build_tiny_model, build_tiny_tokenizer

    work = Path(args.work or tempfile.mkdtemp(prefix="bench_vllm_"))
    tok = build_tiny_tokenizer()
    paths = {}
    for role, seed in (("expert", 1), ("instruct", 2)):
        paths[role] = work / role
        if not (paths[role] / "config.json").is_file():
            build_tiny_model(paths[role], "llama", seed=seed, tokenizer=tok, hidden_size=args.hidden, num_layers=args.layers)

    def recipe(w: float) -> MergeRecipe:
        return MergeRecipe.from_mergekit_dict({"merge_method": "linear", "dtype": args.dtype, "models": [
            {"model": str(paths["expert"]), "parameters": {"weight": w}},
            {"model": str(paths["instruct"]), "parameters": {"weight": 1.0}}]}, seed=0)  # fmt: skip

    points = [0.5, 2.0]
    prompts = ["Kaixo, zer moduz? " * 40, "The national library has digitised"]
    engine = {"dtype": args.dtype, "max_model_len": 1024, "enforce_eager": True, "seed": 0}
    if torch.cuda.is_available():  # the baseline engines and the merged one share the GPU, one after another
        engine["gpu_memory_utilization"] = 0.4
    report = {"device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
              "model_mb": None, "dtype": args.dtype}  # fmt: skip

    # Baseline: mergekit output on disk + a fresh engine per point.
    from mergekit.config import MergeConfiguration
    from mergekit.merge import run_merge
    from mergekit.options import MergeOptions

    want, base_s = {}, []
    for w in points:
        t0 = time.perf_counter()
        out = work / f"mergekit-{w}"
        shutil.rmtree(out, ignore_errors=True)
        run_merge(MergeConfiguration.model_validate(recipe(w).to_dict()), str(out), MergeOptions(random_seed=0, quiet=True))
        llm = LLM(model=str(out), **engine)
        base_s.append(time.perf_counter() - t0)
        want[w] = _observe(llm, prompts)
        report["model_mb"] = round(sum(f.stat().st_size for f in out.glob("*.safetensors")) / 2**20, 1)
        llm.llm_engine.engine_core.shutdown()
        del llm
        gc.collect()
    report["baseline_s_per_point"] = round(statistics.median(base_s), 3)

    lm = MergedVLLM.from_recipe(recipe(points[0]), **engine)
    llm = lm.model

    def ours(w):
        lm.reload(recipe(w))
        return 0

    shm = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())

    def via_folder(w):
        folder = Path(tempfile.mkdtemp(prefix="merged_", dir=shm))
        try:
            model, tokenizer = merge_model(recipe(w), device="cuda" if torch.cuda.is_available() else "cpu", verbose=False)
            save_merged(model, tokenizer, folder)
            written = sum(f.stat().st_size for f in folder.iterdir())
            llm.collective_rpc("update_config", args=({"load_config": {"load_format": "safetensors"}},))
            llm.collective_rpc("reload_weights", kwargs={"weights_path": str(folder)})
            llm.reset_prefix_cache()
            return written
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def apply_model(w):
        from lm_eval_iberian.merge import plan_merge, stream_merged_tensors, validate_recipe

        plan = plan_merge(validate_recipe(recipe(w)))
        llm.apply_model(lambda model: model.load_weights(stream_merged_tensors(plan, next(model.parameters()).device,
                                                                                progress=False)))
        llm.reset_prefix_cache()
        return 0

    for name, fn in (("ours", ours), ("via_folder", via_folder), ("apply_model", apply_model)):
        times, errors, same_tokens, written = [], [], [], 0
        try:
            for i in range(args.repeats):
                w = points[(i + 1) % 2]
                t0 = time.perf_counter()
                written = max(written, fn(w))
                times.append(time.perf_counter() - t0)
                got = _observe(llm, prompts)
                errors.append(_error(got, want[w]))
                same_tokens.append(got[0] == want[w][0])
            s = statistics.median(times)
            report[name] = {"s_per_point": round(s, 3), "max_logprob_error": max(errors), "greedy_equal": all(same_tokens),
                            "disk_bytes": written,
                            "baseline_over_this": round(report["baseline_s_per_point"] / s, 1)}  # fmt: skip
        except Exception as exc:  # a candidate that fails is a result, reported as such
            report[name] = {"failed": f"{type(exc).__name__}: {str(exc)[:200]}"}
        lm.reload(recipe(points[0]))  # known state for the next candidate
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
