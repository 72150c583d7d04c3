"""The park's enterprises: added with a database of their own (migrated on the spot), and bound per request.

The registry lives in the deployment's own database; each enterprise's permits, people and audit chain
live only in its database. An enterprise may carry its own chat apps (a WeCom corp, a DingTalk org): a
callback's corp id then finds it, and while it is entered every send goes through its apps alone.
"""
from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

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
    row = _row(code)
    if row is None:
        return None
    db = _pool(row.database_url)
    _codes[id(db)] = row.code
    return db


def _row(code: str) -> Enterprise | None:
    return _registry().where(Enterprise.code == code).first()


PLATFORM_VARS = {"wecom": "WECOM_", "dingtalk": "DINGTALK_"}
PLATFORM_NAMES = {"wecom": "企业微信", "dingtalk": "钉钉"}


def set_chat(code: str, variables: dict[str, str], *, now: datetime | None = None) -> list[str]:
    """Give the enterprise its own app on each platform the variables name (WECOM_* / DINGTALK_*, as in
    the deployment's settings); return the platforms set."""
    if database.obj is not database.home:
        raise EnterpriseError("企业的聊天应用只能在部署本身设置（不带 --enterprise）")
    row = _row(code)
    if row is None:
        raise EnterpriseError(f"没有编码为“{code}”的企业：python app.py enterprise list")
    unknown = sorted(k for k in variables if not k.startswith(tuple(PLATFORM_VARS.values())))
    if unknown or not variables:
        raise EnterpriseError(f"只接受 WECOM_* 或 DINGTALK_* 变量，未识别：{'、'.join(unknown) or '（空）'}")
    found: dict[str, dict] = {}
    for platform, prefix in PLATFORM_VARS.items():
        env = {k: v for k, v in variables.items() if k.startswith(prefix)}
        if not env:
            continue
        try:
            parsed = settings.parse_platform(platform, env)
        except SystemExit as exc:   # the settings' own check, whose message names the variable
            raise EnterpriseError(f"{PLATFORM_NAMES[platform]}应用配置不正确：{exc}") from None
        if parsed is None:
            raise EnterpriseError(f"{PLATFORM_NAMES[platform]}应用配置不完整")
        owner = corp_owner(platform, parsed.corp_id)
        if owner not in (None, code):
            raise EnterpriseError(f"企业号 {parsed.corp_id} 已由“{owner or '本部署'}”使用，每个企业须有自己的应用")
        if platform == "wecom":
            _check_robot(code, env)
        found[platform] = env
    with transaction():
        Enterprise.update(**found).where(Enterprise.id == row.id).execute()
        # The secrets stay out of the chain: which apps, not their keys.
        audit.append(permit_no=None, actor="cli", action="enterprise_chat_set",
                     data={"code": code, "apps": {p: settings.parse_platform(p, e).corp_id for p, e in found.items()}},
                     at=now or utcnow())
    return sorted(found)


def _check_robot(code: str, env: dict[str, str]) -> None:
    """Refuse a WeCom robot (WECOM_MODE=ws) that is badly set or is the deployment's or another enterprise's.

    WeCom holds one live connection per robot: two enterprises on one robot would take each other's
    connection, and each one's people would get the other's cards.
    """
    try:
        robot = settings.parse_wecom_ws(env)
    except SystemExit as exc:
        raise EnterpriseError(f"企业微信长连接配置不正确：{exc}") from None
    if robot is None:
        return
    home = settings.home().wecom_ws
    owners = [("本部署", home.bot_id if home else None)]
    owners += [(e.name, getattr(settings.parse_wecom_ws(e.wecom), "bot_id", None))
               for e in _registry() if e.wecom and e.code != code]
    for owner, bot_id in owners:
        if bot_id == robot.bot_id:
            raise EnterpriseError(f"智能机器人 {robot.bot_id} 已由“{owner}”使用，每个企业须有自己的机器人")


def corp_owner(platform: str, corp_id: str) -> str | None:
    """Return the code of the enterprise whose app on platform is corp_id, "" for the deployment's own, else None."""
    own = getattr(settings.home(), platform, None)
    if own is not None and own.corp_id == corp_id:
        return ""
    for row in _registry().where(getattr(Enterprise, platform).is_null(False)):
        parsed = settings.parse_platform(platform, getattr(row, platform))
        if parsed is not None and parsed.corp_id == corp_id:
            return row.code
    return None


_settings: dict[tuple, settings.Settings] = {}


def settings_of(code: str) -> settings.Settings | None:
    """Return the settings the enterprise's work runs with: the deployment's, with the enterprise's own apps
    in place of the deployment's when it has any; None for an unknown enterprise."""
    row = _row(code)
    if row is None:
        return None
    home = settings.home()
    if not row.wecom and not row.dingtalk:
        return home
    key = (code, id(home), repr(row.wecom), repr(row.dingtalk))
    with _lock:
        if key not in _settings:
            wecom = settings.parse_platform("wecom", row.wecom) if row.wecom else None
            robot = settings.parse_wecom_ws(row.wecom) if row.wecom else None
            dingtalk = settings.parse_platform("dingtalk", row.dingtalk) if row.dingtalk else None
            default = home.default_platform if wecom and dingtalk else ("wecom" if wecom else "dingtalk")
            # Nothing of the deployment's own apps: another enterprise's card must never leave through them.
            _settings[key] = replace(home, wecom=wecom, dingtalk=dingtalk, wecom_ws=robot, default_platform=default)
        return _settings[key]


@contextmanager
def entered(code: str) -> Iterator[str]:
    """Run the block as the enterprise: its database bound, its settings (its chat apps) current."""
    db, conf = database_of(code), settings_of(code)
    if db is None or conf is None:
        raise EnterpriseError(f"没有编码为“{code}”的企业")
    with settings.scoped(conf), bound(db):
        yield code


def codes() -> list[str]:
    """Return every registered enterprise's code, in order."""
    return [code for (code,) in _registry().select(Enterprise.code).order_by(Enterprise.code).tuples()]


def media_folder() -> Path:
    """Return where the bound context keeps its photos and files: the instance folder for the deployment's
    own, instance/enterprises/<code> for a park enterprise, so that its archive can carry them."""
    code = current()
    root = settings.current().instance_path
    return root / "enterprises" / code if code else root


def media_file(relative: str) -> Path:
    """Return the stored file of a media path relative to the bound context's folder.

    An enterprise's photos taken before it had a folder of its own are in the instance folder: their
    names are their SHA-256, so a file found there under the same name is the same bytes.
    """
    mine = media_folder() / relative
    if mine.exists() or current() is None:
        return mine
    return settings.current().instance_path / relative


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
            # Entered, not only bound: links and jobs made while reading must name the enterprise too.
            with entered(row.code):
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
