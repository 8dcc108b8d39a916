"""--model merged_vllm: the parts that need no vLLM (the engine itself is tested in tests/vllm, in .venv-vllm)."""

import importlib.util

import pytest
import torch

from lm_eval_iberian.merge import MergeRecipe, RecipeError, merge_model
from lm_eval_iberian.merge._vllm import MergeWorkerExtension, write_engine_folder

HAS_VLLM = importlib.util.find_spec("vllm") is not None


def _recipe(fam):
    return MergeRecipe.from_mergekit_dict({
        "merge_method": "task_arithmetic", "dtype": "float32", "base_model": str(fam["base"]),
        "models": [{"model": str(fam["expert"]), "parameters": {"weight": 1.0}}, {"model": str(fam["instruct"]), "parameters": {"weight": 1.0}}],
    }, seed=0)  # fmt: skip


@pytest.mark.parametrize("family", ["llama", "qwen3"])
def test_engine_folder_has_config_and_tokenizer_but_no_weights(tiny_families, tmp_path, family):
    from transformers import AutoConfig, AutoTokenizer

    out = write_engine_folder(_recipe(tiny_families[family]), tmp_path / "engine")
    config = AutoConfig.from_pretrained(out)
    # Served untied even for a tied merge: vLLM's in-place reload leaves a tied lm_head at its dummy values.
    assert config.model_type == family and config.tie_word_embeddings is False
    assert AutoTokenizer.from_pretrained(out).chat_template
    assert not list(out.glob("*.safetensors")) and not list(out.glob("*.bin"))


class _FakeWorker(MergeWorkerExtension):
    """What the extension uses of a vLLM worker: ``device`` and ``reload_weights(weights_iterator=...)``."""

    device = torch.device("cpu")

    def __init__(self, read_all: bool = True):
        self.loaded: dict[str, torch.Tensor] = {}
        self.read_all = read_all

    def reload_weights(self, weights_iterator, is_checkpoint_format=True):
        assert is_checkpoint_format
        for name, tensor in weights_iterator:
            self.loaded[name] = tensor
            if not self.read_all:
                return


@pytest.mark.parametrize("family", ["llama", "qwen3"])
def test_worker_extension_streams_exactly_the_merged_tensors(tiny_families, family):
    recipe = _recipe(tiny_families[family])
    worker = _FakeWorker()
    count = worker.load_merged_weights(recipe.to_dict(), recipe.seed, None)
    expected, _ = merge_model(recipe, device="cpu", verbose=False)
    state = expected.state_dict()  # a tied model lists lm_head.weight too: the engine gets it as its own tensor
    assert count == len(worker.loaded) == len(state)
    for name, tensor in worker.loaded.items():
        assert torch.equal(tensor, state[name]), name


def test_worker_extension_fails_when_the_engine_stops_reading(tiny_families):
    recipe = _recipe(tiny_families["llama"])
    with pytest.raises(RuntimeError, match="stopped reading the merged tensors after 1"):
        _FakeWorker(read_all=False).load_merged_weights(recipe.to_dict(), recipe.seed, None)


@pytest.mark.skipif(HAS_VLLM, reason="checks the message shown when vLLM is missing")
def test_without_vllm_the_error_names_the_extra():
    from lm_eval.api.registry import get_model

    with pytest.raises(ImportError, match=r"pip install 'lm-eval-iberian\[vllm\]'"):
        get_model("merged_vllm")


def test_bad_recipe_fails_before_any_engine(tiny_families, monkeypatch):
    """RecipeError from the model arguments, before lm-eval's VLLM (and so vLLM's engine) is constructed."""
    from lm_eval_iberian.merge import _vllm

    class Engine:  # stands in for lm-eval's VLLM: reaching it would mean the engine starts
        def __init__(self, **kwargs):
            raise AssertionError("the engine was started")

    monkeypatch.setattr(_vllm, "_vllm_base", lambda: Engine)
    cls = _vllm._make_class()
    fam = tiny_families["llama"]
    with pytest.raises(RecipeError, match="no such folder"):
        cls(method="linear", models=f"{fam['expert']}@1+/nonexistent/model@1")
    with pytest.raises(RecipeError, match="load_format is set by merged_vllm"):
        cls(method="linear", models=f"{fam['expert']}@1+{fam['instruct']}@1", load_format="auto")
    with pytest.raises(RecipeError, match="not data_parallel_size"):
        cls(method="linear", models=f"{fam['expert']}@1+{fam['instruct']}@1", data_parallel_size=2)
