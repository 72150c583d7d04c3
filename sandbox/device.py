"""The phone itself, as the chat app's JS-SDK sees it: where each member stands, and the location API.

  GET|POST /sandbox/location       a member's phone position, in WGS-84 as its GPS sees it:
                                   {"user", "latitude", "longitude", "accuracy"}; null latitude: no fix
  POST     /sandbox/jsapi/location what the JS-SDK's location call answers, for the member whose phone
                                   opened the page (the scan cookie): {"config", "url", "type"|"coordinate"}
  GET      /sandbox/jssdk.js       the stand-in of the platform's JS-SDK script (wx or dd)

As the platform does, the call is refused unless the page's config is signed with the app's current
jsapi_ticket over the page's address and lists the API. WeCom answers in the datum asked for (wgs84 by
default); DingTalk, as its Android client does, answers in GCJ-02 whatever coordinate was asked.
"""
from __future__ import annotations

import hashlib
import json
import secrets
import threading
from math import cos, pi, sin, sqrt

from flask import Flask, Response, jsonify, request

_A, _EE = 6_378_245.0, 0.006_693_421_622_965_943_23


def to_gcj02(lat: float, lng: float) -> tuple[float, float]:
    """Shift a WGS-84 position into China's GCJ-02 map datum, as the phone's map SDK does."""
    if not (72.004 <= lng <= 137.8347 and 0.8293 <= lat <= 55.8271):
        return lat, lng
    x, y = lng - 105.0, lat - 35.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt(abs(x))
    dlng = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt(abs(x))
    wave = (20.0 * sin(6.0 * x * pi) + 20.0 * sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat += wave + (20.0 * sin(y * pi) + 40.0 * sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * sin(y / 12.0 * pi) + 320 * sin(y * pi / 30.0)) * 2.0 / 3.0
    dlng += wave + (20.0 * sin(x * pi) + 40.0 * sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlng += (150.0 * sin(x / 12.0 * pi) + 300.0 * sin(x / 30.0 * pi)) * 2.0 / 3.0
    rad = lat / 180.0 * pi
    magic = 1 - _EE * sin(rad) ** 2
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt(magic)) * pi)
    dlng = (dlng * 180.0) / (_A / sqrt(magic) * cos(rad) * pi)
    return lat + dlat, lng + dlng


class Devices:
    """Every member's phone position and the app's jsapi_ticket; every method takes the lock itself."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ticket = secrets.token_urlsafe(48)
        self.positions: dict[str, dict] = {}

    def place(self, user: str, latitude, longitude, accuracy=15.0, mock: bool = False) -> None:
        """Put the member's phone there; mock: the position comes from a mock-location app (Android)."""
        with self.lock:
            if latitude is None:
                self.positions.pop(user, None)   # location off, or no fix indoors
            else:
                self.positions[user] = {"latitude": float(latitude), "longitude": float(longitude),
                                        "accuracy": float(accuracy if accuracy is not None else 15.0),
                                        "mock": bool(mock)}

    def where(self, user: str) -> dict | None:
        with self.lock:
            found = self.positions.get(user)
            return dict(found) if found else None

    def signed(self, config: dict, url: str, nonce_key: str, time_key: str) -> bool:
        plain = (f"jsapi_ticket={self.ticket}&noncestr={config.get(nonce_key)}&timestamp={config.get(time_key)}"
                 f"&url={url.split('#')[0]}")
        return secrets.compare_digest(hashlib.sha1(plain.encode()).hexdigest(), str(config.get("signature")))


WECOM_SDK = """(function () {
  var base = document.currentScript.src.replace(/\\/sandbox\\/jssdk\\.js.*$/, "");
  var conf = null, readies = [], errors = [];
  window.wx = {
    config: function (c) { conf = c; setTimeout(function () { readies.forEach(function (f) { f(); }); }, 0); },
    ready: function (f) { readies.push(f); }, error: function (f) { errors.push(f); },
    getLocation: function (o) {
      fetch(base + "/sandbox/jsapi/location", {method: "POST", credentials: "include",
        body: JSON.stringify({config: conf, url: location.href.split("#")[0], type: o.type || "wgs84"})})
        .then(function (r) { return r.json(); }).then(function (r) {
          if (r.errMsg === "getLocation:ok") { if (o.success) { o.success(r); } return; }
          if (/^config:/.test(r.errMsg)) { errors.forEach(function (f) { f(r); }); }
          if (o.fail) { o.fail(r); }
        }, function () { if (o.fail) { o.fail({errMsg: "getLocation:fail"}); } });
    }
  };
})();
"""

