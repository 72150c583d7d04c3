"""The park's enterprises: added with a database of their own (migrated on the spot), and bound per request.

The registry lives in the deployment's own database; each enterprise's permits, people and audit chain
live only in its database.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

from peewee import Database, OperationalError

import settings
from models import transaction, utcnow
from models.db import bound, database, open_database
from models.enterprise import CODE_PATTERN, Enterprise
from models.schema import upgrade
from workflow import audit

_opened: dict[str, Database] = {}
_lock = threading.Lock()


class EnterpriseError(Exception):
    """An enterprise command that cannot be carried out; the message says why, in Chinese."""


def _same_database(a: str, b: str) -> bool:
    return a.strip().rstrip("/") == b.strip().rstrip("/")


def add(code: str, name: str, url: str, *, now: datetime | None = None) -> list[str]:
    """Register an enterprise and bring its database's schema up to date; return what the migration did."""
    code, name, url = (code or "").strip(), (name or "").strip(), (url or "").strip()
    if database.obj is not database.home:
        raise EnterpriseError("企业只能在部署本身添加（不带 --enterprise）")
    if not re.fullmatch(CODE_PATTERN, code):
        raise EnterpriseError(f"企业编码“{code}”不合法：须为 1 到 32 位小写字母、数字或连字符，以字母或数字开头")
    if not name or len(name) > 100:
        raise EnterpriseError("企业名称不能为空，且不超过 100 个字符")
    if _registry().where(Enterprise.code == code).exists():
        raise EnterpriseError(f"企业编码“{code}”已存在")
    # Two enterprises in one database would read each other's rows: the one thing this must never allow.
    taken = [("本部署", settings.current().database_url)] + [(e.name, e.database_url) for e in _registry()]
    for owner, used in taken:
        if _same_database(used, url):
            raise EnterpriseError(f"该数据库已由“{owner}”使用，每个企业须有自己的数据库")
    try:
        db = _pool(url)
    except (ValueError, KeyError) as exc:
        raise EnterpriseError(f"数据库地址无法识别：{exc}") from None
    try:
        with bound(db):
            done = upgrade()
    except OperationalError as exc:
        raise EnterpriseError(f"无法连接或迁移该数据库：{exc}") from None
    now = now or utcnow()
    with transaction():
        Enterprise.create(code=code, name=name, database_url=url, created_at=now)
        audit.append(permit_no=None, actor="cli", action="enterprise_added", data={"code": code, "name": name},
                     at=now)
    return done


def set_url(code: str, url: str, *, now: datetime | None = None) -> list[str]:
    """Point an enterprise at its database again (after a restore, whose registry has the passwords masked)."""
    url = (url or "").strip()
    if database.obj is not database.home:
        raise EnterpriseError("企业只能在部署本身修改（不带 --enterprise）")
    row = _registry().where(Enterprise.code == code).first()
    if row is None:
        raise EnterpriseError(f"没有编码为“{code}”的企业：python app.py enterprise list")
    taken = [("本部署", settings.current().database_url)] + [(e.name, e.database_url) for e in _registry()
                                                           if e.code != code]
    for owner, used in taken:
        if _same_database(used, url):
            raise EnterpriseError(f"该数据库已由“{owner}”使用，每个企业须有自己的数据库")
    try:
        with bound(_pool(url)):
            done = upgrade()
    except (ValueError, KeyError) as exc:
        raise EnterpriseError(f"数据库地址无法识别：{exc}") from None
    except OperationalError as exc:
        raise EnterpriseError(f"无法连接或迁移该数据库：{exc}") from None
    now = now or utcnow()
    with transaction():
        Enterprise.update(database_url=url).where(Enterprise.code == code).execute()
        audit.append(permit_no=None, actor="cli", action="enterprise_url_set", data={"code": code}, at=now)
    return done


def _registry():
    # The registry is the deployment's, whichever enterprise's database this context has bound.
    return Enterprise.select().bind(database.home)


def listing() -> list[Enterprise]:
    return list(_registry().order_by(Enterprise.code))


def database_of(code: str) -> Database | None:
    """Return the enterprise's database (one pool per process and URL, opened on first use), or None."""
    row = _registry().where(Enterprise.code == code).first()
    return _pool(row.database_url) if row is not None else None


def masked(url: str) -> str:
    """Return url with its password, if any, replaced by ***: for listings, backups and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


@dataclass(frozen=True)
class Site:
    """What one piece of work found in one enterprise's database (code None: the deployment's own plant)."""
    code: str | None
    name: str
    found: Any
    error: str = ""


def across(work: Callable[[], Any]) -> list[Site]:
    """Run work on the deployment's own database, then on each enterprise's in turn, and return every result.

    The park office's views and reports are this loop: one enterprise's database bound at a time, so
    each result holds that enterprise's rows and no other's. An enterprise whose database does not
    answer is reported as such rather than failing the whole park.
    """
    if database.obj is not database.home:
        raise EnterpriseError("园区视图只能在部署本身读取（不带 --enterprise）")
    sites = [Site(None, settings.current().plant_name, work())]
    for row in listing():
        try:
            with bound(_pool(row.database_url)):
                sites.append(Site(row.code, row.name, work()))
        except OperationalError:
            sites.append(Site(row.code, row.name, None, "无法读取该企业的数据库"))
    return sites


def _pool(url: str) -> Database:
    conf = settings.current()
    with _lock:
        if url not in _opened:
            _opened[url] = open_database(url, pool_size=conf.db_pool_size, wait=conf.db_pool_wait)
        return _opened[url]
