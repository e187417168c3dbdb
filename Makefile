# shiftfill: `make run` serves the API with the sample data, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.requirements-installed
# Playwright drives Debian's chromium (make chromium): it never downloads a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: run run-redis serve hostile nginx redis-server chromium test test-ahead soak lint format bench bench-matching bench-webhooks screenshot clean

# Rebuilt whenever requirements.txt is newer than the last install.
$(STAMP): requirements.txt
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# Debian's package $(1), whose command is $(2): installed when missing and we are root,
# otherwise one line saying what to install.
define debian_package
	@command -v $(2) >/dev/null 2>&1 || test -x /usr/sbin/$(2) || { \
	  if [ "$$(id -u)" -ne 0 ]; then \
	    echo "$(2) is missing: install Debian's package (sudo apt-get install -y $(1))." >&2; \
	    exit 1; \
	  fi; \
	  echo "Installing $(1) (apt-get install -y $(1))"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q $(1) >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null && apt-get install -y -q $(1) >/dev/null; }; \
	}
endef

# Debian's redis-server, for the Redis store's tests and benchmark: the tests start their
# own instance. Installed when missing and we are root.
redis-server:
	$(call debian_package,redis-server,redis-server)

run: $(STAMP)
	$(BIN)/gunicorn -c config/gunicorn.conf.py wsgi:app

# shiftfill on the Redis store, with a local Redis (data in .redis/), in the foreground.
run-redis: $(STAMP) redis-server
	$(BIN)/python deploy/run_redis.py

# The production stack in the foreground: nginx on SHIFTFILL_PUBLIC_PORT (default 8080)
# in front of gunicorn on a Unix socket; SIGTERM or Ctrl-C stops both.
serve: $(STAMP) nginx
	$(BIN)/python deploy/serve.py

# Slow clients and floods against the production stack, with the figures (about 85 s).
hostile: $(STAMP) nginx
	$(BIN)/python bench/hostile.py

# Debian's nginx, for `make serve` and its tests: installed when missing and we are root.
nginx:
	$(call debian_package,nginx,nginx)

# Debian's chromium, for the board's browser tests and its screenshot: installed when missing
# and we are root.
chromium:
	$(call debian_package,chromium,chromium)

# Two workers: one runs tests/server/ (real servers, one at a time), the other the rest.
test: $(STAMP) nginx redis-server chromium
	$(BIN)/python -m pytest -n 2

# The tests that run in the test process, with the clock 400 days ahead (tests/clock_ahead.py):
# a date written into a test fails here long before it passes. tests/server/ is left out: the
# servers it starts keep the real clock, so a clock ahead in the test process proves nothing there.
test-ahead: $(STAMP) redis-server
	$(BIN)/python -m pytest -n 2 -p tests.clock_ahead --ignore=tests/server

# Longer runs of the race and model-based tests (about 15 minutes on 2 cores).
soak: $(STAMP) redis-server
	SHIFTFILL_RACE_ROUNDS=600 HYPOTHESIS_PROFILE=soak $(BIN)/python -m pytest \
		tests/server/test_races.py tests/services/test_invariants_model.py

# Every figure of docs/performance.md: the service's own benchmark, matching at scale, and
# what a provider outage leaves in the webhook deliveries.
bench: $(STAMP) redis-server
	$(BIN)/python bench/run.py
	$(BIN)/python bench/matching.py
	$(BIN)/python bench/webhook_outage.py

# The fanout of a client's shift needing a credential, 10,000 qualified of 100,000 (about 1 minute).
bench-matching: $(STAMP) redis-server
	$(BIN)/python bench/matching.py

# 10,000 failed texts announced to two endpoints: what the deliveries keep (a few seconds).
bench-webhooks: $(STAMP) redis-server
	$(BIN)/python bench/webhook_outage.py

# docs/board.png: the board on the sample data, photographed in chromium.
screenshot: $(STAMP) chromium
	$(BIN)/python bench/screenshot_board.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shiftfill config

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
