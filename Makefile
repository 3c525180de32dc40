# The two commands of the course (see README.md):
#   make course   set up .venv, execute every notebook in place (two at a time on 2+ CPUs),
#                 print what ran and how long
#   make test     set up .venv, run the unit tests, then nbval over every notebook
# Other targets: make lab (JupyterLab), make serve (the recommendation service of notebook 13 on
# http://127.0.0.1:8000), make bench (benchmarks -> README),
# make leaderboard-online-retail (notebook 06 on the real shop -> results/), make clean.

SHELL := /bin/bash
# The first of these that runs and is Python 3.11 or newer (tools/check_python.py then says
# whether it can work, and why not); override with make course PYTHON=/path/to/python3.12.
PYTHON ?= $(or $(shell for p in python3 python3.13 python3.12 python3.11; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && \
	{ command -v $$p; break; }; done),python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Datasets need no setting: the shop is generated and Online Retail ships inside recutils.
# MovieLens and your own files are read from $RECUTILS_DATA_DIR, else data/ (data/README.md).
# JupyterLab refuses to start as root (containers, cloud notebooks) unless told it may.
LAB_ROOT := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)
# Linux laptops without a GPU: make course TORCH_INDEX=https://download.pytorch.org/whl/cpu
# (PyPI's Linux torch wheel pulls several GB of CUDA libraries; macOS/Windows need nothing).
TORCH_INDEX ?=
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))
NBVAL := --nbval --nbval-current-env --nbval-cell-timeout=900 --nbval-sanitize-with tools/nbval_sanitize.cfg

.PHONY: course test setup lab serve bench lint clean leaderboard-online-retail

# Two notebooks at a time on a machine with 2 CPUs or more (JOBS=1: one at a time), in the
# course's order, with the thread settings make test checks the outputs with; 13 and 15, which
# time the machine, run alone, when nothing else runs (the next notebooks take the free core
# while they wait, so they mostly run last; tools/run_course.py).
course: $(STAMP)
	$(BIN)/python tools/run_course.py $(if $(JOBS),--jobs $(JOBS))

# nbval compares with outputs made with 2 torch threads; "auto" would pick 1 on a busy machine
# (and the last digits of some neural models differ), so the check fixes 2 (README, Benchmarks).
# RECUTILS_CHECK_SOLUTIONS=1: every exercise check also verifies its solution in solutions/.
# Two notebooks at a time (pytest-xdist; loadscope keeps a notebook's cells in one kernel, in
# order; --no-loadscope-reorder hands the notebooks out in the course's order, so a notebook
# mostly finds the models earlier ones cached, and one the other worker is still training it
# waits for and loads, recutils.files.made_once): much of a notebook is one-threaded Python, so
# the second core was idle. Two torch threads beside a busy process spin-wait for each other
# unless OpenMP's threads sleep while waiting (OMP_WAIT_POLICY=PASSIVE;
# bench/results/load_bench.md); results do not change.
# The unit tests also run two at a time, a test file per worker (--dist loadfile: a file's
# fixtures, such as its Spark session, are made once): bench/results/make_test_time.md.
test: $(STAMP)
	$(BIN)/python -m ruff check recutils tests bench tools notebooks solutions
	OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m pytest -n 2 --dist loadfile tests
	OMP_WAIT_POLICY=PASSIVE RECUTILS_TORCH_THREADS=2 RECUTILS_CHECK_SOLUTIONS=1 \
		$(BIN)/python -m pytest -n 2 --dist loadscope --no-loadscope-reorder $(NBVAL) notebooks

setup: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt constraints.txt pyproject.toml
	@$(PYTHON) tools/check_python.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --upgrade pip==26.3
	$(PIP_INSTALL) -r requirements.txt -c constraints.txt
	$(PIP_INSTALL) --no-deps -r requirements-nodeps.txt -c constraints.txt
	$(PIP_INSTALL) --no-deps -e .
	@touch $(STAMP)

# Notebook 06 on Online Retail (it ships with the course): writes
# results/leaderboard-online-retail.* and the executed copy to runs/online-retail/.
leaderboard-online-retail: $(STAMP)
	$(BIN)/python tools/run_course.py notebooks/06_evaluation.ipynb -p 'DATASET="online-retail"' --output-dir runs/online-retail
	$(BIN)/python tools/update_readme.py

lab: $(STAMP)
	$(PIP_INSTALL) -r requirements-lab.txt -c constraints.txt
	$(BIN)/jupyter lab $(LAB_ROOT) --config=tools/jupyter_server_config.py notebooks

# The service of notebook 13: ALS on the course's shop (fitted and saved once, in the cache),
# behind FastAPI on http://127.0.0.1:8000 (/docs lists the endpoints); Ctrl+C stops it.
serve: $(STAMP)
	$(BIN)/python -m recutils.service demo --port $(or $(PORT),8000)

bench: $(STAMP)
	$(BIN)/python bench/metrics_bench.py --output bench/results/metrics_bench.md
	$(BIN)/python bench/threads_bench.py --output bench/results/threads_bench.md
	$(BIN)/python bench/load_bench.py --output bench/results/load_bench.md
	$(BIN)/python bench/encoder_bench.py --n 5000 --output bench/results/encoder_bench.md
	$(BIN)/python bench/models_bench.py --output bench/results/models_bench.md
	$(BIN)/python bench/llm_bench.py --output bench/results/llm_bench.md
	$(BIN)/python bench/persistence_bench.py --output bench/results/persistence_bench.md
	$(BIN)/python bench/ann_bench.py --output bench/results/ann_bench.md
	$(BIN)/python bench/encoder_cost_bench.py --output bench/results/encoder_cost_bench.md
	$(BIN)/python bench/simulator_bench.py --output bench/results/simulator_bench.md
	$(BIN)/python bench/bandits_bench.py --output bench/results/bandits_bench.md
	$(BIN)/python bench/spark_bench.py --output bench/results/spark_bench.md --curve bench/results/spark_scaling.csv
	$(BIN)/python bench/lightgcn_bench.py --output bench/results/lightgcn_bench.md
	$(BIN)/python bench/hybrid_bench.py --output bench/results/hybrid_bench.md
	$(BIN)/python bench/ease_bench.py --fixed 2,4,8
	$(BIN)/python bench/reference_check.py --output bench/results/reference_check.md
	$(BIN)/python bench/course_time.py --cold --in-place --output bench/results/course_time.md \
		--cells-output bench/results/course_cells.md
	$(BIN)/python bench/make_test_time.py --output bench/results/make_test_time.md
	$(BIN)/python tools/update_readme.py

lint: $(STAMP)
	$(BIN)/python -m ruff check recutils tests bench tools notebooks solutions

clean:
	rm -rf $(VENV) .cache
