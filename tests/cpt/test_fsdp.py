"""CPT under FSDP, for real, on CPU processes (gloo), launched by `accelerate launch` with the shipped configs.

The accelerate configs are read from the package and changed only in the number of processes/machines (CPU
instead of GPUs). accelerate shards only on accelerator devices, so the runs go through
tests/cpt/fsdp_cpu_launch.py, a test-only shim that turns its silent CPU fallback (DDP) into FSDP; every test
asserts that the run really was sharded (accelerate's FSDP state, per-rank DCP checkpoint files), and one test
asserts that without the shim the trainer refuses the run instead of training unsharded.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import pytest
import yaml

from tests.cpt.conftest import make_config

SHIM = Path(__file__).with_name("fsdp_cpu_launch.py")
EXAMPLES = resources.files("lm_eval_iberian.cpt").joinpath("examples")
# Tiny and short: 8 steps of 8 sequences of 64 tokens, a checkpoint every 2 steps.
RUN = {"max_steps": 8, "global_batch_size": 8, "micro_batch_size": 2, "checkpoint_every": 2, "keep_last": 3}
# What a user of FSDP1 (torch's FullyShardedDataParallel) writes instead of the shipped FSDP2 keys.
FSDP1 = {"fsdp_version": 1, "fsdp_sharding_strategy": "FULL_SHARD", "fsdp_backward_prefetch": "BACKWARD_PRE",
         "fsdp_use_orig_params": True}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _accelerate_config(tmp: Path, name: str, processes: int, fsdp: dict | None = None) -> Path:
    """A shipped accelerate config, with only the process count (and machines) of this CPU machine."""
    cfg = yaml.safe_load(EXAMPLES.joinpath(name).read_text())
    cfg.update(num_processes=processes, num_machines=1, machine_rank=0)
    if fsdp:
        cfg["fsdp_config"].pop("fsdp_reshard_after_forward", None)
        cfg["fsdp_config"].update(fsdp)
    path = tmp / f"accelerate-{name}"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _train_config(cpt_base, corpora, out: Path, **overrides) -> Path:
    cfg = make_config(cpt_base, corpora, out, **{**RUN, **overrides})
    path = out.parent / f"{out.name}.yaml"
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    return path


def _launch(accel: Path, config: Path, env: dict[str, str], *extra: str, shim: bool = True) -> subprocess.Popen:
    accelerate = Path(sys.executable).with_name("accelerate")
    entry = [str(SHIM)] if shim else ["-m", "lm_eval_iberian.cpt"]
    return subprocess.Popen(
        [str(accelerate), "launch", "--config_file", str(accel), "--main_process_port", str(_free_port()), *extra,
         *entry, "--config", str(config)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its own process group: SIGKILL reaches the launcher and every rank, as a node loss
    )


def _finish(proc: subprocess.Popen) -> str:
    output = proc.communicate(timeout=600)[0]
    assert proc.returncode == 0, output[-4000:]
    return output


def _losses(out: Path) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in map(json.loads, (out / "losses.jsonl").read_text().splitlines())}


def _kill_after(proc: subprocess.Popen, out: Path, logged_steps: int) -> None:
    log = out / "losses.jsonl"
    deadline = time.time() + 600
    while time.time() < deadline:
        if log.exists() and len(log.read_text().splitlines()) >= logged_steps:
            break
        assert proc.poll() is None, proc.stdout.read()[-4000:]
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "final").exists(), "the run finished before it was killed"


def _assert_sharded(out: Path, ranks: int, fsdp_version: int) -> dict:
    marker = json.loads((out / "cpt_run.json").read_text())
    launch = marker["launch"]
    assert (launch["distributed_type"], launch["fsdp_version"], launch["world_size"]) == ("FSDP", fsdp_version, ranks)
    assert launch["state_dict_type"] == "SHARDED_STATE_DICT"
    for ckpt in out.glob("checkpoint-*"):  # one DCP shard file per rank, for the model and for the optimizer
        for part in ("pytorch_model_fsdp_0", "optimizer_0"):
            assert sorted(p.name for p in (ckpt / part).iterdir()) == [".metadata", *(f"__{r}_0.distcp" for r in range(ranks))]
        assert not list(ckpt.glob("*.safetensors")) and not list(ckpt.glob("*.bin"))  # no whole-model file (DDP)
    return marker


def _state_dict(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(folder / "model.safetensors")


def _interrupted_run_matches(straight: Path, accel: Path, config: Path, out: Path, env: dict[str, str]) -> str:
    """Kill a run (all ranks, SIGKILL) after its first checkpoint, resume it, compare with the straight run."""
    _kill_after(_launch(accel, config, env), out, logged_steps=3)
    killed_at = len((out / "losses.jsonl").read_text().splitlines())
    output = _finish(_launch(accel, config, env))
    resumed = [line for line in output.splitlines() if line.startswith("resumed from")]
    assert len(resumed) == 1 and "checkpoint-0000000" in resumed[0], output[-3000:]
    # The trainer checks every AdamW step counter after loading; it also says how many states it loaded.
    assert int(resumed[0].split("optimizer state of ")[1].split()[0]) > 0
    assert 3 <= killed_at < RUN["max_steps"]
    assert _losses(out) == _losses(straight)  # bit for bit, every step
    final, reference = _state_dict(out / "final"), _state_dict(straight / "final")
    assert final.keys() == reference.keys() and all((final[k] == reference[k]).all() for k in final)
    return resumed[0]


@pytest.fixture(scope="module")
def fsdp_env(subprocess_env):
    """The tests' environment without the network guard for the launcher: accelerate probes its rendezvous port
    through localhost. The shim puts the guard back into every rank; the runs stay offline (HF_HUB_OFFLINE)."""
    env = subprocess_env(OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in env["PYTHONPATH"].split(os.pathsep) if "_netguard" not in p)
    return env


@pytest.fixture(scope="module")
def fsdp2_straight(cpt_base, corpora, tmp_path_factory, fsdp_env):
    """One uninterrupted FSDP2 run with the shipped 1-node config on 2 CPU processes."""
    tmp = tmp_path_factory.mktemp("fsdp2")
    accel = _accelerate_config(tmp, "accelerate_fsdp_1node.yaml", 2)
    out = tmp / "straight"
    output = _finish(_launch(accel, _train_config(cpt_base, corpora, out), fsdp_env))
    return tmp, accel, out, output


def test_fsdp2_shipped_config_trains_sharded_and_exports_a_plain_model(fsdp2_straight, cpt_base):
    from transformers import AutoModelForCausalLM

    _, _, out, output = fsdp2_straight
    assert "distributed_type=FSDP, world_size=2, device=cpu, fsdp_version=2" in output
    _assert_sharded(out, ranks=2, fsdp_version=2)
    assert json.loads((out / "cpt_run.json").read_text())["status"] == "finished"
    losses = list(_losses(out).values())
    assert len(losses) == RUN["max_steps"] and losses[-1] < losses[0]
    # final/ is one plain safetensors file gathered from the shards: every weight, trained (not the base).
    model = AutoModelForCausalLM.from_pretrained(out / "final")
    base = AutoModelForCausalLM.from_pretrained(cpt_base).state_dict()
    trained = model.state_dict()
    assert trained.keys() == base.keys()
    assert all(trained[k].shape == base[k].shape for k in base)
    assert any(not (trained[k] == base[k]).all() for k in base)


def test_fsdp2_sigkill_and_resume_gives_the_same_losses_and_final_model(fsdp2_straight, cpt_base, corpora, fsdp_env):
    tmp, accel, straight, _ = fsdp2_straight
    out = tmp / "killed"
    _interrupted_run_matches(straight, accel, _train_config(cpt_base, corpora, out), out, fsdp_env)
    marker = _assert_sharded(out, ranks=2, fsdp_version=2)
    assert marker["status"] == "finished" and len(marker["resumed_from"]) == 1


def test_fsdp1_resume_restores_the_optimizer_state(cpt_base, corpora, tmp_path, fsdp_env):
    """FSDP1 (the earlier shipped fsdp_version: 1): accelerate's sharded optimizer load needs a filled state."""
    # CPU-only differences: FSDP1 refuses sync_module_states (which cpu_ram_efficient_loading forces) on CPU,
    # and its device_id must read `cpu` (the shim's docstring).
    accel = _accelerate_config(tmp_path, "accelerate_fsdp_1node.yaml", 2, {
        **FSDP1, "fsdp_cpu_ram_efficient_loading": False, "fsdp_sync_module_states": False})
    env = {**fsdp_env, "ACCELERATE_TORCH_DEVICE": "cpu"}
    straight = tmp_path / "straight"
    _finish(_launch(accel, _train_config(cpt_base, corpora, straight), env))
    _assert_sharded(straight, ranks=2, fsdp_version=1)
    out = tmp_path / "killed"
    _interrupted_run_matches(straight, accel, _train_config(cpt_base, corpora, out), out, env)


