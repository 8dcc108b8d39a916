"""In-memory merge vs `mergekit-yaml` + `from_pretrained` vs reading the inputs once.

Builds three random Llama checkpoints (base, instruct, expert; bf16 safetensors;
~430M parameters by default), then runs, each in a fresh subprocess:

  (a) ours      merge_model(recipe) -> a ready model in memory
  (b) mergekit  `mergekit-yaml` to disk, then AutoModelForCausalLM.from_pretrained
  (c) floor     read every input tensor once (safetensors -> memory)

then the cost of the NaN/inf check (``check_finite``, on by default): (a) with and without it, in interleaved
pairs with the page cache warmed before each run, every pair's ratio printed (``--finite-repeats``).

Peak memory is the peak *anonymous* (private) memory of the subprocess, polled from
/proc/PID/status (RssAnon): mmapped input pages are shared page cache and would hide
the difference. Prints a table and, last, one JSON line with speedup_vs_mergekit,
ratio_to_floor and peak_rss_ratio (ours' peak anonymous memory / merged model size).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve()


def build_inputs(root: Path, hidden: int, layers: int, vocab: int) -> dict[str, Path]:
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    from lm_eval_iberian.testing import build_tiny_tokenizer

    tok = build_tiny_tokenizer()
    config = LlamaConfig(
        vocab_size=vocab, hidden_size=hidden, intermediate_size=hidden * 4, num_hidden_layers=layers,
        num_attention_heads=hidden // 64, num_key_value_heads=max(1, hidden // 256), tie_word_embeddings=False,
    )  # fmt: skip
    paths = {}
    for seed, role in enumerate(("base", "instruct", "expert")):
        path = root / role
        paths[role] = path
        if (path / "model.safetensors").exists() or (path / "model.safetensors.index.json").exists():
            continue
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
        model.save_pretrained(path, safe_serialization=True)
        tok.save_pretrained(path)
        del model
    return paths


def _recipe(paths: dict[str, Path], method: str) -> dict:
    models = [{"model": str(paths["expert"]), "parameters": {"weight": 1.0}}, {"model": str(paths["instruct"]), "parameters": {"weight": 1.0}}]
    recipe = {"merge_method": method, "models": models, "dtype": "bfloat16"}
    if method != "linear":
        recipe["base_model"] = str(paths["base"])
    return recipe


# ----------------------------------------------------------------------------- child side
def _rss_anon_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    return 0


def child(mode: str, recipe_file: str, out_dir: str) -> None:
    import torch
    import yaml

    torch.set_num_threads(os.cpu_count() or 1)
    t_import = time.perf_counter()
    if mode in ("ours", "ours_unchecked"):
        # What lm-eval has imported anyway before it builds a model, plus our merge stack.
        import mergekit.merge  # noqa: F401
        import transformers  # noqa: F401

        from lm_eval_iberian.merge import MergeRecipe, merge_model
    imports_s = time.perf_counter() - t_import
    baseline_kb = _rss_anon_kb()
    t0 = time.perf_counter()
    if mode in ("ours", "ours_unchecked"):
        device = os.environ.get("BENCH_DEVICE", "cpu")
        model, _ = merge_model(MergeRecipe.from_yaml(recipe_file), device=device, verbose=False,
                               check_finite=mode == "ours")
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        n = sum(p.numel() * p.element_size() for p in model.parameters())
    elif mode == "mergekit":
        from transformers import AutoModelForCausalLM

        cli = Path(sys.executable).with_name("mergekit-yaml")
        subprocess.run([str(cli), recipe_file, out_dir, "--quiet", "--copy-tokenizer"], check=True)
        model = AutoModelForCausalLM.from_pretrained(out_dir, dtype=torch.bfloat16)
        n = sum(p.numel() * p.element_size() for p in model.parameters())
    elif mode == "floor":
        from safetensors import safe_open

        recipe = yaml.safe_load(Path(recipe_file).read_text())
        folders = {m["model"] for m in recipe["models"]} | ({recipe["base_model"]} if "base_model" in recipe else set())
        kept = []
        for folder in sorted(folders):
            for file in sorted(Path(folder).glob("*.safetensors")):
                with safe_open(str(file), framework="pt") as fh:
                    for name in fh.keys():
                        kept.append(fh.get_tensor(name).clone())  # materialise privately, as a merge must
                        kept.pop()  # ...and drop, as a streaming merge does
        n = 0
    print(json.dumps({"seconds": time.perf_counter() - t0, "imports_s": imports_s, "model_bytes": n, "baseline_anon_kb": baseline_kb}))


# ----------------------------------------------------------------------------- parent side
def run_child(mode: str, recipe_file: Path, out_dir: Path) -> dict:
    proc = subprocess.Popen([sys.executable, str(HERE), "--child", mode, str(recipe_file), str(out_dir)],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    peak = {"kb": 0}
    stop = threading.Event()

    def poll() -> None:
        status = Path(f"/proc/{proc.pid}/status")
        while not stop.is_set():
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("RssAnon:"):
                        peak["kb"] = max(peak["kb"], int(line.split()[1]))
            except (FileNotFoundError, ProcessLookupError):
                break
            time.sleep(0.005)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    out, _ = proc.communicate()
    stop.set()
    thread.join()
    if proc.returncode != 0:
        raise SystemExit(f"{mode} failed with exit code {proc.returncode}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_anon_gb"] = peak["kb"] / 2**20
    result["net_peak_anon_gb"] = (peak["kb"] - result["baseline_anon_kb"]) / 2**20
    return result


def warm_page_cache(paths: dict[str, Path]) -> None:
    """Warm the page cache for every variant alike (we cannot drop it without root tricks)."""
    for folder in paths.values():
        for file in folder.glob("*.safetensors"):
            with file.open("rb") as fh:
                while fh.read(1 << 24):
                    pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--vocab", type=int, default=32768)
    parser.add_argument("--method", default="linear")
    parser.add_argument("--work", default=None, help="folder for the inputs (kept between runs); default: a temp dir")
    parser.add_argument("--device", default="cpu", help="where (a) merges into, e.g. cuda:0 (peak memory is then host memory)")
    parser.add_argument("--finite-repeats", type=int, default=3, help="interleaved pairs timing the NaN/inf check (0: skip)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    os.environ["BENCH_DEVICE"] = args.device
    work = Path(args.work or tempfile.mkdtemp(prefix="bench_merge_"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    paths = build_inputs(work, args.hidden, args.layers, args.vocab)
    print(f"inputs ready in {time.perf_counter() - t0:.1f}s under {work}")
    import yaml

    recipe_file = work / f"{args.method}.yml"
    recipe_file.write_text(yaml.safe_dump(_recipe(paths, args.method)))
    warm_page_cache(paths)
    results = {}
    for mode in ("floor", "ours", "mergekit"):
        out_dir = work / f"out_{mode}"
        subprocess.run(["rm", "-rf", str(out_dir)], check=True)
        results[mode] = run_child(mode, recipe_file, out_dir)
    merged_gb = results["ours"]["model_bytes"] / 2**30
    params = results["ours"]["model_bytes"] / 2 / 1e6
    print(f"\nmethod {args.method}, {params:.0f}M parameters (bf16), 3 inputs on disk")
    print("seconds exclude the parent Python's imports (lm-eval has torch/transformers loaded already);")
    print("(b) includes the mergekit-yaml process end to end, as users run it. net = peak - anon memory after imports.")
    print(f"{'variant':<12} {'seconds':>8} {'peak anon GB':>13} {'net GB':>8}")
    for mode, label in (("ours", "(a) ours"), ("mergekit", "(b) mk+load"), ("floor", "(c) floor")):
        r = results[mode]
        print(f"{label:<12} {r['seconds']:8.2f} {r['peak_anon_gb']:13.2f} {r['net_peak_anon_gb']:8.2f}")
    print(f"(a) merge-stack imports (mergekit, transformers): {results['ours']['imports_s']:.2f}s extra if nothing imported them yet")
    summary = {
        "method": args.method,
        "params_m": round(params),
        "merged_model_gb": round(merged_gb, 3),
        "ours_s": round(results["ours"]["seconds"], 2),
        "mergekit_plus_load_s": round(results["mergekit"]["seconds"], 2),
        "floor_s": round(results["floor"]["seconds"], 2),
        "speedup_vs_mergekit": round(results["mergekit"]["seconds"] / results["ours"]["seconds"], 2),
        "ratio_to_floor": round(results["ours"]["seconds"] / results["floor"]["seconds"], 2),
        "peak_rss_ratio": round(results["ours"]["peak_anon_gb"] / merged_gb, 2),
        "net_peak_rss_ratio": round(results["ours"]["net_peak_anon_gb"] / merged_gb, 2),
        "ours_with_imports_s": round(results["ours"]["seconds"] + results["ours"]["imports_s"], 2),
        "mergekit_peak_rss_ratio": round(results["mergekit"]["peak_anon_gb"] / merged_gb, 2),
    }
    if args.finite_repeats:
        ratios = []
        for i in range(args.finite_repeats):
            pair = {}
            for mode in ("ours", "ours_unchecked") if i % 2 == 0 else ("ours_unchecked", "ours"):  # alternate the order
                warm_page_cache(paths)
                pair[mode] = run_child(mode, recipe_file, work / "out_unused")["seconds"]
            ratios.append(pair["ours"] / pair["ours_unchecked"])
            print(f"finite check pair {i + 1}: {pair['ours']:.2f}s checked vs {pair['ours_unchecked']:.2f}s unchecked, "
                  f"ratio {ratios[-1]:.3f}")
        summary["finite_check_paired_ratios"] = [round(r, 3) for r in ratios]
        summary["finite_check_median_ratio"] = round(sorted(ratios)[len(ratios) // 2], 3)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
