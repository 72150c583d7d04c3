"""The production web tier: gunicorn processes with request threads, each building its own app after the fork."""
from __future__ import annotations

from gunicorn.app.base import BaseApplication

import models


def _child_exit(server, worker) -> None:
    from monitoring.metrics import process_ended
    process_ended(worker.pid)


def _post_fork(server, worker) -> None:
    # The master released its connections before forking; forget anything a later change leaves behind
    # rather than share a socket with the master.
    models.db.after_fork()


class WebServer(BaseApplication):
    """gunicorn's gthread workers serving create_app(), built in each worker (no preload)."""

    def __init__(self, *, bind: str, workers: int, threads: int, timeout: int):
        self.options = {"bind": bind, "workers": workers, "threads": threads, "worker_class": "gthread",
                        "timeout": timeout, "graceful_timeout": timeout, "keepalive": 5,
                        # Above the number of detectors a process may hear from at once: a burst waits
                        # in the kernel's queue instead of being refused.
                        "backlog": 2048, "preload_app": False, "post_fork": _post_fork,
                        "child_exit": _child_exit,
                        "accesslog": None, "errorlog": "-", "loglevel": "warning",
                        "proc_name": "permit-web"}
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        # By name, as `gunicorn 'app:create_app()'` would: app.py is the composition root and
        # nothing imports it back.
        from gunicorn.util import import_app
        return import_app("app:create_app()")


def serve(*, host: str, port: int, workers: int, threads: int, timeout: int) -> None:
    """Run gunicorn until it is stopped; no connection is open in this process when it forks."""
    import settings
    if not settings.current().redis_url:
        # The embedded server is started once here; each worker's client reconnects after the fork.
        from jobs.connection import redis
        redis().ping()
    # Every gunicorn process writes its metrics there, so a scrape of any one of them counts them all.
    from monitoring.metrics import use_directory
    use_directory(settings.current().instance_path / "metrics")
    models.db.release()
    WebServer(bind=f"{host}:{port}", workers=workers, threads=threads, timeout=timeout).run()
