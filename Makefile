# Two commands set everything up on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# torch first, pinned to the CPU wheel: a plain `torch` requirement pulls a multi-GB CUDA build.
TORCH ?= torch==2.13.0

.PHONY: install demo test lint bench clean

$(STAMP): setup.cfg setup.py
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/lm-eval-iberian demo --out demo_out

# pytest runs inside a single-node Slurm cluster (.ci/slurm-cluster: started before, stopped after, even on failure;
# where it cannot start, the tests that need it skip with the reason).
test: $(STAMP)
	$(VENV)/bin/ruff check .
	bash .ci/slurm-cluster run -- $(VENV)/bin/python -m pytest

bench: $(STAMP)
	$(PY) bench/startup.py

clean:
	rm -rf $(VENV) demo_out build *.egg-info
