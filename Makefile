# Quick start (fresh machine):   make doctor    |    make test
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup doctor test test-under-load test-peer lint bench dist clean

setup:
	bash scripts/setup

# doctor exits 1 when a folder is degraded: that is a report, not a failure of make
doctor: setup
	$(BIN)/sero-ls doctor || test $$? -eq 1

test:
	bash scripts/setup --test
	$(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

# the suite three times in a row beside two CPU burners; prints each run's duration
test-under-load:
	bash scripts/setup --test
	bash scripts/test-under-load $(PYTEST_ARGS)

# installable artifacts in dist/: the wheel and sdist of sero-ls, the VS Code extension's VSIX
dist:
	bash scripts/setup --test
	bash scripts/dist

# Wrapper transparency (#12): jedi-language-server's own suite, directly and through
# `sero-ls proxy --` on the host and in a Podman container (about 10 minutes; see
# bench/RESULTS.md). PEER_MODES="direct host container" (the default) picks the runs.
test-peer:
	bash scripts/setup --test
	$(BIN)/python bench/peer_suite.py $(PEER_MODES)

lint:
	$(BIN)/ruff check sero_ls tests bench
	$(BIN)/mypy

bench:
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) test-output dist build
