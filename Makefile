# Stockroom. `make run` serves the API on the embedded local stack;
# `make test` runs every test tier. Both work on a fresh machine.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

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
NAME ?= Demo company
PERMISSIONS ?= *

.PHONY: install run tenant test test-unit test-integration test-e2e test-infra lint typecheck package bench clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check "pip<26.3"
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m infra.localstack --host $(HOST) --port $(PORT) --moto-port $(MOTO_PORT)

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

test-unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

test-integration: $(STAMP)
	$(BIN)/pytest tests/integration -q

test-e2e: $(STAMP)
	$(BIN)/pytest tests/e2e -q

test-infra: $(STAMP)
	$(BIN)/pytest tests/infra -q

test: lint typecheck test-unit test-integration test-e2e test-infra

package: $(STAMP)
	rm -rf build/package .chalice/deployments
	$(BIN)/chalice package --merge-template infra/resources.json build/package
	@echo "Template: build/package/sam.json"

bench: $(STAMP)
	$(BIN)/python -m benchmarks.core_ops
	$(BIN)/python -m benchmarks.company_inventory
	$(BIN)/python -m benchmarks.orders
	$(BIN)/python -m benchmarks.maker
	$(BIN)/python -m benchmarks.cold_start
	$(BIN)/python -m benchmarks.import_rate

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
