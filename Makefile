# ToolboxAI Serverless. `make dev` runs the whole API locally; `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# No usage reports from the SAM CLI (and no network call for them).
export SAM_CLI_TELEMETRY := 0

.PHONY: help venv dev sam-env test fuzz bench lint fmt build package openapi clean

# Schemathesis examples per operation: a bounded run in `make test`, a
# longer one in `make fuzz`.
TEST_FUZZ_EXAMPLES ?= 10
FUZZ_EXAMPLES ?= 200

help:
	@echo "make dev    - moto + the whole API on http://127.0.0.1:8011 (Ctrl-C stops both)"
	@echo "make sam-env - .sam-env.json: what \`sam local invoke --env-vars\` needs to reach \`make dev\`'s stack"
	@echo "make test   - cfn-lint, sam validate --lint, every Rust test and a bounded schema fuzz, against a fresh moto"
	@echo "make fuzz   - a longer schemathesis run against the local API"
	@echo "make bench  - cold start, size, memory, DynamoDB calls and latency, as tables"
	@echo "make lint   - rustfmt check and clippy, warnings denied"
	@echo "make build  - release Lambda binaries with cargo-lambda (arm64)"
	@echo "make package - sam build: every function of template.yaml, ready for sam deploy"
	@echo "make openapi - regenerate openapi.json from the code"

# Python tools (moto, cfn-lint, cargo-lambda) in a project-local virtualenv.
$(STAMP): requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

# Local Stripe prices, so that a signed webhook (scripts/stripe-webhook) can
# move the demo organisation between tiers; a real deploy sets its own.
LOCAL_STRIPE_PRICES := STRIPE_PRICE_PRO_MONTH=price_local_pro_month STRIPE_PRICE_PRO_YEAR=price_local_pro_year \
	STRIPE_PRICE_ENTERPRISE_MONTH=price_local_enterprise_month STRIPE_PRICE_ENTERPRISE_YEAR=price_local_enterprise_year

dev: $(STAMP)
	cargo build --bin toolbox-local
	$(LOCAL_STRIPE_PRICES) MOTO_PORT=$${MOTO_PORT:-4566} scripts/with-moto cargo run --quiet --bin toolbox-local

# Each function's variables with the names of the resources `make dev`
# made (run it while `make dev` runs; MOTO_PORT as there).
sam-env: $(STAMP)
	AWS_ENDPOINT_URL=http://127.0.0.1:$${MOTO_PORT:-4566} scripts/with-moto \
		cargo run --quiet --bin toolbox-local -- sam-env > .sam-env.json
	@echo "wrote .sam-env.json"

test: $(STAMP)
	cfn-lint template.yaml
	AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing sam validate --lint --region us-east-1 -t template.yaml
	scripts/rojo --version
	scripts/with-moto cargo test --workspace
	scripts/with-moto scripts/fuzz $(TEST_FUZZ_EXAMPLES)

fuzz: $(STAMP)
	scripts/with-moto scripts/fuzz $(FUZZ_EXAMPLES)

bench: $(STAMP)
	cargo build --release -p toolbox-health -p toolbox-auth -p toolbox-organizations -p toolbox-authorizer -p toolbox-api-keys -p toolbox-content-worker \
		-p toolbox-content -p toolbox-realtime -p toolbox-classes -p toolbox-lessons -p toolbox-assessments -p toolbox-messages -p toolbox-dashboard -p toolbox-analytics -p toolbox-dashboard-events -p toolbox-payments -p toolbox-compliance -p toolbox-roblox \
		-p toolbox-local -p toolbox-bench
	scripts/with-moto $${CARGO_TARGET_DIR:-target}/release/toolbox-bench
	@if command -v valgrind >/dev/null; then bench/cold-start-instructions; else echo "valgrind not found: no instruction counts"; fi
	scripts/with-moto cargo test --quiet -p toolbox-tests --test api round_trips -- --nocapture
	scripts/with-moto cargo test --quiet -p toolbox-tests --test api scale -- --ignored --nocapture
	cargo test --quiet -p toolbox-roblox -- --ignored --nocapture

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

openapi:
	cargo run --quiet --bin toolbox-local -- openapi > openapi.json.tmp && mv openapi.json.tmp openapi.json

BUILD_STAMP := $(VENV)/.build-installed
$(BUILD_STAMP): requirements-build.txt $(STAMP)
	$(VENV)/bin/pip install --quiet -r requirements-build.txt
	touch $(BUILD_STAMP)

build: $(BUILD_STAMP)
	cargo lambda build --release --arm64 -p toolbox-health -p toolbox-auth -p toolbox-organizations -p toolbox-authorizer -p toolbox-api-keys -p toolbox-content-worker \
		-p toolbox-content -p toolbox-realtime -p toolbox-classes -p toolbox-lessons -p toolbox-assessments -p toolbox-messages -p toolbox-dashboard -p toolbox-analytics -p toolbox-dashboard-events

# What `sam deploy` uploads: SAM runs cargo-lambda for each function
# (BuildMethod rust-cargolambda, no beta flag) into .aws-sam/build.
package: $(BUILD_STAMP)
	sam build

clean:
	cargo clean
	rm -rf $(VENV)
