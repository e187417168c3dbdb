"""gunicorn settings for the benchmark's comparison: the shipped ones, except that each
worker leaves the cyclic garbage collector as CPython sets it (nothing frozen, the
thresholds 700, 10, 10)."""

import runpy
from pathlib import Path

_shipped = runpy.run_path(str(Path(__file__).resolve().parents[1] / "config" / "gunicorn.conf.py"))
globals().update({name: value for name, value in _shipped.items() if not name.startswith("__")})


def post_worker_init(worker):
    """As the shipped hook, without ``tune_collector()``."""
    runtime = _shipped["_runtime"](worker)
    if runtime is not None:
        runtime.start()
