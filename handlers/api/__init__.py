"""The open REST API, /api/v1: an OpenAPI 3.1 contract generated from the schemas that validate requests."""
from __future__ import annotations

from flask import Flask, request
from flask_smorest import Api as SmorestApi
from werkzeug.exceptions import HTTPException

from . import hazards, park_view  # noqa: F401 - their routes join the blueprint
from .schemas import ErrorSchema
from .views import bp

PREFIX = "/api/v1"
_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          413: "too_large", 422: "invalid", 429: "rate_limited", 503: "busy"}
_MESSAGES = {404: "没有这个资源", 405: "该资源不支持此方法", 500: "服务器内部错误，已记录"}
# Marshmallow's English messages, in the words an integrator's log should show.
_FIELD_MESSAGES = {"Unknown field.": "未知字段", "Missing data for required field.": "缺少必填字段",
                   "Field may not be null.": "不能为空", "Not a valid string.": "应为字符串",
                   "Not a valid integer.": "应为整数", "Not a valid date.": "应为日期（YYYY-MM-DD）",
                   "Not a valid boolean.": "应为 true 或 false", "Not a valid list.": "应为数组",
                   "Invalid input type.": "类型不正确", "String does not match expected pattern.": "格式不正确"}


def _first_field(messages: dict) -> tuple[str | None, str]:
    """Return the first invalid field webargs reported, and its problem in Chinese."""
    for location in messages.values():
        for field, problems in (location or {}).items():
            while isinstance(problems, dict):   # a nested field, e.g. roles.0
                field, problems = f"{field}.{next(iter(problems))}", next(iter(problems.values()))
            text = problems[0] if problems else ""
            return field, _FIELD_MESSAGES.get(text, text if text and not text.isascii() else f"取值不合法（{text}）")
    return None, "请求参数不合法"


class Api(SmorestApi):
    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException):
        # flask-smorest registers this for every HTTPException of the app; the rest of the app (callbacks,
        # boards) keeps its own answers.
        if not request.path.startswith(PREFIX + "/"):
            return error
        data = getattr(error, "data", None) or {}
        status = error.code or 500
        body = {"code": data.get("code") or _CODES.get(status, "error"),
                "message": data.get("message") or _MESSAGES.get(status, error.description or ""),
                "field": data.get("field")}
        if "messages" in data:
            body["field"], problem = _first_field(data["messages"])
            body["message"] = f"字段 {body['field']}：{problem}" if body["field"] else problem
            body["errors"] = {f: p for loc in data["messages"].values() for f, p in (loc or {}).items()
                              if isinstance(p, list)}
        return body, status, data.get("headers", {})


def register(app: Flask) -> Api:
    app.config.update(API_TITLE="电子作业票开放接口", API_VERSION="v1", OPENAPI_VERSION="3.1.0",
                      OPENAPI_URL_PREFIX=PREFIX, OPENAPI_JSON_PATH="openapi.json")
    api = Api(app, spec_kwargs={"components": {"securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer", "description": "python app.py api-token create"}}},
        "security": [{"bearer": []}]})
    api.register_blueprint(bp)
    return api
