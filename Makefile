# llm-fleet — one entry point for setup, the local lab and the tests.
#   make lab    set everything up, start the lab, run site.yml on it
#   make test   lint, pytest (inventory against moto, lab end to end), every role's Molecule scenario
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
VENV := .venv
PY := $(VENV)/bin/python
HOSTS ?= 2
ROLES ?= $(notdir $(wildcard roles/*))
APT_PACKAGES := podman runc debootstrap uidmap iproute2 procps

export CONTAINERS_CONF := $(CURDIR)/lab/containers.conf
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_FORCE_COLOR := 0
export PY_COLORS := 0

.PHONY: setup system-packages venv image lab lab-up lab-status lab-down site \
	test lint pytest molecule lock clean

## Setup ---------------------------------------------------------------------------------------
setup: system-packages venv image

system-packages: .cache/system-packages.stamp
.cache/system-packages.stamp:
	@mkdir -p .cache
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES) >/dev/null
	@touch $@

venv: $(VENV)/.installed
$(VENV)/.installed: requirements-dev.txt constraints.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt -c constraints.txt
	@touch $@

image: system-packages venv
	$(PY) -m lab image

## The lab -------------------------------------------------------------------------------------
lab: setup lab-up site

lab-up:
	$(PY) -m lab up --hosts $(HOSTS)

lab-status:
	$(PY) -m lab status

lab-down:
	$(PY) -m lab down

site:
	ansible-playbook -i inventories/lab site.yml

## Tests ---------------------------------------------------------------------------------------
test: setup lint pytest molecule

lint:
	yamllint -s .
	ansible-lint
	ruff check .
	ruff format --check .
	mypy

pytest:
	pytest

molecule:
	@for role in $(ROLES); do \
		echo "== molecule test: $$role"; \
		(cd roles/$$role && molecule test) || exit 1; \
	done

## Maintenance ---------------------------------------------------------------------------------
lock: venv
	{ echo '# Every package of the controller venv, pinned (pip freeze). Regenerate with `make lock`.'; \
	  $(VENV)/bin/pip freeze --exclude-editable; } > constraints.txt

clean: lab-down
	rm -rf $(VENV) .cache artifacts
