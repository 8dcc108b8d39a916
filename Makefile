# Two commands set everything up on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# torch first, pinned to the CPU wheel: a plain `torch` requirement pulls a multi-GB CUDA build.
TORCH ?= torch==2.13.0
# Second venv for the vLLM tests (tests/vllm): vLLM's CPU build pins transformers<5.20 (scripts/build_vllm_env.sh).
VLLM_VENV ?= .venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.installed

.PHONY: install demo test lint bench clean vllm-env test-vllm

$(STAMP): setup.cfg setup.py
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

$(VLLM_STAMP): setup.cfg setup.py scripts/build_vllm_env.sh
	bash scripts/build_vllm_env.sh $(VLLM_VENV)
	touch $(VLLM_STAMP)

vllm-env: $(VLLM_STAMP)

test-vllm: $(VLLM_STAMP)
	IBERIAN_REQUIRE_VLLM=1 $(VLLM_VENV)/bin/python -m pytest tests/vllm

demo: $(STAMP)
	$(VENV)/bin/lm-eval-iberian demo --out demo_out

# pytest runs inside a single-node Slurm cluster (.ci/slurm-cluster: started before, stopped after, even on failure;
# where it cannot start, the tests that need it skip with the reason); then the vLLM tests in their own venv, where
# a missing vLLM fails instead of skipping (IBERIAN_REQUIRE_VLLM=1).
test: $(STAMP) $(VLLM_STAMP)
	$(VENV)/bin/ruff check .
	bash .ci/slurm-cluster run -- $(VENV)/bin/python -m pytest --ignore=tests/vllm
	IBERIAN_REQUIRE_VLLM=1 $(VLLM_VENV)/bin/python -m pytest tests/vllm

bench: $(STAMP)
	$(PY) bench/startup.py

clean:
	rm -rf $(VENV) $(VLLM_VENV) demo_out build *.egg-info
