# clue bot: `make run` (playground on the sandbox CRM) and `make test` (lint, types, tests).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
# Lock files (see `make lock`): what running needs, what development adds, and uv itself.
LOCK_RUN := requirements/run.txt
LOCK_DEV := requirements/dev.txt
LOCK_UV := requirements/uv.txt
# Stamps named after the checksum of what they installed: a changed lock (or pyproject.toml) installs
# again, an unchanged one does nothing. `make run` needs only the first; `make test` adds the second.
sum = $(shell cat $(1) | cksum | cut -d' ' -f1)
RUN_STAMP := $(VENV)/.run-$(call sum,$(LOCK_RUN) pyproject.toml)
DEV_STAMP := $(VENV)/.dev-$(call sum,$(LOCK_DEV))
UV_PIP := $(UV) pip install --quiet --python $(PY)
# A lock is installed from uv's cache alone first: the registry sends no cache headers, so uv would ask
# it about every package again (0.5-2 s). A cache that lacks any of them fails that at once, silently,
# and the install goes online.
uv_install = $(UV_PIP) --offline $(1) 2>/dev/null || $(UV_PIP) $(1)
# One lock for every platform (markers) from Python 3.11 up, each file's sha256 listed.
UV_COMPILE := $(UV) pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command 'make lock'

.PHONY: install install-dev system-deps run test lint bench lock lock-upgrade clean

# uv lives in our own cache, one folder per requirements/uv.txt: the interpreter's pip installs it there
# once (hash-checked), and each venv links to it. pip would otherwise download its ~18 MB wheel again
# for every fresh clone (the registry sends no cache headers): 4 of the 11 s a fresh `make run` took.
CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/clue-bot
UV_HOME := $(CACHE)/uv-$(call sum,$(LOCK_UV))
UV_STAMP := $(VENV)/.uv-$(call sum,$(LOCK_UV))

$(UV_HOME)/bin/uv:
	@rm -rf $(UV_HOME)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
		--require-hashes --target $(UV_HOME) -r $(LOCK_UV)

# The venv has no pip of its own (`python -m venv` spends seconds installing one): uv installs
# everything from the locks. The stamp is named after the lock, as a link's age says nothing about it.
$(UV_STAMP): $(UV_HOME)/bin/uv
	@test -x $(PY) || $(PYTHON) -m venv --without-pip $(VENV)
	@ln -sf $< $(UV)
	@rm -f $(VENV)/.uv-*
	@touch $@

# The locked dependencies, then the project itself without resolving anything (--no-deps; uv builds
# it in-process, its backend being pyproject.toml's); `pip check` fails when pyproject.toml asks for
# something the lock does not hold (run `make lock`).
$(RUN_STAMP): $(LOCK_RUN) pyproject.toml | $(UV_STAMP)
	$(call uv_install,--require-hashes -r $(LOCK_RUN))
	$(UV_PIP) --no-deps -e .
	@$(UV) pip check --quiet --python $(PY)
	@rm -f $(VENV)/.run-*
	@touch $@

$(DEV_STAMP): $(LOCK_DEV) $(RUN_STAMP)
	$(call uv_install,--require-hashes -r $(LOCK_DEV))
	@$(UV) pip check --quiet --python $(PY)
	@rm -f $(VENV)/.dev-*
	@touch $@

install: $(RUN_STAMP)
install-dev: $(DEV_STAMP)

run: install
	$(PY) -m bot.dev

# Refresh the locks after editing dependencies in pyproject.toml: existing pins are kept where they
# still fit. `make lock-upgrade` moves every pin to the newest release the ranges allow.
# dev.txt is constrained to run.txt, so the development install only adds to the running one.
lock: $(UV_STAMP)
	$(UV_COMPILE) $(LOCK_ARGS) pyproject.toml -o $(LOCK_RUN)
	$(UV_COMPILE) $(LOCK_ARGS) pyproject.toml --extra dev -c $(LOCK_RUN) -o $(LOCK_DEV)
	echo uv | $(UV_COMPILE) $(LOCK_ARGS) - -o $(LOCK_UV)

lock-upgrade:
	$(MAKE) lock LOCK_ARGS=--upgrade

lint: install-dev
	$(VENV)/bin/ruff check
	$(VENV)/bin/mypy

# What the suite needs beyond Python: redis-server (shared-cache tests), chromium with a CJK font
# (playground page tests and screenshots: Chinese in boxes otherwise) and, when npm is there, the
# TypeScript half of ../shared's Block Kit validator.
BLOCKKIT := ../shared/tools/blockkit
BLOCKKIT_NODE := $(or $(BLOCKKIT_NODE_DIR),$(HOME)/.cache/blockkit-validator)/node_modules
system-deps:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing="$$missing fonts-noto-cjk"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@if [ -d $(BLOCKKIT) ] && [ ! -d $(BLOCKKIT_NODE) ] && command -v npm >/dev/null; then \
		bash $(BLOCKKIT)/install.sh || echo "Block Kit TypeScript validator not installed (npm failed)"; \
	fi

# The suite on every core (pytest-xdist): most of its time is waiting on loopback servers. Each file runs
# on one worker, so a file's module fixtures (Chromium, a redis-server) start once; tests/conftest.py puts
# the longest files first. `make test PYTEST_ARGS=` runs it in one process.
PYTEST_ARGS ?= -n auto --dist loadfile --no-loadscope-reorder
# The suite starts ~25 interpreters (workers, served apps, the bench's): each compiled every module it
# imports again where PYTHONDONTWRITEBYTECODE is set (this machine sets it), ~0.6 s of CPU per app start.
# Their bytecode goes to the venv instead, outside the source tree, reused from one start to the next.
PYCACHE := $(abspath $(VENV))/pycache
# pytest exits 5 when it collected nothing: that is a broken suite, not a pass.
# The bench smoke run pins an app and its load generator to both cores: it runs alone, after the rest
# (beside it, a test with a short ack budget would be starved, not wrong).
BENCH_SMOKE_TESTS := tests/test_bench_smoke.py
PYTEST := PYTHONDONTWRITEBYTECODE= PYTHONPYCACHEPREFIX=$(PYCACHE) $(PY) -m pytest
test: system-deps lint
	@$(PYTEST) $(PYTEST_ARGS) --ignore=$(BENCH_SMOKE_TESTS) && $(PYTEST) $(BENCH_SMOKE_TESTS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

bench: install
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(PY) -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis *.egg-info
