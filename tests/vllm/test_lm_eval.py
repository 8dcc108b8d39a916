"""`lm_eval --model merged_vllm` against `--model merged` (HF) on the same recipe, through lm-eval's own CLI:
identical greedy generations and per-sample loglikelihoods within 1e-5 (float32), on an iberian_* multiple-choice
task, a Flores direction and an IFEval task of the demo mirror."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

TASKS = ["iberian_eus_trivia", "iberian_flores_es-eu", "iberian_ifeval_eu"]
LIMIT = "4"


def _run(model: str, model_args: str, batch_size: str, out: Path, env: dict[str, str]) -> dict[str, list[dict]]:
    lm_eval = Path(sys.executable).with_name("lm_eval")
    proc = subprocess.run(
        [str(lm_eval), "--model", model, "--model_args", model_args, "--tasks", ",".join(TASKS), "--limit", LIMIT,
         "--batch_size", batch_size, "--gen_kwargs", "max_gen_toks=24", "--log_samples", "--output_path", str(out), "--seed", "0"],
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]  # no --device: lm-eval's CLI passes cuda:0 on this CPU machine
    samples = {}
    for task in TASKS:
        (path,) = out.rglob(f"samples_{task}_*.jsonl")
        samples[task] = sorted((json.loads(line) for line in path.read_text().splitlines()), key=lambda s: s["doc_id"])
    (results,) = out.rglob("results_*.json")
    assert results.parent.name.startswith("merged-linear-")  # named from the recipe by both backends
    return {"samples": samples, "results": json.loads(results.read_text())}


@pytest.fixture(scope="module")
def runs(vllm_families, tmp_path_factory, subprocess_env):
    fam = vllm_families["qwen3"]  # tied embeddings: the engine folder must say so, or vLLM keeps a random lm_head
    recipe = f"method=linear,models={fam['expert']}@0.5+{fam['instruct']}@1.0,seed=0,dtype=float32"
    root = tmp_path_factory.mktemp("lm_eval")
    # The CLI as users run it: vLLM's default engine-core process (not the in-process engine of the other tests).
    env = subprocess_env(VLLM_ENABLE_V1_MULTIPROCESSING="1")
    return {
        "hf": _run("merged", f"{recipe},max_length=2048", "4", root / "hf", env),
        "vllm": _run("merged_vllm", f"{recipe},max_model_len=2048,enforce_eager=True", "auto", root / "vllm", env),
    }


def _loglikelihoods(sample: dict) -> list[float]:
    return [float(resp[0][0]) for resp in sample["resps"]]


def test_multiple_choice_loglikelihoods_agree(runs):
    hf, vl = runs["hf"]["samples"]["iberian_eus_trivia"], runs["vllm"]["samples"]["iberian_eus_trivia"]
    assert len(hf) == len(vl) == int(LIMIT)
    for a, b in zip(hf, vl, strict=True):
        assert a["arguments"] == b["arguments"]  # same prompts
        assert _loglikelihoods(a) == pytest.approx(_loglikelihoods(b), abs=1e-5, rel=0)
        assert [r[0][1] for r in a["resps"]] == [r[0][1] for r in b["resps"]]  # is_greedy


@pytest.mark.parametrize("task", ["iberian_flores_es-eu", "iberian_ifeval_eu"])
def test_greedy_generations_are_identical(runs, task):
    hf, vl = runs["hf"]["samples"][task], runs["vllm"]["samples"][task]
    assert len(hf) == len(vl) == int(LIMIT)
    for a, b in zip(hf, vl, strict=True):
        assert a["arguments"] == b["arguments"]
        assert a["resps"] == b["resps"]
    assert any(s["resps"][0][0].strip() for s in hf)  # something was generated


def test_results_carry_the_same_provenance(runs):
    from lm_eval_iberian.merge._record import read_merge_record

    hf, vl = (read_merge_record(runs[k]["results"]["config"]) for k in ("hf", "vllm"))
    assert (hf.backend, vl.backend) == ("hf", "vllm")
    for key in ("model_name", "recipe", "recipe_sha256", "seed", "inputs", "tokenizer"):
        assert getattr(vl, key) == getattr(hf, key), key
    for task in TASKS:
        assert runs["vllm"]["results"]["results"][task] == runs["hf"]["results"]["results"][task]
