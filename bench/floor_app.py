"""The callback floor served alone, for bench/plant_day.py: gunicorn 'floor_app:create()' with bench/ on the path."""
from __future__ import annotations


def create():
    """Build the app with only bench/callback.py's floor endpoint (and /healthz) mounted beside it."""
    import callback
    from app import create_app
    app = create_app()
    app.register_blueprint(callback._floor_blueprint(callback._floor_model()))
    return app
