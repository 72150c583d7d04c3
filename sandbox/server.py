"""Serve a WSGI app on loopback in a background thread, for tests and the demo; the admin endpoints' helpers."""
from __future__ import annotations

import threading
from typing import Callable

from flask import jsonify, request
from werkzeug.serving import WSGIRequestHandler, make_server


def bad(why: str, status: int = 400):
    """An admin endpoint's refusal: {"error": why} with status."""
    return jsonify({"error": why}), status


def admin_body() -> dict:
    """The JSON object an admin endpoint was sent ({} for anything else)."""
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):  # one line per request drowns the demo's own output
        pass


def run_in_thread(app, host: str = "127.0.0.1", port: int = 0) -> tuple[str, Callable[[], None]]:
    """Start app on host:port (0 picks a free port); return its base URL and a function that stops it."""
    server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
    # A short poll interval lets stop() return at once instead of after up to half a second.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name=f"wsgi:{server.port}", daemon=True)
    thread.start()
    shown = f"[{host}]" if ":" in host else host

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return f"http://{shown}:{server.port}", stop
