"""The phone itself, as the chat app's JS-SDK sees it: where each member stands, its camera, and their APIs.

  GET|POST /sandbox/location       a member's phone position, in WGS-84 as its GPS sees it:
                                   {"user", "latitude", "longitude", "accuracy"}; null latitude: no fix
  POST     /sandbox/jsapi/location what the JS-SDK's location call answers, for the member whose phone
                                   opened the page (the scan cookie): {"config", "url", "type"|"coordinate"}
  POST     /sandbox/camera         what is in front of a member's camera: {"user", "photo" (base64 JPEG or
                                   PNG), "at" (optional: the Unix time the camera's clock shows as it shoots)}
  POST     /sandbox/jsapi/<api>    the camera calls, for the scanning member: WeCom chooseImage (sourceType
                                   must be ["camera"]) and uploadImage (a media_id as serverId), DingTalk
                                   biz.util.uploadImageFromCamera (a link to /sandbox/cdn/<id>.jpg)
  GET      /sandbox/jssdk.js       the stand-in of the platform's JS-SDK script (wx or dd)

The camera, as a phone's does, writes when it took the photo into the JPEG (EXIF DateTimeOriginal and
OffsetTimeOriginal, China's +08:00). As the platform does, each call is refused unless the page's config is signed with the app's current
jsapi_ticket over the page's address and lists the API. WeCom answers in the datum asked for (wgs84 by
default); DingTalk, as its Android client does, answers in GCJ-02 whatever coordinate was asked.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import secrets
import threading
import time
from datetime import datetime, timedelta, timezone
from math import cos, pi, sin, sqrt
from typing import Callable

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
        self.cameras: dict[str, dict] = {}        # user -> {"photo": bytes, "at": float | None}
        self.local: dict[str, tuple[str, bytes]] = {}   # a chosen photo's localId -> (user, stamped JPEG)
        self.cdn: dict[str, bytes] = {}           # DingTalk: photos uploadImageFromCamera put on its CDN

    def aim(self, user: str, photo: bytes, at: float | None) -> None:
        with self.lock:
            self.cameras[user] = {"photo": photo, "at": at}

    def shoot(self, user: str, now: float) -> bytes | None:
        """Return the photo the user's camera takes now, stamped with the time its clock shows."""
        with self.lock:
            aimed = self.cameras.get(user)
        if aimed is None:
            return None
        return stamped(aimed["photo"], aimed["at"] if aimed["at"] is not None else now)

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


CHINA = timezone(timedelta(hours=8))


