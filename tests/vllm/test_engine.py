"""merged_vllm on a real vLLM engine: merged weights equal mergekit's output served by a fresh engine,
at every point of a walk A -> B -> C -> A -> B through one engine, prefix cache included."""

import pytest

from lm_eval_iberian.merge import RecipeError

POINTS = {"a": 0.5, "b": 1.0, "c": 2.0}
TOLERANCE = 1e-5  # float32 logprobs; measured differences are ~1e-6


def _long_prefix(tokenizer, tokens: int = 700) -> str:
    """Demo-mirror text of at least ``tokens`` tokens: several of vLLM's 128-token KV blocks."""
    from lm_eval_iberian.testing import demo_corpus

    text = ""
    for piece in demo_corpus():
        text += piece + "\n"
        if len(tokenizer(text).input_ids) >= tokens:
            return text
    raise AssertionError("demo corpus too short")


@pytest.fixture(scope="module")
def prompts(tiny_tokenizer):
    prefix = _long_prefix(tiny_tokenizer)
    return [prefix + "Galdera:", prefix + "Pregunta:", "Kaixo, zer moduz?"]


def _observe(llm, prompts):
    """Greedy continuations (ids, logprobs; they read the prefix cache) and prompt logprobs (these do not)."""
    from vllm import SamplingParams

    gen = llm.generate(prompts, SamplingParams(temperature=0, max_tokens=12, logprobs=0), use_tqdm=False)
    scored = llm.generate(prompts, SamplingParams(temperature=0, max_tokens=1, prompt_logprobs=0), use_tqdm=False)
    return {
        "tokens": [list(o.outputs[0].token_ids) for o in gen],
        "logprobs": [[lp[t].logprob for t, lp in zip(o.outputs[0].token_ids, o.outputs[0].logprobs, strict=True)] for o in gen],
        "prompt_logprobs": [[next(iter(d.values())).logprob for d in o.prompt_logprobs[1:]] for o in scored],
        "cached": [o.num_cached_tokens for o in gen],
    }


def _max_diff(a, b) -> float:
    return max(abs(x - y) for xs, ys in zip(a, b, strict=True) for x, y in zip(xs, ys, strict=True))


def _assert_same(got, want):
    assert got["tokens"] == want["tokens"]
    assert _max_diff(got["logprobs"], want["logprobs"]) < TOLERANCE
    assert _max_diff(got["prompt_logprobs"], want["prompt_logprobs"]) < TOLERANCE


@pytest.fixture(scope="module")
def family(vllm_families):
    return vllm_families["llama"]


@pytest.fixture(scope="module")
def fresh(family, prompts, linear_recipe, mergekit_outputs, engine_args, shutdown_engine, tmp_path_factory):
    """Each point merged to disk by mergekit and served by its own, freshly started engine."""
    from vllm import LLM

    folders = mergekit_outputs({k: linear_recipe(family, w) for k, w in POINTS.items()}, tmp_path_factory.mktemp("mk"))
    out = {}
    for key, folder in folders.items():
        llm = LLM(model=str(folder), **engine_args)
        out[key] = _observe(llm, prompts)
        shutdown_engine(llm)
    # The points really differ, so equality below is evidence.
    assert out["a"]["tokens"] != out["b"]["tokens"] != out["c"]["tokens"]
    return out


@pytest.fixture(scope="module")
def merged(fresh, family, linear_recipe, engine_args, shutdown_engine):
    from lm_eval_iberian.merge._vllm import MergedVLLM

    lm = MergedVLLM.from_recipe(linear_recipe(family, POINTS["a"]), **engine_args)
    yield lm
    shutdown_engine(lm.model)


def test_one_engine_walks_points_and_back_equal_to_fresh_engines(merged, fresh, family, prompts, linear_recipe):
    first = _observe(merged.model, prompts)
    _assert_same(first, fresh["a"])
    for key in ("b", "c", "a", "b"):
        merged.reload(linear_recipe(family, POINTS[key]))
        got = _observe(merged.model, prompts)
        _assert_same(got, fresh[key])
        # The reload emptied the prefix cache: blocks are reused exactly as in a fresh engine (the second
        # prompt shares the first one's prefix, computed at this point), never the previous point's.
        assert got["cached"] == fresh[key]["cached"] and got["cached"][0] == 0
        # ... while the cache is on: asking again reuses the blocks of this point, same results.
        again = _observe(merged.model, prompts)
        assert min(again["cached"][:2]) >= 512
        _assert_same(again, fresh[key])
        assert merged.merge_record.recipe["models"][0]["parameters"]["weight"] == POINTS[key]


def test_without_the_prefix_cache_reset_the_long_prompt_reads_stale_blocks(merged, fresh, family, prompts, linear_recipe):
    """The control for the test above: the same weight change without reset_prefix_cache serves stale KV."""
    merged.reload(linear_recipe(family, POINTS["a"]))
    _observe(merged.model, prompts)  # fills the cache with point a's blocks
    recipe = linear_recipe(family, POINTS["c"])
    merged.model.collective_rpc("load_merged_weights", args=(recipe.to_dict(), recipe.seed, None))  # no reset
    stale = _observe(merged.model, prompts)
    assert min(stale["cached"][:2]) >= 512
    assert _max_diff(stale["logprobs"][:2], fresh["c"]["logprobs"][:2]) > 1e-3  # point a's prefix, point c's weights
    assert _max_diff(stale["prompt_logprobs"], fresh["c"]["prompt_logprobs"]) < TOLERANCE  # these skip the cache
    assert merged.model.reset_prefix_cache()
    _assert_same(_observe(merged.model, prompts), fresh["c"])


def test_model_info_carries_the_merged_provenance(merged, family, linear_recipe):
    from lm_eval_iberian.merge import merge_model

    recipe = linear_recipe(family, POINTS["b"])
    merged.reload(recipe)
    from lm_eval_iberian.merge._record import read_merge_record

    info = merged.get_model_info()
    record = read_merge_record(info)  # as report/sweep/grid read it back
    hf = merge_model(recipe, verbose=False)[0].merge_summary.record  # what --model merged records
    for key in ("model_name", "method", "recipe", "recipe_source", "recipe_sha256", "seed", "inputs", "tokenizer"):
        assert getattr(record, key) == getattr(hf, key), key
    assert set(record.versions) == set(hf.versions) | {"vllm"}
    assert record.backend == "vllm" and hf.backend == "hf" and info["model_name"] == record.model_name


def test_a_recipe_that_changes_the_layout_is_refused_before_any_weight_moves(merged, vllm_families, linear_recipe):
    with pytest.raises(RecipeError, match="changes the model's layout"):
        merged.reload(linear_recipe(vllm_families["qwen3"], 1.0))  # tied: no lm_head
