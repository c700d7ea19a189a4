# The two commands a newcomer needs: `make run` (install what is missing, start the platform)
# and `make test` (install what is missing, run every test against real Kafka and PostgreSQL).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PACKAGES := -e shared -e services/identity -e services/workspace -e services/billing \
            -e services/invites -e services/skool-ingest -e deploy/local \
            -e clients/python -e examples/practice-app
DEV_TOOLS := pytest pytest-asyncio hypothesis ruff mypy import-linter types-PyYAML jsonschema types-jsonschema \
             schemathesis

.PHONY: install run test lint bench chaos asyncapi acls fuzz clean

install: $(VENV)/.installed

$(VENV)/.installed: constraints.txt shared/pyproject.toml deploy/local/pyproject.toml $(wildcard services/*/pyproject.toml) \
                    clients/python/pyproject.toml $(wildcard examples/*/pyproject.toml)
	@echo "==> installing Python packages into $(VENV) (pinned by constraints.txt)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -c constraints.txt $(PACKAGES) $(DEV_TOOLS)
	@touch $@

run: install
	@$(BIN)/devstack run

test: install
	@$(BIN)/pytest

lint: install
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/mypy shared/src services/*/src deploy/local/src clients/python/src examples/*/src \
	             shared/tests services/*/tests deploy/local/tests clients/python/tests examples/*/tests tests
	@$(BIN)/lint-imports

bench: install
	@$(BIN)/python -m devstack.bench

# Its own platform (ports +400, .local/chaos-run): signups while pieces are killed -9, then a
# report and a pass/fail exit code. E.g. make chaos CHAOS_ARGS="--signups 500 --rounds 1".
# Broker mode: make chaos CHAOS_ARGS="--brokers" (three brokers, kill -9 one at a time; docs/kafka-cluster.md).
chaos: install
	@$(BIN)/python -m devstack.chaos $(CHAOS_ARGS)

# The suite's API fuzzing (tests/e2e/test_api_fuzzing.py) at 1,000 examples per operation and mode
# instead of 100; the seed comes from the commit unless FUZZ_SEED is given (it is printed first).
FUZZ_EXAMPLES ?= 1000
fuzz: install
	@FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest tests/e2e/test_api_fuzzing.py

# Every service's AsyncAPI document into docs/asyncapi/ (tests/test_asyncapi.py fails on drift).
asyncapi: install
	@$(BIN)/python -m devstack.asyncapi

# The Kafka ACLs derived from the code: docs/security.md's table, docs/security/acl-table.md and
# deploy/kafka/acls.sh (compose's kafka-init); deploy/local/tests/test_kafka_acls.py fails on drift.
acls: install
	@$(BIN)/python -m devstack.kafka_acls

clean:
	rm -rf .local $(VENV)
