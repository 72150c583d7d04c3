"""The short-lived download link of an export too large to send as a chat file."""
from __future__ import annotations

from flask import Blueprint, Response, send_file

from exports import links

bp = Blueprint("downloads", __name__)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _page(text: str, status: int) -> Response:
    return Response(f"<!doctype html><meta charset=utf-8><title>下载</title><p>{text}</p>", status=status,
                    mimetype="text/html")


@bp.get("/exports/<token>")
def download(token: str):
    found = links.find(token)
    if found is None:
        return _page("没有这个下载链接。", 404)
    if found.expired or not found.path.exists():
        return _page("下载链接已过期，请在企业微信中重新发送“导出”命令。", 410)
    return send_file(found.path, mimetype=XLSX, as_attachment=True, download_name=found.filename,
                     max_age=0)
