# Stockroom. `make run` serves the API on the embedded local stack;
# `make test` runs every test tier. Both work on a fresh machine.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Every dependency, runtime and dev, pinned with hashes (regenerate with `make lock`).
LOCK := requirements.lock
# The offline OSV advisory snapshot `make security` audits against (a newer one can be dropped in):
# ADVISORIES=DIR, else `shared/advisories` beside this checkout or beside the repository it was cloned from.
ADVISORIES ?=

# Never reach real AWS: dummy credentials, a region, no metadata probing.
export AWS_EC2_METADATA_DISABLED := true
export AWS_DEFAULT_REGION ?= eu-west-1
export AWS_REGION ?= eu-west-1
export AWS_ACCESS_KEY_ID ?= testing
export AWS_SECRET_ACCESS_KEY ?= testing
export AWS_ACCOUNT_ID_ENDPOINT_MODE := disabled
export PYTHONDONTWRITEBYTECODE := 1

HOST ?= 127.0.0.1
PORT ?= 8000
MOTO_PORT ?= 5001
# Where `make run` keeps the local stack's tables and files across restarts (git ignores .local/).
DATA ?= .local/stack
NAME ?= Demo company
PERMISSIONS ?= *

.PHONY: install cli lock run reset tenant test test-unit test-integration test-e2e test-infra fuzz fuzz-deep lint typecheck security package bench clean

$(STAMP): $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check "pip<26.3"
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r $(LOCK)
	touch $(STAMP)

# The `stockroom` command-line client (pyproject's entry point stockroom_cli.main:cli) in .venv/bin.
$(BIN)/stockroom: $(STAMP) stockroom_cli/install.py
	$(BIN)/python -m stockroom_cli.install $@

cli: $(BIN)/stockroom

# After changing requirements*.txt: pins every dependency with its hashes.
lock: $(STAMP)
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
	  --no-emit-find-links --output-file $(LOCK) requirements-dev.txt

install: $(STAMP) $(BIN)/stockroom

# Keeps the data in $(DATA): saved when the stack stops (Ctrl-C), put back on the next start.
run: $(STAMP) $(BIN)/stockroom
	$(BIN)/python -m infra.localstack --host $(HOST) --port $(PORT) --moto-port $(MOTO_PORT) --data $(DATA)

# Forgets the saved data and starts the local stack from empty.
reset: $(STAMP)
	$(BIN)/python -m infra.localstack --host $(HOST) --port $(PORT) --moto-port $(MOTO_PORT) --data $(DATA) --reset

# Creates a tenant in the running local stack (or, with STOCKROOM_AWS_ENDPOINT
# unset and real credentials, in the deployed stage the environment names).
tenant: $(STAMP)
	STOCKROOM_AWS_ENDPOINT=$${STOCKROOM_AWS_ENDPOINT-http://$(HOST):$(MOTO_PORT)} \
	  $(BIN)/python -m infra.tenant --name "$(NAME)" --permissions "$(PERMISSIONS)"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Static checks (bandit: medium or high fails) and every pinned dependency against known advisories.
security: $(STAMP)
	$(BIN)/bandit --quiet --recursive --severity-level medium chalicelib app.py infra
	STOCKROOM_ADVISORIES=$(ADVISORIES) $(BIN)/python -m infra.audit --lock $(LOCK) --discover
	@if $(BIN)/python -m infra.audit --online-check; then \
	  $(BIN)/pip-audit --vulnerability-service osv --require-hashes --disable-pip -r $(LOCK); \
	else echo "pip-audit skipped: no online advisory service answers here (the offline audit above ran)"; fi

test-unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

# Two workers, whole files each: a module's tables are provisioned once, in its worker's moto.
test-integration: $(STAMP)
	$(BIN)/pytest tests/integration -q -n 2 --dist loadfile

# Two workers, whole files each: each worker starts its own local stack on free ports.
test-e2e: $(STAMP)
	$(BIN)/pytest tests/e2e -q -n 2 --dist loadfile

test-infra: $(STAMP)
	$(BIN)/pytest tests/infra -q

test: lint typecheck security test-unit test-integration test-e2e test-infra

# What CI runs after `make test` (.ci/run): 100 generated cases per operation and the document's examples,
# against a local stack of its own (the stateful runs along the links are in `make test`'s shorter fuzz).
# It takes about 25 minutes on a quiet 2-core machine, beyond `make test`'s 15-minute budget, so
# `make test` fuzzes 10 cases per operation and CI runs this too.
fuzz: $(STAMP)
	STOCKROOM_FUZZ_EXAMPLES=100 STOCKROOM_FUZZ_PHASES=examples,fuzzing \
	  $(BIN)/pytest tests/e2e/test_fuzz.py -q

# A deeper run by hand: the coverage phase too (boundary and invalid values, wrong media types and methods).
fuzz-deep: $(STAMP)
	STOCKROOM_FUZZ_EXAMPLES=100 STOCKROOM_FUZZ_PHASES=examples,coverage,fuzzing,stateful \
	  $(BIN)/pytest tests/e2e/test_fuzz.py -q

package: $(STAMP)
	rm -rf build/package .chalice/deployments
	$(BIN)/chalice package --merge-template infra/resources.json build/package
	@echo "Template: build/package/sam.json"

bench: $(STAMP)
	$(BIN)/python -m benchmarks.core_ops
	$(BIN)/python -m benchmarks.company_inventory
	$(BIN)/python -m benchmarks.orders
	$(BIN)/python -m benchmarks.deletes
	$(BIN)/python -m benchmarks.maker
	$(BIN)/python -m benchmarks.warehouse
	$(BIN)/python -m benchmarks.multisource
	$(BIN)/python -m benchmarks.graphql
	$(BIN)/python -m benchmarks.warehouse_availability
	$(BIN)/python -m benchmarks.workflows
	$(BIN)/python -m benchmarks.events
	$(BIN)/python -m benchmarks.webhook_latency
	$(BIN)/python -m benchmarks.cold_start
	$(BIN)/python -m benchmarks.import_rate

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
