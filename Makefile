# The two commands of the course (see README.md):
#   make course   set up .venv, execute every notebook in place, print what ran and how long
#   make test     set up .venv, run the unit tests, then nbval over every notebook
# Other targets: make lab (JupyterLab), make bench (benchmarks -> README),
# make leaderboard-online-retail (notebook 06 on the real shop -> results/), make clean.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Datasets: $RECUTILS_DATA_DIR if set, else ../shared/datasets when it exists beside the
# repository (the project's own test runs), else the repository's data/ folder.
SHARED_DATA := $(abspath $(CURDIR)/../shared/datasets)
RECUTILS_DATA_DIR ?= $(if $(wildcard $(SHARED_DATA)/online-retail),$(SHARED_DATA),$(CURDIR)/data)
export RECUTILS_DATA_DIR
# Linux laptops without a GPU: make course TORCH_INDEX=https://download.pytorch.org/whl/cpu
# (PyPI's Linux torch wheel pulls several GB of CUDA libraries; macOS/Windows need nothing).
TORCH_INDEX ?=
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))
NBVAL := --nbval --nbval-current-env --nbval-cell-timeout=900 --nbval-sanitize-with tools/nbval_sanitize.cfg

.PHONY: course test setup lab bench lint clean leaderboard-online-retail

course: $(STAMP)
	$(BIN)/python tools/run_course.py

test: $(STAMP)
	$(BIN)/python -m ruff check recutils tests bench tools
	$(BIN)/python -m pytest tests
	$(BIN)/python -m pytest $(NBVAL) notebooks

setup: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@$(PYTHON) tools/check_python.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --upgrade pip==26.3
	$(PIP_INSTALL) -r requirements.txt -c constraints.txt
	$(PIP_INSTALL) --no-deps -e .
	@touch $(STAMP)

# Notebook 06 on Online Retail (needs the file in the data directory, see data/README.md):
# writes results/leaderboard-online-retail.* and the executed copy to runs/online-retail/.
leaderboard-online-retail: $(STAMP)
	$(BIN)/python tools/run_course.py notebooks/06_evaluation.ipynb -p 'DATASET="online-retail"' --output-dir runs/online-retail
	$(BIN)/python tools/update_readme.py

lab: $(STAMP)
	$(PIP_INSTALL) -r requirements-lab.txt -c constraints.txt
	$(BIN)/jupyter lab notebooks

bench: $(STAMP)
	$(BIN)/python bench/metrics_bench.py --output bench/results/metrics_bench.md
	$(BIN)/python bench/threads_bench.py --output bench/results/threads_bench.md
	$(BIN)/python bench/encoder_bench.py --n 5000 --output bench/results/encoder_bench.md
	$(BIN)/python bench/models_bench.py --output bench/results/models_bench.md
	$(BIN)/python bench/lightgcn_bench.py --output bench/results/lightgcn_bench.md
	$(BIN)/python bench/hybrid_bench.py --output bench/results/hybrid_bench.md
	$(BIN)/python bench/reference_check.py --output bench/results/reference_check.md
	$(BIN)/python tools/update_readme.py

lint: $(STAMP)
	$(BIN)/python -m ruff check recutils tests bench tools

clean:
	rm -rf $(VENV) .cache
