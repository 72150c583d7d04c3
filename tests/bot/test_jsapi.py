"""The JS-SDK config a board page gets: signed as WeCom documents it, with one ticket shared through Redis,
and accepted by the sandbox's location call only for the page it was signed for."""
from __future__ import annotations

import json

import pytest
import requests

from bot.jsapi import sign
from tests.bot.test_wecom_outbound import sandbox, stats  # noqa: F401  (sandbox is a fixture)


def test_the_signature_is_wecoms_documented_example():
    # developer.work.weixin.qq.com/document/path/90506, "JS-SDK使用权限签名算法", 示例
    ticket = "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"
    assert sign(ticket, "Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value#top") == \
        "0f9de62fce790f9a083d5c99e95740ceb90c27ed"


def where(base: str, user: str, config: dict, url: str) -> dict:
    phone = requests.Session()
    phone.cookies.set("wecom_sandbox_user", user)
    return phone.post(f"{base}/sandbox/jsapi/location", timeout=10,
                      data=json.dumps({"config": config, "url": url, "type": "wgs84"})).json()


@pytest.mark.parametrize("tamper", [None, "url", "ticket"])
def test_the_phone_answers_only_a_config_signed_for_its_page(make_adapter, sandbox, tamper):  # noqa: F811
    first, second = make_adapter(api_base=sandbox), make_adapter(api_base=sandbox)
    page = "http://127.0.0.1:5000/board/HW-1?s=abc"
    js = first.jsapi_config(page)
    second.jsapi_config(page)
    assert stats(sandbox)["get_jsapi_ticket"] == 1     # its fetches are rationed: one for every process
    assert (js["sdk"], js["datum"], js["config"]["jsApiList"]) == ("wecom", "wgs84", ["getLocation"])
    requests.post(f"{sandbox}/sandbox/location", json={"user": "zhangsan", "latitude": 30.1, "longitude": 120.2,
                                                        "accuracy": 12}, timeout=10)
    config = dict(js["config"])
    if tamper == "ticket":
        config["signature"] = sign("another-apps-ticket", config["nonceStr"], config["timestamp"], page)
    answer = where(sandbox, "zhangsan", config, page + "&x=1" if tamper == "url" else page)
    if tamper:
        assert answer == {"errMsg": "config:invalid signature"}
    else:
        assert (answer["errMsg"], answer["latitude"], answer["longitude"]) == ("getLocation:ok", 30.1, 120.2)


def camera(base: str, user: str, api: str, **args) -> dict:
    phone = requests.Session()
    phone.cookies.set("wecom_sandbox_user", user)
    return phone.post(f"{base}/sandbox/jsapi/{api}", timeout=10, data=json.dumps(args)).json()


def test_the_phones_camera_answers_only_a_camera_config_signed_for_its_page(make_adapter, sandbox):  # noqa: F811
    import base64
    import io
    from PIL import Image
    from faces.live import capture_time
    adapter, page = make_adapter(api_base=sandbox), "http://127.0.0.1:5000/selfie/abc"
    located, shooting = adapter.jsapi_config(page), adapter.jsapi_config(page, ("chooseImage", "uploadImage"))
    out = io.BytesIO()
    Image.new("RGB", (60, 40), (200, 180, 160)).save(out, format="PNG")
    requests.post(f"{sandbox}/sandbox/camera", json={"user": "zhangsan", "photo": base64.b64encode(out.getvalue())
                                                      .decode(), "at": 1796623200}, timeout=10)
    assert camera(sandbox, "zhangsan", "chooseImage", config=located["config"], url=page,
                  sourceType=["camera"]) == {"errMsg": "chooseImage:permission denied"}
    assert camera(sandbox, "zhangsan", "chooseImage", config=shooting["config"], url=page + "x",
                  sourceType=["camera"]) == {"errMsg": "config:invalid signature"}
    assert camera(sandbox, "zhangsan", "chooseImage", config=shooting["config"], url=page,
                  sourceType=["album", "camera"])["errMsg"] == "chooseImage:fail sandbox has no album"
    chosen = camera(sandbox, "zhangsan", "chooseImage", config=shooting["config"], url=page, sourceType=["camera"])
    assert camera(sandbox, "lisi", "uploadImage", config=shooting["config"], url=page,
                  localId=chosen["localIds"][0]) == {"errMsg": "uploadImage:fail"}   # another phone's picture
    uploaded = camera(sandbox, "zhangsan", "uploadImage", config=shooting["config"], url=page,
                      localId=chosen["localIds"][0])
    photo = adapter.fetch_camera_photo(uploaded["serverId"])
    assert str(capture_time(photo)) == "2026-12-07 06:00:00"   # the camera's stamp: 1796623200 in UTC
