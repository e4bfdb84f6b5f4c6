# The two set-up steps README gives: `make demo` and `make test`.
# torch is pinned to exactly 2.13.0: that CPU wheel lies on the build machines' disk; any
# other version or range would download a multi-gigabyte CUDA build.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_DATA := data/essen
DEMO_RUN  := runs/demo
DEMO_OUT  := out

.PHONY: demo test lint bench clean

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
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

clean:
	rm -rf $(VENV) $(DEMO_DATA) $(DEMO_RUN) $(DEMO_OUT)
