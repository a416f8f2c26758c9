# The two quick-start commands, `make render` and `make test`, create the
# virtualenv on first use. Needs only Python 3.11+, git and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: render render-json docs test lint typecheck unit clean

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $(STAMP)

## render: show the desired state of both stacks, offline
render: $(STAMP)
	$(BIN)/python -m render

## render-json: also write out/<stack>.json
render-json: $(STAMP)
	$(BIN)/python -m render --json out

## docs: regenerate docs/architecture.md, docs/hostnames.md, docs/runbook.md and the tables marked in docs/edge.md and docs/hosts.md from the model
docs: $(STAMP)
	$(BIN)/python -m docs.generate

## test: format and lint checks, type checks, then the test suite
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/pyright

unit: $(STAMP)
	$(BIN)/python -m pytest -n auto

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
