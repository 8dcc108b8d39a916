"""``lm-eval-iberian demo``: the whole evaluation offline on a tiny model and the demo mirror.

Builds a tiny random Llama-style model (tokenizer trained on the demo text),
evaluates every ``iberian_*`` benchmark group and the Flores groups through
``lm_eval.simple_evaluate`` with ``IBERIAN_DATA_DIR`` pointing at the demo
mirror, prints lm-eval's results tables and writes the results JSON.
The scores are computed, and meaningless: the model is random.
"""

import json
import os
import time
from pathlib import Path

from lm_eval_iberian import demo_data_dir, tasks_path

DEMO_TASKS = ["iberian_all", "iberian_mt", "iberian_ifeval"]


def run_demo(out_dir: str | Path, limit: int = 4) -> dict:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ["IBERIAN_DATA_DIR"] = demo_data_dir()

    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager
    from lm_eval.utils import make_table

    from lm_eval_iberian.testing import build_tiny_model

    out = Path(out_dir)
    t0 = time.perf_counter()
    model_dir = build_tiny_model(out / "models" / "tiny-llama", "llama", seed=0)
    print(f"[demo] tiny model written to {model_dir} ({time.perf_counter() - t0:.1f}s)")
    lm = HFLM(pretrained=str(model_dir), device="cpu", batch_size=16, max_length=2048)
    t0 = time.perf_counter()
    results = lm_eval.simple_evaluate(
        model=lm,
        tasks=DEMO_TASKS,
        limit=limit,
        bootstrap_iters=0,  # no stderr: bootstrapping mcc/BLEU would dominate the demo's time
        gen_kwargs="max_gen_toks=32",
        task_manager=TaskManager(include_path=tasks_path()),
    )
    print(f"[demo] evaluated {len(results['results'])} tasks and groups in {time.perf_counter() - t0:.1f}s")
    print(make_table(results))
    if "groups" in results:
        print(make_table(results, "groups"))
    path = out / "results.json"
    path.write_text(json.dumps(results, indent=1, default=str, ensure_ascii=False))
    print(f"[demo] results written to {path}")
    return results
