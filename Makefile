# Front door. `make demo` and `make test` work on a fresh machine with python3 (>= 3.10):
# they create .venv with the pinned requirements, then run the demo pipeline or the tests.
# TORCH_INDEX=<PyTorch wheel index> installs torch from there first (CPU-only or a CUDA version;
# see docs/dependencies.md, "Installing torch").
VENV ?= .venv
TORCH_INDEX ?=
TORCH_PIN := $(shell grep -E '^torch==' requirements.txt)
PY := $(VENV)/bin/python
# Snakemake's shell jobs call `vjepa-fer`, so the venv's bin must be on PATH for them.
export PATH := $(abspath $(VENV))/bin:$(PATH)

# The demo's outputs and its HTML report (tables, figures, run information; one file).
DEMO_RESULTS ?= results/demo
DEMO_REPORT := $(DEMO_RESULTS)/report.html

.PHONY: install demo report test test-fast lint clean-demo

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(if $(TORCH_INDEX),$(PY) -m pip install --quiet "$(TORCH_PIN)" --index-url $(TORCH_INDEX))
	$(PY) -m pip install --quiet -r requirements-dev.txt -e .
	touch $@

install: $(VENV)/.installed

demo: install
	snakemake all --cores 2 --configfile config.demo.yaml
	$(MAKE) --no-print-directory report

# The Snakemake report of the demo's finished outputs (run after `make demo`).
report: install
	snakemake --configfile config.demo.yaml --report $(DEMO_REPORT)

# Tests run on every core (pytest-xdist): whole files go to one worker each (module fixtures such
# as the demo run are built once), longest files first (tests/conftest.py orders them). Two
# workers each running a pipeline (some with --cores 8) ask for more cores than 2 exist, so every
# torch in them, the CPU encoders of Snakemake jobs included, keeps to one thread
# (benchmarks/README.md, "CPU encoder threads": 1.3x faster there, 1.4x slower in a lone job).
# PYTEST_PARALLEL= runs them in one process; add --durations=25 to see the slowest.
PYTEST_PARALLEL ?= -n auto --dist loadfile --no-loadscope-reorder
TEST_ENV := OMP_NUM_THREADS=1 VJEPA_FER_ENCODER_THREADS=1

test: install
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_PARALLEL)

# Unit tests only, without those marked slow (no Snakemake runs, no demo, no SLURM, no wheel
# build): the goal is 90 s on a quiet 2-core machine (docs/development.md, "Test times").
test-fast: install
	$(TEST_ENV) $(PY) -m pytest tests/unit -q -m "not slow" $(PYTEST_PARALLEL)

lint: install
	snakemake --lint
	ruff check src tests benchmarks
	ruff format --check src tests benchmarks
	snakefmt --check Snakefile workflow/rules

clean-demo:
	rm -rf $(DEMO_RESULTS)  # every output of config.demo.yaml (run_name: demo, docs/outputs.md)
