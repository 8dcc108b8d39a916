"""CPT config: the paper's defaults, overrides, and errors that name the bad value."""

import pytest
from lm_eval_iberian.cpt import ConfigError, load_config

BASE = {
    "model": "base",
    "output_dir": "out",
    "data": {"sources": [{"name": "eu", "path": "eu.jsonl", "ratio": 0.9}, {"name": "en", "hub": "x/y", "ratio": 0.1}]},
    "max_steps": 10,
}


def test_defaults_are_the_papers_recipe():
    cfg = load_config(None, None, **BASE)
    assert (cfg.seq_len, cfg.global_batch_size, cfg.micro_batch_size) == (8192, 256, 1)
    assert (cfg.optim.lr, cfg.optim.betas, cfg.optim.weight_decay) == (1e-5, (0.9, 0.95), 0.1)
    assert (cfg.optim.schedule, cfg.optim.warmup_ratio, cfg.dtype, cfg.activation_checkpointing) == ("cosine", 0.1, "bfloat16", True)
    assert cfg.tokens_per_step == 256 * 8192  # ~2M tokens per step, as the paper
    assert cfg.grad_accumulation(world_size=128) == 2


def test_overrides_use_dotted_keys_and_yaml_values(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: base\noutput_dir: out\nmax_steps: 3\ndata:\n  sources:\n    - {name: eu, path: a.jsonl, ratio: 1}\n")
    cfg = load_config(path, ["optim.lr=2e-5", "data.sources.0.ratio=0.5", "seq_len=4096", "optim.betas=[0.9, 0.99]"])
    assert (cfg.optim.lr, cfg.data.sources[0].ratio, cfg.seq_len, cfg.optim.betas) == (2e-5, 0.5, 4096, (0.9, 0.99))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dtype": "bf16"}, "dtype: Input should be 'bfloat16', 'float16' or 'float32' (got 'bf16')"),
        ({"optim": {"schedule": "cosine_restarts"}}, "optim.schedule: Input should be 'cosine', 'linear' or 'constant'"),
        ({"seq_len": 0}, "seq_len: Input should be greater than or equal to 8 (got 0)"),
        ({"max_tokens": 1000}, "give exactly one of max_steps or max_tokens"),
        ({"learning_rate": 1e-4}, "learning_rate: Extra inputs are not permitted"),
        ({"data": {"sources": [{"name": "eu", "path": "a", "hub": "b", "ratio": 1}]}}, "give exactly one of path="),
        ({"data": {"sources": [{"name": "eu", "path": "a", "ratio": 0}]}}, "data.sources.0.ratio: Input should be greater than 0"),
        ({"data": {"sources": []}}, "data.sources: List should have at least 1 item"),
    ],
)
def test_bad_values_are_named(change, message):
    with pytest.raises(ConfigError) as err:
        load_config(None, None, **{**BASE, **change})
    assert message in str(err.value)


def test_global_batch_must_split_over_ranks_and_micro_batches():
    cfg = load_config(None, None, **{**BASE, "global_batch_size": 256, "micro_batch_size": 3})
    with pytest.raises(ConfigError, match=r"global_batch_size=256 is not a multiple of micro_batch_size=3 x world size 1; choose micro_batch_size in \[1, 2, 4"):
        cfg.grad_accumulation(1)


def test_bad_overrides_and_files(tmp_path):
    with pytest.raises(ConfigError, match="must look like key=value"):
        load_config(None, ["optim.lr"], **BASE)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(tmp_path / "list.yaml")


def test_flash_attention_needs_micro_batch_one():
    with pytest.raises(ConfigError, match="flash_attention_2 keeps documents apart only with micro_batch_size=1"):
        load_config(None, None, **{**BASE, "attn_implementation": "flash_attention_2", "micro_batch_size": 2})
    assert load_config(None, None, **{**BASE, "attn_implementation": "flash_attention_2"}).micro_batch_size == 1


@pytest.mark.parametrize(("raw", "expected"), [("yes", True), ("no", False), ("On", True), ("OFF", False), ("true", True),
                                               ("False", False), ("1", True), ("0", False)])
def test_booleans_take_the_projects_spellings(tmp_path, raw, expected):
    path = tmp_path / "c.yaml"
    path.write_text(f"model: base\noutput_dir: out\nmax_steps: 3\nresume: {raw}\ndata:\n  sources:\n    - {{name: eu, path: a, ratio: 1}}\n")
    assert load_config(path).resume is expected  # YAML's own yes/no/on/off, and the same words as strings
    assert load_config(None, [f"tensorboard='{raw}'"], **BASE).tensorboard is expected


@pytest.mark.parametrize("bad", ["maybe", "2", "y", "t", "1.0", "''"])
def test_anything_else_is_not_a_boolean(bad):
    with pytest.raises(ConfigError) as err:
        load_config(None, [f"resume={bad}"], **BASE)
    assert "resume: Value error, not a boolean; write one of true/false, 1/0, yes/no, on/off (any case)" in str(err.value)
