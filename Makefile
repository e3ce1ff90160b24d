# The entry points a person types. Each one installs what it needs first (idempotent, fast
# when nothing changed): see deploy/local/bootstrap.sh.
PY := .venv/bin/python
export PYTHONUNBUFFERED := 1

.PHONY: run stop test test-unit lint install install-test clean-local help docs bench-register-feed rebuild bench chaos lock check-returns import-returns dead-letters contracts rotation-status renew-certificates rotate-kafka-login backup restore

help:
	@echo "make run    - install, start the whole platform locally, print the URLs (Ctrl-C stops)"
	@echo "make stop   - stop a running local platform"
	@echo "make test   - install, then run every test against real Kafka and PostgreSQL"
	@echo "make lint   - ruff (rules and format), mypy (strict defs), import boundaries"

install:
	@deploy/local/bootstrap.sh

# The hashed lock files every install uses (bootstrap.sh, the Dockerfile), regenerated from
# pyproject.toml: run after changing a dependency there, and commit them with it. Add
# --upgrade-package NAME (or --upgrade) to LOCK_OPTIONS to move a transitive dependency on.
#   requirements.lock      runtime + build backend (the Docker image)
#   requirements-dev.lock  runtime + build backend + dev (.venv, make run and make test)
#   deploy/returns/*.lock  the DfE's return validators (.venv-returns, docs/returns.md)
LOCK_COMPILE = .venv/bin/uv pip compile --quiet --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command "make lock" $(LOCK_OPTIONS) pyproject.toml
RETURNS_COMPILE = .venv/bin/uv pip compile --quiet --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" $(LOCK_OPTIONS)
lock:
	@[ -x .venv/bin/uv ] || deploy/local/bootstrap.sh
	@$(LOCK_COMPILE) --extra build -o requirements.lock
	@$(LOCK_COMPILE) --extra build --extra dev -o requirements-dev.lock
	@$(RETURNS_COMPILE) deploy/returns/requirements.in -o deploy/returns/requirements.lock
	@$(RETURNS_COMPILE) --no-deps deploy/returns/liiatools.in -o deploy/returns/liiatools.lock
	@echo "requirements.lock and requirements-dev.lock regenerated from pyproject.toml"

install-test:
	@deploy/local/bootstrap.sh --test

run: install
	@$(PY) -m deploy.local.stack run

stop:
	@$(PY) -m deploy.local.stack stop

# Two workers (one a core) share one Kafka and one PostgreSQL; the work units and their order
# are in tests/conftest.py. TEST_WORKERS=0 runs every test in this one process.
TEST_WORKERS ?= 2
test: install-test
	@$(PY) -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder \
		--durations=25  # the slowest, to keep the whole under its budget

test-unit: install
	@$(PY) -m pytest tests/unit tests/contract -m "not integration"

lint: install
	@.venv/bin/ruff check contracts shared services deploy tests bench chaos
	@.venv/bin/ruff format --check contracts shared services deploy tests bench chaos
	@.venv/bin/mypy contracts shared services bench chaos deploy tests
	@.venv/bin/lint-imports
	@$(PY) -m deploy.contracts check

# Release the current message schemas into contracts/released/ (docs/contracts.md): refuses a
# breaking change unless the event's version is raised with an upcaster.
contracts: install
	@$(PY) -m deploy.contracts release
	@$(PY) -m deploy.partner_kit.generate contracts/released/partner-*.json

# Certificates and passwords, live (docs/operations.md), against CSP_KAFKA_SECURE=1 make run:
#   make rotation-status | make renew-certificates [LISTENER=internal|external] [STEP=trust|swap|drop] [DAYS_LEFT=60]
#   make rotate-kafka-login KAFKA_USER=case_events
rotation-status: install
	@$(PY) -m deploy.rotate status
renew-certificates: install
	@$(PY) -m deploy.rotate certificates --step $(or $(STEP),all) $(if $(LISTENER),--listener $(LISTENER)) $(if $(DAYS_LEFT),--days-left $(DAYS_LEFT))
rotate-kafka-login: install
	@$(PY) -m deploy.rotate password $(KAFKA_USER)

# Backups of `make run`'s cluster (docs/operations.md, "Backup and restore"):
#   make backup [ARGS="list" | ARGS="check" | ARGS="prune"]   (default: a base backup, verified)
backup: install
	@$(PY) -m deploy.backup $(or $(ARGS),base)

# Restore `make run`'s cluster (stopped first): in place only to TO=latest; TO=<a time with its
# UTC offset> needs INTO=folder (a copy: docs/operations.md, "The whole cluster back to a
# time"). SYSTEM=id when the archive holds several clusters.
restore: install
	@[ -n "$(TO)" ] || { echo "usage: make restore TO=latest|2025-06-01T14:05:00+01:00 [INTO=folder]"; exit 2; }
	@$(PY) -m deploy.backup restore --to "$(TO)" $(if $(INTO),--into "$(INTO)") $(if $(SYSTEM),--system "$(SYSTEM)")

clean-local:
	@rm -rf .local

docs: install
	@$(PY) -m shared.settings --markdown > docs/configuration.md
	@$(PY) -m deploy.catalogue
	@$(PY) -m services.partner_feeds.sharing
	@$(PY) -m deploy.permissions
	@$(PY) -m deploy.local.kafka_security docs
	@$(PY) -m services.projections.returns.rules
	@$(PY) -m deploy.partner_kit.fields docs/partners.md contracts/released/partner-*.json
	@echo "docs/configuration.md, docs/events.md, docs/asyncapi.json and the tables in docs/security.md regenerated"

# Needs `make run` in another terminal (same CSP_* ports). Prints marks per second.
bench-register-feed: install
	@set -a; . .local/run/services.env; set +a; \
	  $(PY) -m bench.register_feed

# Rebuild every board from offset 0 beside the live ones, then swap (needs `make run`).
rebuild: install
	@set -a; . .local/run/services.env; set +a; $(PY) -m services.projections rebuild

# The dead letters of `make run` (docs/operations.md, "Dead letters"), audited under your login:
#   make dead-letters [ARGS="list --consumer C" | ARGS="show P:O" | ARGS="replay P:O"]
dead-letters: install
	@$(PY) -m deploy.dead_letters --local $(or $(ARGS),list)

# Export this year's and last year's returns from `make run` and check them with the DfE's
# rules (Data to Insight's validators, in .venv-returns): the errors by rule (docs/returns.md).
check-returns: install
	@$(PY) -m deploy.returns.check

# Import a council's past returns (DIR: SSDA903 CSV folders and CIN census XML files) into the
# platform `make run` started, through its APIs, with a progress bar (docs/returns.md).
import-returns: install
	@[ -n "$(DIR)" ] || { echo "usage: make import-returns DIR=folder [LOCALITY=Exeter]"; exit 2; }
	@set -a; . .local/run/services.env; set +a; \
	  $(PY) -m deploy.returns.import_returns "$(DIR)" $(if $(LOCALITY),--locality "$(LOCALITY)")

# The benchmark harness: starts its own Kafka and PostgreSQL, runs a fixed seeded workload,
# writes bench/results/latest.json and docs/benchmarks.md (a few minutes).
bench: install
	@$(PY) -m bench.harness

# Fault injection: a seeded workload with brokers, databases and our own processes killed,
# then every invariant checked; writes docs/reliability.md (about 15 minutes).
chaos: install-test
	@$(PY) -m chaos
