"""merged_vllm with tensor_parallel_size=2 on vLLM's CPU backend: two worker processes, each merging on its own
device and keeping its shard; outputs equal a single fresh engine on mergekit's saved output."""

import os

import pytest

TOLERANCE = 1e-5


def _observe(llm, prompts):
    from vllm import SamplingParams

    gen = llm.generate(prompts, SamplingParams(temperature=0, max_tokens=12, logprobs=0), use_tqdm=False)
    scored = llm.generate(prompts, SamplingParams(temperature=0, max_tokens=1, prompt_logprobs=0), use_tqdm=False)
    return ([list(o.outputs[0].token_ids) for o in gen],
            [next(iter(d.values())).logprob for o in scored for d in o.prompt_logprobs[1:]])  # fmt: skip


@pytest.fixture
def two_ranks(monkeypatch):
    import torch

    if torch.cuda.is_available():
        if torch.cuda.device_count() < 2:
            pytest.skip(f"tensor parallel 2 needs 2 GPUs; {torch.cuda.device_count()} visible")
        return
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip(f"tensor parallel 2 needs 2 CPUs for vLLM's two workers; this machine lends {len(cpus)}")
    half = len(cpus) // 2
    # vLLM binds each CPU worker to a NUMA node by default; this machine has one node, so bind by hand.
    monkeypatch.setenv("VLLM_CPU_OMP_THREADS_BIND", f"{','.join(map(str, cpus[:half]))}|{','.join(map(str, cpus[half:]))}")


def test_tensor_parallel_2_equals_a_single_fresh_engine(two_ranks, vllm_families, linear_recipe, mergekit_outputs,
                                                         engine_args, shutdown_engine, tmp_path):
    from vllm import LLM

    from lm_eval_iberian.merge._vllm import MergedVLLM

    family = vllm_families["qwen3"]  # tied embeddings, untied in the engine; 2 KV heads: one per rank
    prompts = ["Kaixo, zer moduz? Ondo nago, eskerrik asko.", "La biblioteca nacional ha digitalizado"]
    points = {"a": 0.5, "b": 2.0}
    folders = mergekit_outputs({k: linear_recipe(family, w) for k, w in points.items()}, tmp_path)
    want = {}
    for key, folder in folders.items():
        llm = LLM(model=str(folder), **engine_args)
        want[key] = _observe(llm, prompts)
        shutdown_engine(llm)

    args = {**engine_args, "tensor_parallel_size": 2, "distributed_executor_backend": "mp"}
    merged = MergedVLLM.from_recipe(linear_recipe(family, points["a"]), **args)
    try:
        for key in ("a", "b", "a"):  # starts at a, then re-merges
            if merged.merge_recipe.to_dict() != linear_recipe(family, points[key]).to_dict():
                merged.reload(linear_recipe(family, points[key]))
            tokens, logprobs = _observe(merged.model, prompts)
            assert tokens == want[key][0]
            assert max(abs(x - y) for x, y in zip(logprobs, want[key][1], strict=True)) < TOLERANCE
    finally:
        shutdown_engine(merged.model)