def stamped(photo: bytes, at: float) -> bytes:
    """Return photo as the phone's camera saves it: a JPEG whose EXIF says when it was taken."""
    from PIL import Image
    with Image.open(io.BytesIO(photo)) as image:
        exif = Image.Exif()
        taken = datetime.fromtimestamp(at, CHINA)
        exif.get_ifd(0x8769)[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")   # DateTimeOriginal
        exif.get_ifd(0x8769)[0x9011] = "+08:00"                             # OffsetTimeOriginal
        out = io.BytesIO()
        image.convert("RGB").save(out, format="JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


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
    },
    chooseImage: function (o) { call("chooseImage", {sourceType: o.sourceType || ["album", "camera"]}, o); },
    uploadImage: function (o) { call("uploadImage", {localId: o.localId}, o); }
  };
  function call(api, args, o) {
    args.config = conf; args.url = location.href.split("#")[0];
    fetch(base + "/sandbox/jsapi/" + api, {method: "POST", credentials: "include", body: JSON.stringify(args)})
      .then(function (r) { return r.json(); }).then(function (r) {
        if (r.errMsg === api + ":ok") { if (o.success) { o.success(r); } return; }
        if (/^config:/.test(r.errMsg)) { errors.forEach(function (f) { f(r); }); }
        if (o.fail) { o.fail(r); }
      }, function () { if (o.fail) { o.fail({errMsg: api + ":fail"}); } });
  }
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
    }}},
    biz: {util: {uploadImageFromCamera: function (o) {
      fetch(base + "/sandbox/jsapi/biz.util.uploadImageFromCamera", {method: "POST", credentials: "include",
        body: JSON.stringify({config: conf, url: location.href.split("#")[0], compression: o.compression})})
        .then(function (r) { return r.json(); }).then(function (r) {
          if (!r.errorCode) { if (o.onSuccess) { o.onSuccess(r.result); } return; }
          if (r.errorCode === 1) { errors.forEach(function (f) { f(r); }); }
          if (o.onFail) { o.onFail(r); }
        }, function () { if (o.onFail) { o.onFail({errorCode: 3, errorMessage: "上传失败"}); } });
    }}}
  };
})();
"""


def device_routes(app: Flask, devices: Devices, *, platform: str, corp_id: str, member, scanner_cookie: str,
                  keep: Callable[[bytes], str] | None = None, now: Callable[[], float] = time.time) -> None:
    """Register the phone's position and camera and the JS-SDK's calls of them on a sandbox app.

    keep stores a photo the camera call uploads and returns what the platform answers for it (WeCom: a
    media_id; DingTalk, by default: a link to /sandbox/cdn); now is the platform's clock, which the
    camera's follows.
    """
    if keep is None and platform == "dingtalk":
        def keep(photo: bytes) -> str:
            name = secrets.token_hex(12)
            with devices.lock:
                devices.cdn[name] = photo
            return f"{request.host_url}sandbox/cdn/{name}.jpg"

    @app.get("/sandbox/cdn/<name>.jpg")
    def cdn(name: str):
        with devices.lock:
            photo = devices.cdn.get(name)
        return Response(photo, mimetype="image/jpeg") if photo is not None else ("", 404)

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

    @app.post("/sandbox/camera")
    def camera():
        body = request.get_json(silent=True) or {}
        user = member(str(body.get("user", "")))
        if user is None:
            return jsonify({"error": "unknown user"}), 404
        try:
            photo = base64.b64decode(str(body.get("photo", "")), validate=True)
        except (binascii.Error, ValueError):
            return jsonify({"error": "photo must be base64"}), 400
        at = body.get("at")
        if not photo or (at is not None and not isinstance(at, (int, float))):
            return jsonify({"error": "photo and a numeric at, if any"}), 400
        devices.aim(user, photo, at)
        return jsonify({"ok": True})

    @app.route("/sandbox/jsapi/<api>", methods=["POST"])
    def jsapi_camera(api: str):
        try:
            body = json.loads(request.get_data(as_text=True) or "{}")
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        config = body.get("config") if isinstance(body.get("config"), dict) else {}
        user = member(request.cookies.get(scanner_cookie, ""))
        if platform == "wecom" and api in ("chooseImage", "uploadImage"):
            answer = _wecom_camera(devices, corp_id, user, config, body, api, keep, now)
        elif platform == "dingtalk" and api == "biz.util.uploadImageFromCamera":
            answer = _dingtalk_camera(devices, corp_id, user, config, body, keep, now)
        else:
            return jsonify({"error": f"no such JS-SDK call {api}"}), 404
        reply = jsonify(answer)
        origin = request.headers.get("Origin")
        if origin:
            reply.headers["Access-Control-Allow-Origin"] = origin
            reply.headers["Access-Control-Allow-Credentials"] = "true"
        return reply

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


def _wecom_camera(devices: Devices, corp_id: str, user: str | None, config: dict, body: dict, api: str,
                  keep, now) -> dict:
    if config.get("appId") != corp_id or not devices.signed(config, str(body.get("url", "")), "nonceStr",
                                                              "timestamp"):
        return {"errMsg": "config:invalid signature"}
    if api not in (config.get("jsApiList") or []):
        return {"errMsg": f"{api}:permission denied"}
    if api == "chooseImage":
        # Only the camera stands in here: a page that also offers the album is not a live capture.
        if body.get("sourceType") != ["camera"]:
            return {"errMsg": "chooseImage:fail sandbox has no album"}
        photo = devices.shoot(user, now()) if user else None
        if photo is None:
            return {"errMsg": "chooseImage:cancel"}   # nothing in front of the camera: the member backed out
        local_id = f"wxLocalResource://{secrets.token_hex(12)}"
        with devices.lock:
            devices.local[local_id] = (user, photo)
        return {"errMsg": "chooseImage:ok", "localIds": [local_id]}
    with devices.lock:
        chosen = devices.local.get(str(body.get("localId", "")))
    if chosen is None or chosen[0] != user or keep is None:
        return {"errMsg": "uploadImage:fail"}
    return {"errMsg": "uploadImage:ok", "serverId": keep(chosen[1])}


def _dingtalk_camera(devices: Devices, corp_id: str, user: str | None, config: dict, body: dict, keep,
                     now) -> dict:
    if config.get("corpId") != corp_id or not devices.signed(config, str(body.get("url", "")), "nonceStr",
                                                               "timeStamp"):
        return {"errorCode": 1, "errorMessage": "jsapi ticket 校验失败"}
    if "biz.util.uploadImageFromCamera" not in (config.get("jsApiList") or []):
        return {"errorCode": 1, "errorMessage": "没有调用该接口的权限"}
    photo = devices.shoot(user, now()) if user else None
    if photo is None or keep is None:
        return {"errorCode": 3, "errorMessage": "用户取消"}
    return {"errorCode": 0, "result": [keep(photo)]}
