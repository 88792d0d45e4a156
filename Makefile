# clue bot: `make run` (playground on the sandbox CRM) and `make test` (lint, types, tests).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Re-install only when pyproject.toml changes, so `make test` is fast when nothing changed.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install system-deps run test lint bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

run: install
	$(PY) -m bot.dev

lint: install
	$(VENV)/bin/ruff check
	$(VENV)/bin/mypy

# What the suite needs beyond Python: redis-server (shared-cache tests), chromium (playground page
# test) and, when npm is there, the TypeScript half of ../shared's Block Kit validator.
BLOCKKIT := ../shared/tools/blockkit
BLOCKKIT_NODE := $(or $(BLOCKKIT_NODE_DIR),$(HOME)/.cache/blockkit-validator)/node_modules
system-deps:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@if [ -d $(BLOCKKIT) ] && [ ! -d $(BLOCKKIT_NODE) ] && command -v npm >/dev/null; then \
		bash $(BLOCKKIT)/install.sh || echo "Block Kit TypeScript validator not installed (npm failed)"; \
	fi

# pytest exits 5 when it collected nothing: that is a broken suite, not a pass.
test: system-deps lint
	@$(PY) -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

bench: install
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(PY) -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis *.egg-info
