# Two commands on a fresh machine: `make run` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint fmt check bench install clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first and pinned: 2.13.0 is a local CPU wheel; anything else downloads CUDA.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# kb build rebuilds the embedding model and search indexes once (about a minute), then reuses
# them; then the API and the reviewer's page serve on http://127.0.0.1:8000/.
run: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/zhengce kb build
	HF_HUB_OFFLINE=1 $(BIN)/zhengce serve --host 127.0.0.1 --port 8000

# Two workers (pytest-xdist), one per core; a file's tests stay together on one worker, so
# module fixtures (a served process, a browser) start once.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile

# The developer's loop, under a minute on two cores: no browser, no served process, none of the
# slow tests (markers in pyproject.toml), and a tenth of every property test's examples.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not browser and not served and not slow" --hypothesis-profile=fast

lint: $(STAMP)
	$(BIN)/ruff check dsl kb server tests bench
	$(BIN)/ruff format --check dsl kb server tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache --no-logo

fmt: $(STAMP)
	$(BIN)/ruff format dsl kb server tests bench
	$(BIN)/ruff check --fix dsl kb server tests bench

check: $(STAMP)
	$(BIN)/zhengce check

bench: $(STAMP)
	$(BIN)/python bench/eval.py
	$(BIN)/python bench/kb.py
	$(BIN)/python bench/embed.py
	$(BIN)/python bench/http.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
