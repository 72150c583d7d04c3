"""Answer a request the database cannot take now with 503 and Retry-After, never a 500."""
from __future__ import annotations

import logging

from flask import Flask, jsonify

from models.db import Busy

log = logging.getLogger(__name__)


def register(app: Flask) -> None:
    """Map models.db.Busy, raised anywhere in a request, to 503 + Retry-After."""

    @app.errorhandler(Busy)
    def busy(exc: Busy):
        log.warning("answered 503: %s", exc)
        response = jsonify(error="busy", message="服务繁忙，请稍后重试")
        response.status_code = 503
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
