"""The WSGI entry point: ``gunicorn -c config/gunicorn.conf.py wsgi:app``."""

import sys

from config import ConfigError, config_from_env
from shiftfill.app import create_app
from shiftfill.seed import SeedError

# gunicorn's exit code for "the application failed to load": the master then stops
# with that reason instead of starting the worker again and again.
APP_LOAD_ERROR = 4

try:
    app = create_app(config_from_env())
except (ConfigError, SeedError) as exc:
    print(f"shiftfill: {exc}", file=sys.stderr, flush=True)
    sys.exit(APP_LOAD_ERROR)
