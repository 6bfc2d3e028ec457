# One entry point for the tooling. Every target creates or reuses .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test stress lint bench clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "leakmon needs Python 3.11+")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev,apprise,browse]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/leakmon demo

test: $(STAMP)
	HF_HUB_DISABLE_TELEMETRY=1 $(BIN)/python -m pytest -q

# The long versions of the proof tests: 100 state-machine runs of 40 steps, 500 random SIGKILLs,
# 2,000 examples per property test (about half an hour on two cores). `make test` runs the short ones.
STRESS_TESTS := tests/test_stateful.py tests/test_crash.py tests/test_fuzz.py tests/test_load.py
stress: $(STAMP)
	LEAKMON_STRESS=1 HF_HUB_DISABLE_TELEMETRY=1 $(BIN)/python -m pytest -q $(STRESS_TESTS)

lint: $(STAMP)
	$(BIN)/ruff check monitor tests bench
	$(BIN)/ruff format --check monitor tests bench

bench: $(STAMP)
	HF_HUB_DISABLE_TELEMETRY=1 $(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
