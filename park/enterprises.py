"""The park's enterprises: added with a database of their own (migrated on the spot), and bound per request.

The registry lives in the deployment's own database; each enterprise's permits, people and audit chain
live only in its database.
"""
from __future__ import annotations

import re
import threading
from datetime import datetime

from peewee import Database, OperationalError

import settings
from models import transaction, utcnow
from models.db import bound, database, open_database
from models.enterprise import CODE_PATTERN, Enterprise
from models.schema import upgrade
from workflow import audit

_opened: dict[str, Database] = {}
_codes: dict[int, str] = {}   # id of an opened database → its enterprise's code
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


def _registry():
    # The registry is the deployment's, whichever enterprise's database this context has bound.
    return Enterprise.select().bind(database.home)


def listing() -> list[Enterprise]:
    return list(_registry().order_by(Enterprise.code))


def database_of(code: str) -> Database | None:
    """Return the enterprise's database (one pool per process and URL, opened on first use), or None."""
    row = _registry().where(Enterprise.code == code).first()
    if row is None:
        return None
    db = _pool(row.database_url)
    _codes[id(db)] = row.code
    return db


def codes() -> list[str]:
    """Return every registered enterprise's code, in order."""
    return [code for (code,) in _registry().select(Enterprise.code).order_by(Enterprise.code).tuples()]


def current() -> str | None:
    """Return the code of the enterprise whose database this context has bound; None on the deployment's own."""
    db = database.obj
    if db is database.home:
        return None
    # A database bound by other means (a snapshot being read) is no enterprise's: its work is the deployment's.
    return _codes.get(id(db))


def after_fork() -> None:
    """Forget the enterprises' connections a forked child inherited, as models.db.after_fork does the home's."""
    from models.db import forget_inherited
    for db in list(_opened.values()):
        forget_inherited(db)


def _pool(url: str) -> Database:
    conf = settings.current()
    with _lock:
        if url not in _opened:
            _opened[url] = open_database(url, pool_size=conf.db_pool_size, wait=conf.db_pool_wait)
        return _opened[url]
