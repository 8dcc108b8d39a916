"""Benchmark: cost of each extra sweep point relative to the first merge.

Builds three random Llama checkpoints (base / instruct / expert; ~430M parameters each at the
defaults), then, in this process:

* first point: what a stand-alone merge costs (read the inputs, merge into a new model);
* every extra point of a weight sweep: merge math only (inputs cached in memory, re-merged into the
  same model in place), which is what ``lm-eval-iberian sweep`` does per point.

Target: each extra point at most 0.3x the first. Last line: one JSON object.

    python bench/sweep.py [--hidden 1024 --layers 24 --vocab 32768] [--method linear] [--device cpu]
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from merge import build_inputs  # noqa: E402  (same inputs as bench/merge.py)


def _evict(paths: dict) -> None:
    import os

    for folder in paths.values():
        for f in Path(folder).glob("*.safetensors"):
            fd = os.open(f, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--vocab", type=int, default=32768)
    parser.add_argument("--method", default="linear", choices=["linear", "task_arithmetic"])
    parser.add_argument("--dtype", default="bfloat16", help="recipe dtype (the paper: bfloat16)")
    parser.add_argument("--values", default="0.5,1.0,1.5,2.0")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--work", default=None)
    parser.add_argument("--cold", action="store_true", help="evict the inputs from the page cache before reading them")
    args = parser.parse_args()

    from lm_eval_iberian.merge import MergeRecipe, merge_model, validate_recipe
    from lm_eval_iberian.merge._sweep import InputTensorCache, remerge_into, sweep_points

    root = Path(args.work or tempfile.mkdtemp())
    paths = build_inputs(root, args.hidden, args.layers, args.vocab)
    data = {"merge_method": args.method, "dtype": args.dtype, "models": [
        {"model": str(paths["expert"]), "parameters": {"weight": 1.0}}, {"model": str(paths["instruct"]), "parameters": {"weight": 1.0}}]}
    if args.method == "task_arithmetic":
        data["base_model"] = str(paths["base"])
    values = [float(v) for v in args.values.split(",")]
    points = sweep_points(MergeRecipe.from_mergekit_dict(data, seed=0), "weight:expert", values)

    # Baseline: one stand-alone merge, inputs read from disk. --cold evicts them from the page
    # cache first (posix_fadvise DONTNEED), as on a compute node reading them for the first time.
    merge_model(points[0].recipe, device=args.device, verbose=False)
    if args.cold:
        _evict(paths)
    t0 = time.perf_counter()
    baseline, _ = merge_model(points[0].recipe, device=args.device, verbose=False)
    standalone = time.perf_counter() - t0
    del baseline
    if args.cold:
        _evict(paths)

    t0 = time.perf_counter()
    first = validate_recipe(points[0].recipe)
    with InputTensorCache(first) as cache:
        model, _ = merge_model(points[0].recipe, device=args.device, verbose=False)
        first_point = time.perf_counter() - t0
        extra = []
        for point in points[1:]:
            t = time.perf_counter()
            remerge_into(model, validate_recipe(point.recipe, tokenizer=str(first.tokenizer_dir)))
            extra.append(time.perf_counter() - t)
    n_params = sum(p.numel() for p in model.parameters())
    ratios = [e / standalone for e in extra]
    print(f"{n_params / 1e6:.0f}M parameters, {args.method}, dtype {args.dtype}, device {args.device}, "
          f"inputs {'cold (evicted from the page cache)' if args.cold else 'in the page cache'}")
    print(f"stand-alone merge: {standalone:.2f} s; sweep first point (reads inputs once, {cache.bytes / 1e9:.2f} GB): {first_point:.2f} s")
    print("extra points: " + ", ".join(f"{p.name}: {e:.2f} s ({r:.2f}x)" for p, e, r in zip(points[1:], extra, ratios, strict=True)))
    print(f"worst extra point / stand-alone merge: {max(ratios):.2f} (target <= 0.3)")
    print(json.dumps({"params_m": round(n_params / 1e6), "method": args.method, "dtype": args.dtype, "device": args.device,
                      "standalone_s": round(standalone, 3), "first_point_s": round(first_point, 3),
                      "extra_points_s": [round(e, 3) for e in extra], "worst_ratio": round(max(ratios), 3),
                      "within_target": max(ratios) <= 0.3, "cold": args.cold}))


if __name__ == "__main__":
    main()
