"""Who may call the API and how often, and the once-only effect of a write with an Idempotency-Key."""
from __future__ import annotations

import functools
import hashlib
import logging
import time
from contextlib import ExitStack
from datetime import timedelta

from flask import current_app, g, request
from flask_smorest import abort
from peewee import IntegrityError
from redis.exceptions import RedisError

from jobs.connection import redis
from models.api import ApiToken, IdempotentRequest
from models.db import database, transaction, utcnow
from park import enterprises

from . import tokens

log = logging.getLogger(__name__)
MAX_KEY = 128
PARK_PATH = "/api/v1/park/"


def authenticate() -> None:
    """Run before every /api/v1 request: the token's enterprise bound, a live token, within its rate."""
    header = request.headers.get("Authorization")
    g.enterprise = tokens.enterprise_of(header)
    if g.enterprise is not None:
        if enterprises.database_of(g.enterprise) is None:
            _refuse()
        _enter(g.enterprise)
    token = tokens.authenticate(header)
    if token is None:
        _refuse()
    g.api_token = token
    park_path = request.path.startswith(PARK_PATH)
    if tokens.is_park(token, g.enterprise) != park_path:
        # The park office reads the park view and no single enterprise's resources; no other token reads it.
        abort(403, message=("园区令牌只能读取园区视图（/api/v1/park/…）" if not park_path
                            else "只有园区令牌（api-token create --scope park）可以读取园区视图"), code="forbidden")
    _within_rate(token)
    _touch(token)


def _refuse() -> None:
    # An unknown enterprise is answered as an unknown token: which enterprises exist is nobody's business.
    abort(401, message="缺少有效的访问令牌（Authorization: Bearer <令牌>），或令牌已吊销", code="unauthorized",
          headers={"WWW-Authenticate": 'Bearer realm="api"'})


def _enter(code: str) -> None:
    """Run the rest of the request as the enterprise: on its database, and on no other."""
    if not database.is_closed():
        database.close()   # the deployment's own connection, opened for every request
    scope = ExitStack()
    scope.enter_context(enterprises.entered(code))
    g.enterprise_scope = scope
    database.connect(reuse_if_open=True)


def unbind_enterprise(_exc) -> None:
    """Close the enterprise's connection and give the context back, whatever the request's outcome."""
    scope = g.pop("enterprise_scope", None)
    if scope is not None:
        scope.close()   # closes the enterprise's connection, then unbinds


def _within_rate(token: ApiToken) -> None:
    limit = current_app.config["SETTINGS"].api_rate_per_minute
    window = int(time.time() // 60)
    # Ids are per database: two enterprises' token 1 are two tokens.
    key = f"api:rate:{g.enterprise or ''}:{token.id}:{window}"
    try:
        pipe = redis().pipeline()
        pipe.incr(key)
        pipe.expire(key, 120)
        used = pipe.execute()[0]
    except RedisError:
        # The limit protects the plant's database from a runaway integration; without Redis it is not
        # worth refusing every caller, so the request goes on and the outage is logged.
        log.warning("API rate limit skipped: Redis does not answer")
        return
    if used > limit:
        retry = 60 - int(time.time()) % 60
        abort(429, message=f"请求过于频繁：每分钟最多 {limit} 次，请 {retry} 秒后再试", code="rate_limited",
              headers={"Retry-After": str(retry)})


def _touch(token: ApiToken) -> None:
    # A write per request would double the API's cost; a minute's precision is enough to spot an unused token.
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.update(last_used_at=now).where(ApiToken.id == token.id).execute()


def writes(view):
    """Guard a write: a write-scoped token, an Idempotency-Key, and one effect however often it is sent."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        token = g.api_token
        if not tokens.may_write(token):
            abort(403, message=f"令牌“{token.name}”只有读取权限，不能写入", code="forbidden")
        key = (request.headers.get("Idempotency-Key") or "").strip()
        if not key or len(key) > MAX_KEY:
            abort(422, message=f"写入请求须带 Idempotency-Key 请求头（1 到 {MAX_KEY} 个字符）",
                  field="Idempotency-Key")
        fingerprint = hashlib.sha256(b"\n".join([request.method.encode(), request.path.encode(),
                                                 request.get_data()])).hexdigest()
        replay = _replay(token, key, fingerprint)
        if replay is not None:
            return replay
        try:
            with transaction():
                response = view(*args, **kwargs)
                # Stored in the write's own transaction: the effect and its answer commit together.
                IdempotentRequest.create(token=token, key=key, fingerprint=fingerprint,
                                         status=response.status_code, body=response.get_data(as_text=True))
        except IntegrityError:
            # The same key raced in from another request and committed first: answer as it did.
            replay = _replay(token, key, fingerprint)
            if replay is None:
                raise
            return replay
        return response
    return wrapper


def _replay(token: ApiToken, key: str, fingerprint: str):
    stored = IdempotentRequest.get_or_none(IdempotentRequest.token == token, IdempotentRequest.key == key)
    if stored is None:
        return None
    if stored.fingerprint != fingerprint:
        abort(422, message="该 Idempotency-Key 已用于另一个请求，请换一个新的", field="Idempotency-Key")
    response = current_app.response_class(stored.body, status=stored.status, mimetype="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response
