"""The training loop on a tiny model: learning, golden losses, exact resume after SIGKILL, outputs."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.cpt.conftest import make_config


def _losses(out: Path) -> dict[int, float]:
    steps: dict[int, float] = {}
    for line in (out / "losses.jsonl").read_text().splitlines():
        record = json.loads(line)
        steps[record["step"]] = record["loss"]  # a resumed run re-logs the steps after its checkpoint
    return steps


def test_loss_decreases_and_the_output_is_a_plain_hf_model(cpt_base, corpora, tmp_path):
    from lm_eval_iberian.cpt import train
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "run"
    final = train(make_config(cpt_base, corpora, out, max_steps=30, checkpoint_every=10, tensorboard=True))
    losses = list(_losses(out).values())
    assert len(losses) == 30
    assert sum(losses[-5:]) / 5 < losses[0] - 0.5, losses
    model = AutoModelForCausalLM.from_pretrained(final)
    assert AutoTokenizer.from_pretrained(final).eos_token_id is not None
    assert (final / "model.safetensors").is_file() and model.config.model_type == "llama"
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-00000010", "checkpoint-00000020"]
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    first = json.loads((out / "losses.jsonl").read_text().splitlines()[0])
    assert first["lr"] == pytest.approx(0.0) and first["tokens"] == 4 * 64 and first["tokens_per_s"] > 0


def test_golden_losses(cpt_base, corpora, tmp_path):
    """Fixed seed, fixed tiny model and data: the first losses are pinned (torch==2.13.0 CPU)."""
    from lm_eval_iberian.cpt import train

    out = tmp_path / "golden"
    train(make_config(cpt_base, corpora, out, max_steps=4, checkpoint_every=100))
    losses = [round(v, 4) for v in _losses(out).values()]
    assert losses[0] == pytest.approx(6.9345, abs=2e-3)  # ln(1024): an untrained 1024-token model
    # The tiny tokenizer and corpora come from the demo mirror: if its text changes, re-pin these.
    assert losses == pytest.approx(GOLDEN, abs=1e-3), losses


GOLDEN = [6.9345, 6.925, 6.9376, 6.9141]


def _write_config(cpt_base, corpora, out: Path, **overrides) -> Path:
    cfg = make_config(cpt_base, corpora, out, **overrides)
    path = out.parent / f"{out.name}.yaml"
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    return path


def _run(config: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "lm_eval_iberian.cpt", "--config", str(config)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def test_sigkill_then_resume_gives_the_same_losses_bit_for_bit(cpt_base, corpora, tmp_path, subprocess_env):
    settings = {"max_steps": 40, "seq_len": 256, "global_batch_size": 8, "checkpoint_every": 5, "keep_last": 2}
    env = subprocess_env()
    straight = tmp_path / "straight"
    proc = _run(_write_config(cpt_base, corpora, straight, **settings), env)
    assert proc.wait(timeout=600) == 0, proc.stdout.read()[-3000:]

    killed = tmp_path / "killed"
    config = _write_config(cpt_base, corpora, killed, **settings)
    proc = _run(config, env)
    deadline = time.time() + 600
    while time.time() < deadline:
        log = killed / "losses.jsonl"
        if log.exists() and len(log.read_text().splitlines()) >= 13:
            break
        assert proc.poll() is None, "the run ended before it could be killed"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    interrupted_at = len((killed / "losses.jsonl").read_text().splitlines())
    assert 13 <= interrupted_at < 40 and not (killed / "final").exists()

    proc = _run(config, env)
    output = proc.communicate(timeout=600)[0]
    assert proc.returncode == 0, output[-3000:]
    assert "resumed from" in output and ("checkpoint-00000010" in output or "checkpoint-00000015" in output)
    assert _losses(killed) == _losses(straight)  # exact float equality, every step
    steps = [json.loads(x)["step"] for x in (killed / "losses.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 41))  # the steps logged after the checkpoint by the killed run were dropped


def test_half_written_checkpoint_is_ignored(cpt_base, corpora, tmp_path):
    from lm_eval_iberian.cpt import train

    out = tmp_path / "run"
    train(make_config(cpt_base, corpora, out, max_steps=4, checkpoint_every=2))
    (out / "checkpoint-00000004.tmp").mkdir()  # as a run killed while saving leaves it
    from lm_eval_iberian.cpt.rundir import checkpoints

    assert [p.name for p in checkpoints(out)] == ["checkpoint-00000002"]


def test_cli_entry_point_and_bad_config(cpt_base, corpora, tmp_path, subprocess_env):
    config = _write_config(cpt_base, corpora, tmp_path / "cli", max_steps=2)
    cli = Path(sys.executable).with_name("lm-eval-iberian")
    ok = subprocess.run([str(cli), "cpt", "train", "--config", str(config), "optim.lr=1e-4"], env=subprocess_env(),
                        capture_output=True, text=True, timeout=600)
    assert ok.returncode == 0, ok.stderr[-3000:]
    assert "final model:" in ok.stdout and (tmp_path / "cli" / "final" / "config.json").is_file()
    bad = subprocess.run([str(cli), "cpt", "train", "--config", str(config), "optim.schedule=wsd"], env=subprocess_env(),
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "optim.schedule: Input should be 'cosine', 'linear' or 'constant'" in bad.stderr


def test_two_ranks_under_torchrun_match_one_process(cpt_base, corpora, tmp_path, subprocess_env):
    """torchrun with 2 CPU ranks (gloo): same global batch, same per-token loss as one process."""
    settings = {"max_steps": 6, "global_batch_size": 8, "micro_batch_size": 2, "checkpoint_every": 3}
    one = tmp_path / "one"
    proc = _run(_write_config(cpt_base, corpora, one, **settings), subprocess_env())
    assert proc.wait(timeout=600) == 0, proc.stdout.read()[-3000:]
    two = tmp_path / "two"
    config = _write_config(cpt_base, corpora, two, **settings)
    torchrun = Path(sys.executable).with_name("torchrun")
    res = subprocess.run(
        [str(torchrun), "--nproc_per_node", "2", "--master_port", "29517", "-m", "lm_eval_iberian.cpt", "--config", str(config)],
        env=subprocess_env(), capture_output=True, text=True, timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    a, b = _losses(one), _losses(two)
    assert a.keys() == b.keys() and all(abs(a[k] - b[k]) < 1e-5 for k in a), (a, b)
    assert (two / "final" / "model.safetensors").is_file()


def test_shipped_examples_are_valid():
    """Parsed here; launched for real (FSDP2 on CPU processes) in test_fsdp.py."""
    from importlib import resources

    from accelerate.commands.config.config_args import load_config_from_file
    from lm_eval_iberian.cpt import load_config

    examples = resources.files("lm_eval_iberian.cpt").joinpath("examples")
    for name in ("accelerate_fsdp_1node.yaml", "accelerate_fsdp_multinode.yaml"):
        cfg = load_config_from_file(str(examples / name))
        assert cfg.distributed_type.value == "FSDP" and cfg.fsdp_config["fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"
        assert cfg.fsdp_config["fsdp_version"] == 2 and cfg.fsdp_config["fsdp_state_dict_type"] == "SHARDED_STATE_DICT"
    multinode = load_config_from_file(str(examples / "accelerate_fsdp_multinode.yaml"))
    assert multinode.parallelism_config == {"parallelism_config_dp_replicate_size": 32, "parallelism_config_dp_shard_size": 4}
    paper = load_config(examples / "eu_qwen3_8b.yaml")
    assert (paper.seq_len, paper.global_batch_size, paper.optim.lr, paper.dtype) == (8192, 256, 1e-5, "bfloat16")
    sbatch = (examples / "slurm_multinode.sbatch").read_text()
    assert "accelerate.commands.launch" in sbatch and '--machine_rank "$SLURM_PROCID"' in sbatch and "-m lm_eval_iberian.cpt" in sbatch


def test_sdpa_varlen_trains_as_transformers_masked_sdpa(cpt_base, corpora, tmp_path):
    """The default attention (sdpa_varlen) and transformers' block-diagonal sdpa mask give the same run."""
    from lm_eval_iberian.cpt import train
    from transformers import AutoConfig

    losses = {}
    for attn in ("sdpa_varlen", "sdpa"):
        out = tmp_path / attn
        final = train(make_config(cpt_base, corpora, out, max_steps=4, checkpoint_every=100, attn_implementation=attn))
        losses[attn] = list(_losses(out).values())
        # The saved model names no attention of ours: it loads anywhere (lm-eval, vLLM, merges).
        assert "sdpa_varlen" not in (final / "config.json").read_text()
        assert AutoConfig.from_pretrained(final).model_type == "llama"
    assert losses["sdpa_varlen"] == pytest.approx(losses["sdpa"], abs=1e-5)
