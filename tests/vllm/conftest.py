"""The vLLM tests: a real vLLM engine (vLLM's CPU build, float32) on tiny real-architecture models.

They run in the second environment, .venv-vllm (`make vllm-env`; `make test` builds it and runs them there).
In an environment without vLLM every test here is skipped with that reason, except where
``IBERIAN_REQUIRE_VLLM=1`` (`make test` sets it for the .venv-vllm run): there a missing vLLM fails.
"""

import gc
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

HAS_VLLM = importlib.util.find_spec("vllm") is not None
HOW = "make vllm-env && .venv-vllm/bin/python -m pytest tests/vllm (make test does both)"

# One engine configuration for every test (a fresh engine and the merged one must agree on all of it).
# head_dim 32: vLLM's CPU attention backend needs >= 32. enforce_eager: no torch.compile of the tiny model
# (minutes on 2 cores; the eager kernels are the same math). "uni" + in-process engine core (set below):
# seconds to start instead of ~25 s; the tensor-parallel and lm_eval CLI tests use vLLM's own processes.
ENGINE_ARGS = {"dtype": "float32", "max_model_len": 2048, "enforce_eager": True, "distributed_executor_backend": "uni",
               "enable_prefix_caching": True, "seed": 0}
HIDDEN = 128  # 4 heads of 32


@pytest.fixture(scope="session", autouse=True)
def _vllm_environment():
    if not HAS_VLLM:
        if os.environ.get("IBERIAN_REQUIRE_VLLM") == "1":
            pytest.fail(f"IBERIAN_REQUIRE_VLLM=1 but vLLM is absent from {sys.prefix}; {HOW}")
        pytest.skip(f"needs vLLM, absent from {sys.prefix}; the vLLM environment: {HOW}")
    # 1 GiB of KV cache: by default vLLM's CPU backend reserves most of the machine's RAM (measured: 20.8 of 23.5 GiB).
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    import torch

    if torch.cuda.is_available():  # the same tests on a GPU node (bench/gpu_check.sh): engines one after another
        ENGINE_ARGS["gpu_memory_utilization"] = 0.3


@pytest.fixture(scope="session")
def vllm_families(tmp_path_factory, tiny_tokenizer) -> dict[str, dict[str, Path]]:
    """base / instruct / expert of a tiny Llama (untied lm_head) and a tiny Qwen3 (tied), head_dim 32."""
    from lm_eval_iberian.testing import build_tiny_model

    root = tmp_path_factory.mktemp("vllm_families")
    return {
        arch: {
            role: build_tiny_model(root / f"{arch}-{role}", arch, seed=seed, tokenizer=tiny_tokenizer, hidden_size=HIDDEN)
            for role, seed in (("base", 20), ("instruct", 21), ("expert", 22))
        }
        for arch in ("llama", "qwen3")
    }


@pytest.fixture(scope="session")
def engine_args() -> dict:
    return dict(ENGINE_ARGS)


def _linear_recipe(fam: dict[str, Path], weight: float):
    from lm_eval_iberian.merge import MergeRecipe

    return MergeRecipe.from_mergekit_dict({
        "merge_method": "linear", "dtype": "float32",
        "models": [{"model": str(fam["expert"]), "parameters": {"weight": weight}},
                   {"model": str(fam["instruct"]), "parameters": {"weight": 1.0}}],
    }, seed=0)  # fmt: skip


@pytest.fixture(scope="session")
def linear_recipe():
    """linear [expert w, instruct 1] (the paper's merge), computed in float32: ``linear_recipe(family, w)``."""
    return _linear_recipe


def _mergekit_outputs(recipes: dict[str, object], root: Path, env: dict[str, str]) -> dict[str, Path]:
    """Each recipe merged to disk by mergekit itself (its run_merge, what mergekit-yaml calls), in a child process."""
    jobs = []
    for name, recipe in recipes.items():
        (root / f"{name}.yml").write_text(recipe.to_yaml())
        jobs.append((str(root / f"{name}.yml"), str(root / name)))
    code = (
        "import sys, yaml\n"
        "from mergekit.config import MergeConfiguration\nfrom mergekit.merge import run_merge\n"
        "from mergekit.options import MergeOptions\n"
        "for src, out in zip(sys.argv[1::2], sys.argv[2::2]):\n"
        "    cfg = MergeConfiguration.model_validate(yaml.safe_load(open(src)))\n"
        "    run_merge(cfg, out, MergeOptions(random_seed=0, quiet=True))\n"
    )
    args = [a for job in jobs for a in job]
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {name: root / name for name in recipes}


@pytest.fixture(scope="session")
def mergekit_outputs(subprocess_env):
    """``mergekit_outputs({name: recipe}, folder)`` -> {name: folder mergekit wrote}."""
    return lambda recipes, root: _mergekit_outputs(recipes, root, subprocess_env())


def _shutdown(llm) -> None:
    llm.llm_engine.engine_core.shutdown()
    gc.collect()


@pytest.fixture(scope="session")
def shutdown_engine():
    """Stop an engine (a vllm.LLM) so its KV cache is freed before the next one starts."""
    return _shutdown