def test_multinode_config_hybrid_shards_2_replicas_of_2_shards(fsdp2_straight, cpt_base, corpora, tmp_path, fsdp_env):
    """The shipped multi-node config (HSDP) on 4 CPU processes as 2 'nodes' x 2 'GPUs', sizes given as sbatch does."""
    _, _, one_node, _ = fsdp2_straight
    accel = _accelerate_config(tmp_path, "accelerate_fsdp_multinode.yaml", 4)
    out = tmp_path / "hsdp"
    output = _finish(_launch(accel, _train_config(cpt_base, corpora, out), fsdp_env,
                             "--parallelism_config_dp_replicate_size", "2", "--parallelism_config_dp_shard_size", "2"))
    marker = _assert_sharded(out, ranks=4, fsdp_version=2)
    assert marker["launch"]["mesh"] == {"dp_replicate": 2, "dp_shard": 2}, output[-3000:]
    # Same global batch and data as the 1-node run (2 ranks x 2 micro-batches there, 4 x 1 here): the same
    # per-token losses up to the order of the bf16 gradient reductions (measured: at most 8e-5 over 8 steps).
    a, b = _losses(one_node), _losses(out)
    assert a.keys() == b.keys() and max(abs(a[k] - b[k]) for k in a) < 5e-4, (a, b)


def test_fsdp_asked_on_cpu_without_the_shim_is_refused_before_anything_loads(cpt_base, corpora, tmp_path, fsdp_env):
    """accelerate would silently train unsharded (DDP); the trainer refuses, naming what it got and what to do."""
    accel = _accelerate_config(tmp_path, "accelerate_fsdp_1node.yaml", 2)
    out = tmp_path / "run"
    proc = _launch(accel, _train_config(cpt_base, corpora, out), fsdp_env, shim=False)
    output = proc.communicate(timeout=600)[0]
    assert proc.returncode != 0
    errors = [line for line in output.splitlines() if line.startswith("lm-eval-iberian cpt: error:")]
    assert len(errors) == 2, output[-3000:]  # one line per rank
    assert "asks for FSDP but accelerate set up MULTI_CPU with 2 process(es) on CPU" in errors[0]
    assert "Run on GPU nodes" in errors[0]
    assert "cpt/loop.py" not in output  # no traceback of the trainer
    assert not out.exists() and not (tmp_path / "cache").exists()  # refused before any output, cache or model
