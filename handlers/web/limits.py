"""Refuse a request body larger than the app's MAX_CONTENT_LENGTH with 413 and a stable error object."""
from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import RequestEntityTooLarge

log = logging.getLogger(__name__)


def register(app: Flask, *, limit: int) -> None:
    """Cap every request body at limit bytes; werkzeug then refuses a larger one before reading it."""
    app.config["MAX_CONTENT_LENGTH"] = limit

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_exc: RequestEntityTooLarge):
        log.warning("answered 413: body over %s bytes", limit)
        response = jsonify(error="body_too_large", message=f"请求体超过 {limit // 1024} KB")
        response.status_code = 413
        return response
