# The project's tasks: `make lint type test` is what CI checks (.ci/run); `make bench` the
# benchmarks' smoke run. Everything runs from the virtual environment .venv.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: lint type test bench check

lint:  ## ruff's checks and formatting
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

type:  ## mypy on the package and the tests (pyproject.toml)
	$(BIN)/mypy

test:  ## the test suite
	$(BIN)/pytest -q

bench:  ## a smoke run of the per-venue benchmark (bench/README.md gives the full runs and
        ## cryptofeed's environment); results.json is left as measured
	$(BIN)/python bench/run.py --quick --venues okx,gate --contenders floor,aggregator \
		--out $(or $(TMPDIR),/tmp)/aggregator-bench.json

check: lint type test