DINGTALK_SDK = """(function () {
  var base = document.currentScript.src.replace(/\\/sandbox\\/jssdk\\.js.*$/, "");
  var conf = null, readies = [], errors = [];
  window.dd = {
    config: function (c) { conf = c; setTimeout(function () { readies.forEach(function (f) { f(); }); }, 0); },
    ready: function (f) { readies.push(f); }, error: function (f) { errors.push(f); },
    device: {geolocation: {get: function (o) {
      fetch(base + "/sandbox/jsapi/location", {method: "POST", credentials: "include",
        body: JSON.stringify({config: conf, url: location.href.split("#")[0], coordinate: o.coordinate})})
        .then(function (r) { return r.json(); }).then(function (r) {
          if (!r.errorCode) { if (o.onSuccess) { o.onSuccess(r); } return; }
          if (r.errorCode === 1) { errors.forEach(function (f) { f(r); }); }
          if (o.onFail) { o.onFail(r); }
        }, function () { if (o.onFail) { o.onFail({errorCode: 3, errorMessage: "定位失败"}); } });
    }}}
  };
})();
"""


def device_routes(app: Flask, devices: Devices, *, platform: str, corp_id: str, member, scanner_cookie: str) -> None:
    """Register the phone's position and the JS-SDK's location call on a sandbox app."""

    @app.route("/sandbox/location", methods=["GET", "POST"])
    def location():
        if request.method == "GET":
            return jsonify(devices.where(member(request.args.get("user", "")) or ""))
        body = request.get_json(silent=True) or {}
        user = member(str(body.get("user", "")))
        if user is None:
            return jsonify({"error": "unknown user"}), 404
        devices.place(user, body.get("latitude"), body.get("longitude"), body.get("accuracy"),
                      mock=body.get("mock") is True)
        return jsonify({"ok": True})

    @app.get("/sandbox/jssdk.js")
    def script():
        return Response(WECOM_SDK if platform == "wecom" else DINGTALK_SDK, mimetype="application/javascript")

    @app.route("/sandbox/jsapi/location", methods=["POST"])
    def jsapi_location():
        # Sent as text/plain by the stand-in script so the browser needs no CORS preflight.
        try:
            body = json.loads(request.get_data(as_text=True) or "{}")
        except ValueError:
            body = {}
        config = body.get("config") if isinstance(body, dict) and isinstance(body.get("config"), dict) else {}
        user = member(request.cookies.get(scanner_cookie, ""))
        answer = _wecom(devices, corp_id, user, config, body) if platform == "wecom" else \
            _dingtalk(devices, corp_id, user, config, body)
        reply = jsonify(answer)
        origin = request.headers.get("Origin")
        if origin:   # the page is the app's, on another port: let it read the answer, with the cookie
            reply.headers["Access-Control-Allow-Origin"] = origin
            reply.headers["Access-Control-Allow-Credentials"] = "true"
        return reply


def _wecom(devices: Devices, corp_id: str, user: str | None, config: dict, body: dict) -> dict:
    if config.get("appId") != corp_id or not devices.signed(config, str(body.get("url", "")), "nonceStr",
                                                              "timestamp"):
        return {"errMsg": "config:invalid signature"}
    if "getLocation" not in (config.get("jsApiList") or []):
        return {"errMsg": "getLocation:permission denied"}
    where = devices.where(user) if user else None
    if where is None:
        return {"errMsg": "getLocation:fail"}
    lat, lng = where["latitude"], where["longitude"]
    if body.get("type") == "gcj02":
        lat, lng = to_gcj02(lat, lng)
    return {"errMsg": "getLocation:ok", "latitude": lat, "longitude": lng, "speed": 0,
            "accuracy": where["accuracy"]}


def _dingtalk(devices: Devices, corp_id: str, user: str | None, config: dict, body: dict) -> dict:
    if config.get("corpId") != corp_id or not devices.signed(config, str(body.get("url", "")), "nonceStr",
                                                               "timeStamp"):
        return {"errorCode": 1, "errorMessage": "jsapi ticket 校验失败"}
    if "device.geolocation.get" not in (config.get("jsApiList") or []):
        return {"errorCode": 1, "errorMessage": "没有调用该接口的权限"}
    where = devices.where(user) if user else None
    if where is None:
        return {"errorCode": 3, "errorMessage": "定位失败"}
    lat, lng = to_gcj02(where["latitude"], where["longitude"])   # Android: AutoNavi's datum, always
    # isFromMock: Android only, whether the position came from a mock-location provider (dingtalk-jsapi's
    # device.geolocation.get result); WeCom's getLocation answers nothing of the kind.
    return {"errorCode": 0, "latitude": lat, "longitude": lng, "accuracy": where["accuracy"], "address": "",
            "netType": "wifi", "operatorType": "", "locationType": 1, "isFromMock": where["mock"]}
