"""Authenticate a gateway's batch and check every reading in it before anything is stored.

A gas-detection controller posts many detectors' readings in one body, signed with its own
secret. One bad reading refuses the whole batch, naming the reading (its index in the array and
its device) and the problem; a detector registered to another gateway, or to none, is refused.
"""
from __future__ import annotations

import hmac
from datetime import datetime

from models import Gateway, Sensor, utcnow

from . import intake, registry
from .intake import Reading, Refused

MAX_BODY = 512 * 1024
MAX_ITEMS = 2000


def _gateway(snap: registry.Snapshot, code: str | None, timestamp: str, signature: str | None,
             body: bytes) -> Gateway:
    if not code or not code.strip():
        raise Refused(401, "missing_gateway", "缺少 X-Gateway（网关编号）")
    match = intake._SIGNATURE.fullmatch(signature or "")
    if match is None:
        raise Refused(401, "missing_signature", "缺少或无法识别 X-Signature，应为 sha256=<64 位十六进制>")
    code = code.strip().upper()
    gateway = snap.gateways.get(code)
    if gateway is None:
        raise Refused(401, "unknown_gateway", f"未登记的网关 {code[:40]}")
    if not hmac.compare_digest(intake.sign(gateway.secret, timestamp, body), f"sha256={match[1]}"):
        raise Refused(401, "bad_signature", "签名不符：请核对网关密钥和签名算法")
    if not gateway.enabled:
        raise Refused(403, "gateway_disabled", f"网关 {gateway.code} 已停用")
    return gateway


def _sensor(snap: registry.Snapshot, gateway: Gateway, index: int, device: str) -> Sensor:
    where = f"第 {index + 1} 条读数（{device[:40]}）"
    detail = {"index": index, "device": device[:40]}
    if not intake._DEVICE.fullmatch(device):
        raise Refused(400, "malformed_reading", f"{where}的检测仪编号格式不对", **detail)
    sensor = snap.sensors.get(device.upper())
    if sensor is None or sensor.gateway_id != gateway.id:
        # An unknown detector and another gateway's one get the same answer: the batch names it.
        raise Refused(403, "foreign_device", f"{where}：检测仪 {device} 未登记在网关 {gateway.code} 下", **detail)
    if not sensor.enabled:
        raise Refused(403, "device_disabled", f"{where}：检测仪 {sensor.code} 已停用", **detail)
    return sensor


def verify(body: bytes, headers, now: datetime | None = None) -> list[tuple[Sensor, list[Reading]]]:
    """Check a gateway's batch completely; return each detector with its readings, in post order."""
    now = now or utcnow()
    if len(body) > MAX_BODY:
        raise Refused(413, "body_too_large", f"请求体超过 {MAX_BODY // 1024} KB")
    timestamp = intake._timestamp(headers.get("X-Timestamp"), now)
    snap = registry.snapshot()
    gateway = _gateway(snap, headers.get("X-Gateway"), timestamp, headers.get("X-Signature"), body)
    if not body.lstrip().startswith(b"["):
        raise Refused(400, "bad_batch", "网关上报的请求体须为 JSON 数组")
    items = intake._items(body, MAX_ITEMS, over=413)
    posts: dict[str, tuple[Sensor, list[Reading]]] = {}
    seen: dict[tuple[str, datetime], int] = {}
    for index, item in enumerate(items):
        sensor = _sensor(snap, gateway, index, item["device"])
        where = f"第 {index + 1} 条读数（{sensor.code}）"
        try:
            reading = intake._reading(sensor, index, item, now, where=where)
        except Refused as exc:
            raise Refused(exc.status, exc.code, exc.message, **{**exc.detail, "index": index, "device": sensor.code}) from None
        first = seen.setdefault((sensor.code, reading.taken_at), index)
        if first != index:
            raise Refused(400, "duplicate_reading", f"{where}与第 {first + 1} 条是同一检测仪同一时刻的读数",
                          index=index, device=sensor.code)
        posts.setdefault(sensor.code, (sensor, []))[1].append(reading)
    return list(posts.values())
