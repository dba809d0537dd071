# Two commands on a fresh machine with Python 3.11 and pip:
#   make demo   - install, build the demo dataset and run every pipeline stage on it
#   make test   - install the dev and ann extras (FAISS paths are tested too) and run the tests
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
DEPS := pyproject.toml constraints.txt

.PHONY: demo test install install-dev lint clean-demo bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first and pinned: a bare `torch` requirement would pull a multi-GB CUDA build.
.install-stamp: $(BIN)/python $(DEPS)
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -c constraints.txt -e .
	touch $@

.install-stamp-dev: .install-stamp $(DEPS)
	$(PIP) install --quiet -c constraints.txt -e ".[dev,ann]"
	touch $@

install: .install-stamp
install-dev: .install-stamp-dev

demo: .install-stamp
	$(BIN)/pixelrec demo --config configs/demo.yaml

test: .install-stamp-dev
	$(BIN)/python -m pytest -q

.install-stamp-bench: .install-stamp $(DEPS)
	$(PIP) install --quiet -c constraints.txt -e ".[bench]"
	touch $@

# Optional: real-data benchmarks (needs ../shared/data; resumable, finished cells are skipped).
# Two single-threaded accuracy processes share the cells (one per core), a last pass picks up
# any cell one of them had to skip, then the speed benchmark runs alone.
bench: .install-stamp-bench
	$(BIN)/python bench/accuracy.py --threads 1 --datasets ml1m-posters-100k & \
	$(BIN)/python bench/accuracy.py --threads 1 \
		--datasets ml-latest-small-posters ml1m-posters-100k; \
	status=$$?; wait $$! || status=1; \
	$(BIN)/python bench/accuracy.py && $(BIN)/python bench/speed.py && exit $$status

lint: .install-stamp-dev
	$(BIN)/ruff check src tests scripts bench

clean-demo:
	rm -rf data/demo data/demo_processed data/demo_splits results/demo models/demo
