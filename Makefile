# llm-fleet — one entry point for setup, the local lab and the tests.
#   make lab    set everything up, start the lab, run site.yml on it
#   make test   lint, pytest (inventory against moto, the lab's life cycle), every role's Molecule
#               scenario, then the whole-stack scenario (molecule/: site.yml on the lab, browser)
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
VENV := .venv
PY := $(VENV)/bin/python
RAG_VENV := .venv-rag
CHECKOV_VENV := .venv-checkov
WHEELHOUSE := .cache/wheelhouse
# The controller's venvs are filled by uv (pinned; installed into a venv of its own with pip):
# the same pins as pip, in a third of pip's time with uv's cache empty. uv reads neither pip.conf
# nor PIP_*: it uses PyPI, and the system's certificates (UV_NATIVE_TLS) as pip does here. It
# compiles the bytecode as pip does (UV_COMPILE_BYTECODE): where PYTHONDONTWRITEBYTECODE is set
# (this machine and the CI's), a venv without it compiles every module in every process again.
UV_VERSION := 0.13.10
UV_VENV := .cache/uv
UV := $(UV_VENV)/bin/uv
export UV_NATIVE_TLS := 1
export UV_COMPILE_BYTECODE := 1
# The lab: two gpu-nodes and a rag-node (roles handed out in turn), beside its service hosts.
HOSTS ?= 3
# pytest's workers (pytest-xdist): the CI machine's two cores.
PYTEST_WORKERS ?= 2
# Every role with a Molecule scenario (the wiring layer has none: every scenario uses it).
ROLES ?= $(notdir $(patsubst %/molecule,%,$(wildcard roles/*/molecule)))
# Role scenarios run at once (make molecule-roles), and the longest ones, started first.
MOLECULE_JOBS ?= 2
LONGEST_ROLES := chromadb_rag ollama fleet_common
APT_PACKAGES := podman runc debootstrap uidmap iproute2 procps shellcheck chromium chromium-driver libnss3-tools redis-server

export CONTAINERS_CONF := $(CURDIR)/lab/containers.conf
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_FORCE_COLOR := 0
export PY_COLORS := 0

.PHONY: setup uv system-packages venv checkov-venv image wheelhouse rag-wheel standin apply-wheels rag-venv lab lab-up lab-services lab-status lab-admin lab-down \
	site reindex drift test lint pytest rag-test molecule molecule-roles molecule-stack lock clean

## Setup ---------------------------------------------------------------------------------------
setup: system-packages venv checkov-venv image wheelhouse rag-wheel standin apply-wheels

system-packages: .cache/system-packages.stamp
.cache/system-packages.stamp:
	@mkdir -p .cache
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES) >/dev/null
	@touch $@

uv: $(UV)
$(UV):
	python3 -m venv $(UV_VENV)
	$(UV_VENV)/bin/pip install -q uv==$(UV_VERSION)

venv: $(VENV)/.installed
$(VENV)/.installed: requirements-dev.txt constraints.txt | uv
	python3 -m venv $(VENV)
	$(UV) pip install -q --python $(VENV)/bin/python -r requirements-dev.txt -c constraints.txt
	@touch $@

# checkov in a venv of its own (python-hcl2, which the terraform tests use, breaks its parser).
checkov-venv: $(CHECKOV_VENV)/.installed
$(CHECKOV_VENV)/.installed: requirements-checkov.txt constraints-checkov.txt | uv
	python3 -m venv $(CHECKOV_VENV)
	$(UV) pip install -q --python $(CHECKOV_VENV)/bin/python -r requirements-checkov.txt -c constraints-checkov.txt
	@touch $@

image: system-packages venv
	$(PY) -m lab image

# Host-side wheels (Open WebUI, ChromaDB, torch CPU, fleet-rag's needs), downloaded once, for
# the hosts' Python (pip runs inside a lab host image).
wheelhouse: $(WHEELHOUSE)/.complete
$(WHEELHOUSE)/.complete: requirements-hosts.txt | image
	$(PY) -m lab wheelhouse
	@touch $@

# The toolchain a self-configuring host runs site.yml with (Ansible, boto3), as wheels for the
# hosts' Python: what `lab scale` puts in the lab's release.
apply-wheels: .cache/apply-wheels/.complete
.cache/apply-wheels/.complete: requirements-dev.txt constraints.txt | venv
	rm -rf .cache/apply-wheels
	$(PY) -m tools.release toolchain --dest .cache/apply-wheels
	@touch $@

# fleet-rag as a wheel, built once into the wheelhouse whenever its sources change (the
# chromadb_rag role ships and installs this file). Reproducible: the same sources give the same
# bytes, so an unchanged package is not reinstalled on the hosts.
RAG_SOURCES := $(shell find rag/src -name '*.py') rag/pyproject.toml rag/README.md
rag-wheel: $(WHEELHOUSE)/.fleet-rag
$(WHEELHOUSE)/.fleet-rag: $(RAG_SOURCES) | venv
	@mkdir -p $(WHEELHOUSE)
	rm -f $(WHEELHOUSE)/fleet_rag-*.whl
	SOURCE_DATE_EPOCH=315532800 $(VENV)/bin/pip wheel -q --no-deps --wheel-dir $(WHEELHOUSE) ./rag
	rm -rf rag/build
	@touch $@

# TEST STAND-INs for what cannot be downloaded here: the Ollama-API-compatible server packed as
# Ollama release archives (the versions the ollama scenario installs and upgrades between), and
# the CloudWatch and Systems Manager agents packed as .debs with the real packages' names and
# layouts.
STANDIN_VERSIONS := 0.12.5 0.12.6
CWAGENT_STANDIN_VERSION := 1.300073.2b1889
SSM_AGENT_STANDIN_VERSION := 3.3.1142.0
standin: venv
	$(PY) -m lab.standins.ollama $(STANDIN_VERSIONS)
	$(PY) -m lab.standins.cloudwatch_agent $(CWAGENT_STANDIN_VERSION)
	$(PY) -m lab.standins.ssm_agent $(SSM_AGENT_STANDIN_VERSION)

# fleet-rag's own venv for its tests, installed from the wheelhouse only.
rag-venv: $(RAG_VENV)/.installed
$(RAG_VENV)/.installed: $(WHEELHOUSE)/.complete rag/pyproject.toml rag/testing/pyproject.toml
	python3 -m venv $(RAG_VENV)
	$(UV) pip install -q --python $(RAG_VENV)/bin/python --find-links $(WHEELHOUSE) "$$(grep "^torch==" requirements-hosts.txt)"
	$(UV) pip install -q --python $(RAG_VENV)/bin/python --find-links $(WHEELHOUSE) -e 'rag[model,openvino,test,bench]' -e rag/testing
	@touch $@

## The lab -------------------------------------------------------------------------------------
lab: setup lab-up lab-services site
	@$(PY) -m lab info

lab-up:
	$(PY) -m lab up --hosts $(HOSTS)

# The lab's stand-ins for RDS, ElastiCache and the load balancers (not part of site.yml).
lab-services:
	ansible-playbook -i inventories/lab lab/playbooks/services.yml

lab-status:
	$(PY) -m lab status

# The first admin's password (the lab's Secrets Manager), for signing in at `lab info`'s URL.
lab-admin:
	@$(PY) -m lab admin-password

lab-down:
	$(PY) -m lab down

# Drift on the lab: site.yml in check+diff mode, report in artifacts/drift (DRIFT_ARGS=--correct).
drift:
	$(PY) -m tools.drift -i inventories/lab --out artifacts/drift $(DRIFT_ARGS)

site:
	ansible-playbook -i inventories/lab site.yml

# Rebuild the lab's vector store from the corpus folder, PostgreSQL and the uploads bucket.
reindex:
	ansible-playbook -i inventories/lab playbooks/reindex.yml

## Tests ---------------------------------------------------------------------------------------
test: setup lint pytest rag-test molecule

lint:
	yamllint -s .
	ansible-lint
	ruff check .
	ruff format --check .
	mypy

# Both cores: each test file runs whole on one worker (its fixtures, its moto server).
pytest:
	pytest -n $(PYTEST_WORKERS) --dist loadfile

# Both cores too: test_cli's subprocesses (each loads the model) beside the rest.
rag-test: rag-venv
	cd rag && ../$(RAG_VENV)/bin/mypy && ../$(RAG_VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist loadfile

molecule: molecule-roles molecule-stack

# Two scenarios at once (MOLECULE_JOBS), each on a host of its own (llm-fleet-molecule-<role>),
# the longest first so that the two lanes end together; each role's output is printed whole
# when it ends (make's --output-sync); a host and a Molecule state left by a killed run are
# destroyed first (3 s: molecule/shared/destroy.yml). Then open_webui's alone: its verify signs
# people in through a test provider on this machine, which Open WebUI gives 5 s (authlib's
# default) to answer - missed, now and then, with another scenario on the same two cores.
ALONE_ROLES := open_webui
TOGETHER := $(strip $(filter-out $(ALONE_ROLES),\
	$(filter $(LONGEST_ROLES),$(ROLES)) $(filter-out $(LONGEST_ROLES),$(ROLES))))
ALONE := $(strip $(filter $(ALONE_ROLES),$(ROLES)))
molecule-roles:
	$(if $(TOGETHER),@$(MAKE) --no-print-directory -j $(MOLECULE_JOBS) --output-sync=target \
		$(addprefix molecule-role-,$(TOGETHER)))
	$(if $(ALONE),@$(MAKE) --no-print-directory $(addprefix molecule-role-,$(ALONE)))

molecule-role-%:
	@echo "== molecule test: $*"
	@started=$$(date +%s); cd roles/$* && export MOLECULE_HOST=llm-fleet-molecule-$*; \
		molecule --base-config ../../molecule/shared/role.yml destroy >/dev/null && \
		molecule --base-config ../../molecule/shared/role.yml test && \
		echo "== molecule test: $* passed in $$(( $$(date +%s) - started ))s"

# The whole stack: lab up, site.yml through inventories/lab, idempotence, verify (APIs, browser,
# drift, rolling update), lab down.
molecule-stack:
	molecule test

## Maintenance ---------------------------------------------------------------------------------
lock: venv checkov-venv
	{ echo '# Every package of the controller venv, pinned (pip freeze). Regenerate with `make lock`.'; \
	  $(VENV)/bin/pip freeze --exclude-editable; } > constraints.txt
	{ echo '# Every package of the checkov venv, pinned (pip freeze). Regenerate with `make lock`.'; \
	  $(CHECKOV_VENV)/bin/pip freeze; } > constraints-checkov.txt

clean: lab-down
	rm -rf $(VENV) $(RAG_VENV) $(CHECKOV_VENV) .cache artifacts
