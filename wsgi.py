"""The WSGI entry point: ``gunicorn -c config/gunicorn.conf.py wsgi:app``."""

from config import config_from_env
from shiftfill.app import create_app

app = create_app(config_from_env())
