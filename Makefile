PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo lint format test test-slow check-install benchmark compare gpu-check clean \
	install-io test-io install-app test-app

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[test]'
	touch $(STAMP)

demo: install
	bash tools/demo.sh

# Lint and format check, as .ci/run runs them (rules in pyproject.toml).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# --durations: the 20 slowest tests, so that a test growing slow shows in every run's log.
# Two pytest-xdist workers, each test file on one of them (its module fixtures built once): a
# test spends much of its time in single-threaded Python (tracing, subprocess start-up), so
# two processes keep both cores busy (docs/testing.md, Times). TEST_WORKERS=0 runs one process.
TEST_WORKERS ?= 2
test: install
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=20

# The same two workers: the slow tests are whole tools and processes, single-threaded for
# most of their time, like make test's (docs/testing.md, Times).
test-slow: install
	$(PY) -m pytest -q -m slow -n $(TEST_WORKERS) --dist loadfile --durations=20

# A plain (not editable) `pip install .` into a fresh venv, then the console scripts from
# another folder; see .ci/check_install.sh.
check-install:
	PYTHON=$(PYTHON) bash .ci/check_install.sh

benchmark: install
	$(PY) tools/benchmark.py train --config configs/celeb_model1.yaml --batch 4 --iterations 2 --warmup 1

# Model1/2/3 on the demo recipe, same seed; writes docs/results.md. Needs demo_data/ (make demo).
# As published there: 16 test samples per direction, Model3's Eq. 8 on every 8th frame (with all
# frames Model3 takes ~32 min on 2 CPU cores; see docs/results.md).
compare: install
	$(PY) tools/compare.py --config configs/demo.yaml --output runs/compare --samples 16 \
		--set task.loss.facenet_frame_step=8 --results docs/results.md

# Under 8 minutes on one GPU; on a CPU-only machine it says no GPU was found and runs the rest.
gpu-check: install
	$(PY) tools/gpu_check.py --report runs/gpu_check.json

# --- the web app (docs/deployment.md "Try it in a browser") ---
# install-app: the app extra (Gradio) and Selenium in .venv. test-app: Debian's chromium and
# chromedriver too (apt-get as root when missing: .ci/install_chromium.sh), then
# tests/test_app.py (marker app): idcg-app on a tiny export, driven in headless Chromium.
# Screenshots in runs/test-app/.
APP_STAMP := $(VENV)/.app-installed

install-app: $(APP_STAMP)

$(APP_STAMP): $(STAMP)
	$(PY) -m pip install -e '.[test,app,app-test]'
	touch $(APP_STAMP)

test-app: install-app
	bash .ci/install_chromium.sh
	$(PY) -m pytest -q -m app tests/test_app.py
# --- end web app ---

# --- io environment (tensorflow-io: s3://, hdfs://, az://); README "Cloud storage" ---
# tensorflow-io 0.37.1 loads only with TF 2.16, so it lives in a second venv; idcg-tf goes in
# without its TF 2.21 pins (--no-deps), its runtime needs come from requirements-io.txt.
IO_VENV := .venv-io
IO_PY := $(IO_VENV)/bin/python
IO_STAMP := $(IO_VENV)/.installed

install-io: $(IO_STAMP)

$(IO_STAMP): requirements-io.txt setup.cfg pyproject.toml
	$(PYTHON) -m venv $(IO_VENV)
	$(IO_PY) -m pip install --upgrade pip
	$(IO_PY) -m pip install -r requirements-io.txt
	$(IO_PY) -m pip install --no-deps -e .
	touch $(IO_STAMP)

# The reader against moto's local S3 server (tests/test_s3_io.py, marker io).
test-io: install-io
	$(IO_PY) -m pytest -q -m io tests/test_s3_io.py
# --- end io environment ---

clean:
	rm -rf $(VENV) $(IO_VENV) runs demo_data
