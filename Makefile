# The two set-up steps README gives: `make demo` and `make test`; `make models` trains the
# shipped models, `make wheel-check` tests the wheel alone (CI runs both checks).
# torch is pinned to exactly 2.13.0: that CPU wheel lies on the build machines' disk; any
# other version or range would download a multi-gigabyte CUDA build.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_DATA := data/essen
DEMO_RUN  := runs/demo
DEMO_OUT  := out

.PHONY: demo test lint models wheel-check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tunesmith prepare essen --out $(DEMO_DATA)
	$(BIN)/tunesmith train $(DEMO_DATA) --out $(DEMO_RUN) --overwrite --epochs 20 --time-limit 240
	$(BIN)/tunesmith generate $(DEMO_RUN) --out $(DEMO_OUT) --num 4 --bars 16 --temperature 0.9 --seed 7
	@echo
	@echo "Done. Melodies (MIDI + piano-roll PNG): $(DEMO_OUT)/"
	@echo "Model, metrics.csv and loss.png:        $(DEMO_RUN)/"

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

# Train the shipped models (essen ~110 min, chorales ~12 min on 2 cores) and copy them into
# src/tunesmith/shipped/ with about.json (commands, seconds, held-out loss, evaluation).
models: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python scripts/make_models.py

# The wheel alone: build it, install it into a fresh venv (torch pinned as above) and run
# `tunesmith generate essen`, `generate chorales` and the example notebook from there, outside the checkout.
WHEEL_DIR := build/wheel
wheel-check: $(STAMP)
	rm -rf build/lib build/bdist.* $(WHEEL_DIR) && mkdir -p $(WHEEL_DIR)  # no stale build/lib
	$(BIN)/pip wheel --quiet --no-deps --wheel-dir $(WHEEL_DIR) .
	$(PYTHON) -m venv $(WHEEL_DIR)/venv
	$(WHEEL_DIR)/venv/bin/pip install --quiet torch==2.13.0
	$(WHEEL_DIR)/venv/bin/pip install --quiet $(WHEEL_DIR)/tunesmith-*.whl nbclient nbformat ipykernel
	scripts/wheel_check.sh $(abspath $(WHEEL_DIR)) $(abspath examples)

clean:
	rm -rf $(VENV) $(DEMO_DATA) $(DEMO_RUN) $(DEMO_OUT) build
