# shiftfill: `make run` serves the API with the sample data, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.requirements-installed

.PHONY: run test soak lint format bench clean redis-server

# Rebuilt whenever requirements.txt is newer than the last install.
$(STAMP): requirements.txt
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# The tests start their own Redis from Debian's package: install it when missing.
redis-server:
	@command -v redis-server >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get install -y redis-server || { apt-get update && apt-get install -y redis-server; }; \
	  else \
	    echo "redis-server is missing: install Debian's package redis-server (apt-get install redis-server)"; exit 1; \
	  fi; }

run: $(STAMP)
	$(BIN)/gunicorn -c config/gunicorn.conf.py wsgi:app

test: $(STAMP) redis-server
	$(BIN)/python -m pytest

# Longer runs of the race and model-based tests (about 5 minutes).
soak: $(STAMP) redis-server
	SHIFTFILL_RACE_ROUNDS=600 HYPOTHESIS_PROFILE=soak $(BIN)/python -m pytest \
		tests/server/test_races.py tests/services/test_invariants_model.py

bench: $(STAMP) redis-server
	$(BIN)/python bench/run.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shiftfill config

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
