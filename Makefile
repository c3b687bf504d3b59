# Two commands on a fresh machine:  make demo   |   make test
SHELL := /bin/bash
VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
SCENARIO ?=

.PHONY: setup demo test lint unit molecule build clean ecosystem

setup:  ## offline sandbox + venv (idempotent)
	bash sandbox/setup.sh

demo: setup  ## sample app up at v2 in the sandbox, health gate, next steps
	bash sandbox/demo.sh

test: setup lint unit build ecosystem molecule  ## everything CI runs
	@echo "[test] all green"

lint:
	ansible-lint --profile production
	bash tests/check_docs.sh

unit:
	pytest tests/unit

build:
	ansible-galaxy collection build --force --output-path .sandbox/dist

ecosystem:  ## AWX surveys, EE, changelog, installed collection + ansible-doc, ansible-test sanity (offline set)
	pytest -p no:cacheprovider tests/ecosystem
	bash tests/ecosystem/sanity.sh

# All scenarios in parallel streams (tests/molecule_all.sh), or one in the foreground.
molecule:  ## all scenarios, or one: make molecule SCENARIO=health_check
	@mkdir -p .sandbox
	$(if $(SCENARIO),molecule test -s $(SCENARIO),bash tests/molecule_all.sh)

clean:
	rm -rf .sandbox/dist
