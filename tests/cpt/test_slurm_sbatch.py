"""The shipped `slurm_multinode.sbatch`, unedited, on the CI's Slurm cluster with CPU settings from sbatch options
and environment variables (no venv activated): 2 training processes on one machine, then 2 srun tasks standing in
for 2 machines (machine rank and main process address wired by the script) give the same losses and weights;
a run interrupted after its checkpoint resumes to the same result, writing `final/`."""

import json
import os
import shutil
import socket
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
import yaml

from tests._slurm import slurm_cluster  # noqa: F401  (fixture)
from tests.cpt.conftest import make_config

EXAMPLES = resources.files("lm_eval_iberian.cpt").joinpath("examples")
SETTINGS = {"max_steps": 4, "checkpoint_every": 2, "global_batch_size": 4, "micro_batch_size": 2, "seq_len": 64}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu_accelerate_config(path: Path) -> Path:
    """The shipped multi-node config with its GPU parts swapped for CPU ones: FSDP/bf16 need GPUs here, but the
    launch wiring under test (rendezvous, machines, ranks) is the shipped file's. MULTI_GPU is accelerate's
    torchrun launcher; without CUDA its processes use gloo on the CPU. The FSDP2 device mesh (parallelism_config)
    goes with FSDP (tests/cpt/test_fsdp.py launches the file with its mesh); without it the script passes no mesh."""
    cfg = yaml.safe_load((EXAMPLES / "accelerate_fsdp_multinode.yaml").read_text())
    cfg.pop("fsdp_config")
    cfg.pop("parallelism_config")
    cfg.update(distributed_type="MULTI_GPU", mixed_precision="no")
    path.write_text(yaml.safe_dump(cfg))
    return path


def _submit(tmp_path: Path, config: Path, name: str, tasks_per_node: int, procs_per_task: int, env: dict) -> str:
    """sbatch the shipped script and wait for the job; returns the job's output."""
    log = tmp_path / f"{name}.out"
    proc = subprocess.run(
        ["sbatch", "--wait", "--nodes=1", f"--ntasks-per-node={tasks_per_node}",
         f"--cpus-per-task={2 // tasks_per_node}", f"--output={log}", f"--job-name=cpt-{name}",
         str(EXAMPLES / "slurm_multinode.sbatch"), str(config)],
        env={**env, "CPT_PROCS_PER_TASK": str(procs_per_task), "MASTER_PORT": str(_free_port())},
        capture_output=True, text=True, timeout=400, cwd=tmp_path,
    )
    output = log.read_text() if log.exists() else ""
    assert proc.returncode == 0, (proc.stderr + output)[-4000:]
    return output


def _losses(out: Path) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in map(json.loads, (out / "losses.jsonl").read_text().splitlines())}


def _weights(final: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(final / "model.safetensors")


def test_shipped_sbatch_script_trains_on_one_and_two_machines_and_resumes(
    slurm_cluster, cpt_base, corpora, tmp_path, subprocess_env  # noqa: F811
):
    if slurm_cluster.cpus < 2:
        pytest.skip(f"the cluster has {slurm_cluster.cpus} CPU; the test runs 2 training processes")
    venv_bin = str(Path(sys.executable).parent)
    env = subprocess_env(
        CPT_PYTHON=sys.executable,  # instead of an activated venv: PATH below does not have it
        CPT_ACCELERATE_CONFIG=str(_cpu_accelerate_config(tmp_path / "accelerate_cpu.yaml")),
        PATH=os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != venv_bin),
        OMP_NUM_THREADS="1",
        PYTHONPATH=str(Path(__file__).parents[1] / "_netguard"),  # the tests' network guard (loopback allowed)
    )
    env.pop("VIRTUAL_ENV", None)
    configs = {}
    for name in ("one", "two"):
        cfg = make_config(cpt_base, corpora, tmp_path / name, **SETTINGS)
        configs[name] = tmp_path / f"{name}.yaml"
        configs[name].write_text(yaml.safe_dump(cfg.model_dump(mode="json")))

    one = _submit(tmp_path, configs["one"], "one", tasks_per_node=1, procs_per_task=2, env=env)
    assert "cpt: 1 machine(s) x 2 process(es)" in one
    two = _submit(tmp_path, configs["two"], "two", tasks_per_node=2, procs_per_task=1, env=env)
    assert "cpt: 2 machine(s) x 1 process(es)" in two
    assert sorted(_losses(tmp_path / "one")) == [1, 2, 3, 4]
    assert _losses(tmp_path / "two") == _losses(tmp_path / "one")  # bit-identical floats
    first, second = _weights(tmp_path / "one" / "final"), _weights(tmp_path / "two" / "final")
    assert first.keys() == second.keys() and all(first[k].equal(second[k]) for k in first)
    assert [p.name for p in (tmp_path / "two").glob("checkpoint-*")] == ["checkpoint-00000002"]

    # As if the job had been killed after its checkpoint: the same command, re-submitted, resumes.
    losses = _losses(tmp_path / "two")
    shutil.rmtree(tmp_path / "two" / "final")
    again = _submit(tmp_path, configs["two"], "resume", tasks_per_node=2, procs_per_task=1, env=env)
    assert "resumed from" in again and "checkpoint-00000002" in again
    assert _losses(tmp_path / "two") == losses
    resumed = _weights(tmp_path / "two" / "final")
    assert all(resumed[k].equal(second[k]) for k in second)


@pytest.mark.parametrize(("env", "expected"), [
    ({"CPT_PYTHON": "/usr/bin/false"}, "'/usr/bin/false' cannot import lm_eval_iberian; submit with CPT_PYTHON="),
    ({"CPT_PYTHON": sys.executable}, "no GPUs allocated; submit with --gpus-per-node=N or set CPT_PROCS_PER_TASK=N"),
])
def test_missing_settings_fail_the_job_with_the_fix(slurm_cluster, tmp_path, env, expected):  # noqa: F811
    log = tmp_path / "job.out"
    proc = subprocess.run(["sbatch", "--wait", f"--output={log}", str(EXAMPLES / "slurm_multinode.sbatch"), "c.yaml"],
                          env={k: v for k, v in {**os.environ, **env}.items() if k != "CPT_PROCS_PER_TASK"},
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2 and expected in log.read_text()
