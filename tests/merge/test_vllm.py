"""--model merged_vllm: the parts that run without vLLM here, and the real engine where vLLM and CUDA exist."""

import importlib.util

import pytest
import torch

from lm_eval_iberian.merge import MergeRecipe, merge_model
from lm_eval_iberian.merge._vllm import LoadMergedWeights, write_engine_folder

HAS_VLLM = importlib.util.find_spec("vllm") is not None


def _recipe(fam):
    return MergeRecipe.from_mergekit_dict({
        "merge_method": "task_arithmetic", "dtype": "float32", "base_model": str(fam["base"]),
        "models": [{"model": str(fam["expert"]), "parameters": {"weight": 1.0}}, {"model": str(fam["instruct"]), "parameters": {"weight": 1.0}}],
    }, seed=0)


@pytest.mark.parametrize("family", ["llama", "qwen3"])
def test_engine_folder_has_config_and_tokenizer_but_no_weights(tiny_families, tmp_path, family):
    from transformers import AutoConfig, AutoTokenizer

    out = write_engine_folder(_recipe(tiny_families[family]), tmp_path / "engine")
    config = AutoConfig.from_pretrained(out)
    assert config.model_type == family and config.tie_word_embeddings == (family == "qwen3")
    assert AutoTokenizer.from_pretrained(out).chat_template
    assert not list(out.glob("*.safetensors")) and not list(out.glob("*.bin"))


class _FakeVllmModel:
    """What LoadMergedWeights needs from a vLLM model: parameters() for the device, load_weights(iterable)."""

    def __init__(self):
        self.loaded: dict[str, torch.Tensor] = {}
        self._p = torch.nn.Parameter(torch.zeros(1))

    def parameters(self):
        yield self._p

    def load_weights(self, weights):
        for name, tensor in weights:
            self.loaded[name] = tensor
        return set(self.loaded)


def test_worker_side_loader_streams_exactly_the_merged_tensors(tiny_families):
    recipe = _recipe(tiny_families["llama"])
    fake = _FakeVllmModel()
    count = LoadMergedWeights(recipe.to_dict(), recipe.seed, None)(fake)
    expected, _ = merge_model(recipe, device="cpu", verbose=False)
    state = expected.state_dict()
    assert count == len(fake.loaded) == len(state)
    for name, tensor in fake.loaded.items():
        assert torch.equal(tensor, state[name]), name


@pytest.mark.skipif(HAS_VLLM, reason="checks the message shown when vLLM is missing")
def test_without_vllm_the_error_names_the_extra():
    from lm_eval.api.registry import get_model

    with pytest.raises(ImportError, match=r"pip install 'lm-eval-iberian\[vllm\]'"):
        get_model("merged_vllm")


@pytest.mark.skipif(not (HAS_VLLM and torch.cuda.is_available()), reason="needs vLLM and a CUDA GPU (bench/gpu_check.sh)")
def test_vllm_greedy_matches_hf_merged(tiny_families):  # pragma: no cover - GPU only
    import lm_eval

    from lm_eval_iberian import tasks_path

    fam = tiny_families["qwen3"]
    inline = f"method=task_arithmetic,base={fam['base']},models={fam['expert']}@1.0+{fam['instruct']}@1.0,dtype=float32,seed=0"
    common = dict(tasks=["iberian_ifeval_eu"], limit=4, gen_kwargs="max_gen_toks=16", bootstrap_iters=0, log_samples=True,
                  task_manager=lm_eval.tasks.TaskManager(include_path=tasks_path()))
    hf = lm_eval.simple_evaluate(model="merged", model_args=inline + ",batch_size=4", **common)
    vl = lm_eval.simple_evaluate(model="merged_vllm", model_args=inline + ",gpu_memory_utilization=0.3,max_model_len=1024", **common)
    a = sorted(hf["samples"]["iberian_ifeval_eu"], key=lambda s: s["doc_id"])
    b = sorted(vl["samples"]["iberian_ifeval_eu"], key=lambda s: s["doc_id"])
    assert [s["resps"] for s in a] == [s["resps"] for s in b]
