"""API tokens: created once and shown once, stored as a SHA-256, revoked by name."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from models.api import PARK, SCOPES, WRITE, ApiToken
from models.db import bound, transaction, utcnow
from park import enterprises
from workflow import audit

# A recognisable prefix lets a secret scanner (and a person) tell our tokens from other strings.
PREFIX = "ptw_"


class TokenError(Exception):
    """A token command that cannot be carried out; the message says why, in Chinese."""


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create(name: str, scope: str, *, enterprise: str | None = None, now: datetime | None = None) -> str:
    """Create a token and return it: the only time the whole token is ever seen.

    A token of a park's enterprise is stored in that enterprise's database and names the enterprise
    (ptw_<code>.<secret>), so a request finds its database before it looks the token up.
    """
    name = (name or "").strip()
    if not name or len(name) > 64:
        raise TokenError("令牌名称不能为空，且不超过 64 个字符")
    if scope not in SCOPES:
        raise TokenError(f"未知权限“{scope}”，可选：{'、'.join(SCOPES)}")
    if enterprise is None:
        # A park token lives in the deployment's database, beside the registry of the enterprises it reads.
        return _create(name, scope, PREFIX + secrets.token_urlsafe(32), now or utcnow())
    if scope == PARK:
        raise TokenError("园区令牌（park）只能在部署本身创建（不带 --enterprise）：企业的令牌只读本企业")
    db = enterprises.database_of(enterprise)
    if db is None:
        raise TokenError(f"没有编码为“{enterprise}”的企业：python app.py enterprise list")
    with bound(db):
        return _create(name, scope, f"{PREFIX}{enterprise}.{secrets.token_urlsafe(32)}", now or utcnow())


def _create(name: str, scope: str, raw: str, now: datetime) -> str:
    with transaction():
        if ApiToken.select().where(ApiToken.name == name).exists():
            raise TokenError(f"令牌“{name}”已存在")
        ApiToken.create(name=name, digest=digest(raw), prefix=raw[:10], scope=scope, created_at=now)
        audit.append(permit_no=None, actor="cli", action="api_token_created",
                     data={"name": name, "scope": scope}, at=now)
    return raw


def revoke(name: str, *, now: datetime | None = None) -> None:
    now = now or utcnow()
    with transaction():
        token = ApiToken.get_or_none(ApiToken.name == name)
        if token is None:
            raise TokenError(f"没有名为“{name}”的令牌")
        if token.revoked_at is not None:
            raise TokenError(f"令牌“{name}”已于 {token.revoked_at:%Y-%m-%d %H:%M} 吊销")
        token.revoked_at = now
        token.save()
        audit.append(permit_no=None, actor="cli", action="api_token_revoked", data={"name": name}, at=now)


def listing() -> list[ApiToken]:
    return list(ApiToken.select().order_by(ApiToken.id))


def enterprise_of(header: str | None) -> str | None:
    """Return the code of the park enterprise an `Authorization: Bearer …` header's token names, or None."""
    raw = (header or "").partition(" ")[2].strip()
    code, dot, _ = raw.removeprefix(PREFIX).partition(".")
    return code if raw.startswith(PREFIX) and dot else None


def authenticate(header: str | None) -> ApiToken | None:
    """Return the live token an `Authorization: Bearer …` header carries, or None."""
    scheme, _, raw = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not raw.strip().startswith(PREFIX):
        return None
    token = ApiToken.get_or_none(ApiToken.digest == digest(raw.strip()))
    if token is None or token.revoked_at is not None:
        return None
    return token


def may_write(token: ApiToken) -> bool:
    return token.scope == WRITE


def is_park(token: ApiToken, enterprise: str | None) -> bool:
    """True for the park office's token: park-scoped, and the deployment's own, not an enterprise's."""
    return token.scope == PARK and enterprise is None
