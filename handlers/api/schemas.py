"""The API's request and response shapes: marshmallow schemas that both validate and write the contract."""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from models.hazard import GRADES, STATE_NAMES as FINDING_STATES
from models.org import ROLES

MAX_PAGE = 200


class Strict(Schema):
    class Meta:
        unknown = RAISE   # an unknown field is a 422 naming it, never silently dropped
        ordered = True


class ErrorSchema(Schema):
    code = fields.String(required=True, metadata={"description": "stable machine code, e.g. not_found"})
    message = fields.String(required=True, metadata={"description": "the problem in Chinese"})
    field = fields.String(allow_none=True, metadata={"description": "the offending field, when there is one"})
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), required=False)


class PageArgs(Strict):
    limit = fields.Integer(load_default=50, metadata={"description": f"page size, clamped to 1..{MAX_PAGE}"})
    cursor = fields.String(load_default=None, validate=validate.Length(max=64))


class PermitArgs(PageArgs):
    state = fields.String(validate=validate.Length(max=16))
    type = fields.String(validate=validate.Length(max=32),
                         metadata={"description": "work type, by code (hot_work) or name (动火作业)"})
    area = fields.String(validate=validate.Length(max=200), metadata={"description": "an area and its sub-areas"})
    unit = fields.String(validate=validate.Length(max=32), metadata={"description": "department code"})
    date = fields.Date(metadata={"description": "permits whose planned window meets this plant-local day"})


class AlarmArgs(PageArgs):
    open = fields.Boolean(metadata={"description": "only alarms not yet cleared"})


class Page(Schema):
    next_cursor = fields.String(allow_none=True, required=True)


class PermitSummary(Schema):
    no = fields.String(required=True)
    type = fields.String(required=True)
    type_name = fields.String(required=True)
    grade = fields.String(allow_none=True, required=True)
    state = fields.String(required=True)
    unit = fields.String(required=True)
    location = fields.String(required=True)
    area = fields.String(allow_none=True, required=True)
    applicant = fields.String(required=True)
    planned_start = fields.String(required=True)
    planned_end = fields.String(required=True)
    created_at = fields.String(required=True)
    closed_at = fields.String(allow_none=True, required=True)


class PermitPage(Page):
    items = fields.List(fields.Nested(PermitSummary), required=True)


class StepOut(Schema):
    key = fields.String(required=True)
    name = fields.String(required=True)
    state = fields.String(required=True)
    activated_at = fields.String(allow_none=True, required=True)
    completed_at = fields.String(allow_none=True, required=True)


class SignatureOut(Schema):
    step = fields.String(required=True)
    person = fields.String(required=True)
    decision = fields.String(required=True)
    comment = fields.String(required=True)
    channel = fields.String(required=True)
    signed_at = fields.String(required=True)


class ReadingOut(Schema):
    taken_at = fields.String(required=True)
    device = fields.String(allow_none=True, required=True)
    o2 = fields.Float(allow_none=True, required=True)
    ex = fields.Float(allow_none=True, required=True)
    h2s = fields.Float(allow_none=True, required=True)
    co = fields.Float(allow_none=True, required=True)
    # Every other gas of the shipped table the reading measured, {code: value in the table's unit}.
    others = fields.Dict(keys=fields.String(), values=fields.Float(), allow_none=True, required=True)
    passed = fields.Boolean(allow_none=True, required=True)


class EventOut(Schema):
    seq = fields.Integer(required=True)
    action = fields.String(required=True)
    actor = fields.String(required=True)
    at = fields.String(required=True)
    data = fields.Dict(required=True)


class PermitDetail(PermitSummary):
    content = fields.String(required=True)
    steps = fields.List(fields.Nested(StepOut), required=True)
    signatures = fields.List(fields.Nested(SignatureOut), required=True)
    readings = fields.List(fields.Nested(ReadingOut), required=True)
    events = fields.List(fields.Nested(EventOut), required=True)


class PersonOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    wecom_userid = fields.String(allow_none=True, required=True)
    dingtalk_userid = fields.String(allow_none=True, required=True)
    mobile = fields.String(allow_none=True, required=True)
    unit = fields.String(required=True)
    roles = fields.List(fields.String(), required=True)
    active = fields.Boolean(required=True)


class PersonPage(Page):
    items = fields.List(fields.Nested(PersonOut), required=True)


class PersonIn(Strict):
    """One person as HR sends it: the same columns and rules as a row of the org workbook's 人员 sheet."""
    name = fields.String(required=True, validate=validate.Length(min=1, max=50))
    unit = fields.String(required=True, validate=validate.Length(min=1, max=32),
                         metadata={"description": "department code"})
    wecom_userid = fields.String(allow_none=True, validate=validate.Length(max=64))
    dingtalk_userid = fields.String(allow_none=True, validate=validate.Length(max=64))
    mobile = fields.String(allow_none=True, validate=validate.Regexp(r"^1\d{10}$"))
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), load_default=list)


class PersonWritten(Schema):
    created = fields.Boolean(required=True)
    person = fields.Nested(PersonOut, required=True)


class UnitOut(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)
    parent = fields.String(allow_none=True, required=True)


class UnitPage(Page):
    items = fields.List(fields.Nested(UnitOut), required=True)


class CertificateOut(Schema):
    person = fields.String(required=True)
    kind = fields.String(required=True)
    number = fields.String(required=True)
    valid_until = fields.String(required=True)
    revoked = fields.Boolean(required=True)


class CertificatePage(Page):
    items = fields.List(fields.Nested(CertificateOut), required=True)


class DetectorOut(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    area = fields.String(required=True)
    kind = fields.String(required=True)
    gases = fields.List(fields.String(), required=True)
    enabled = fields.Boolean(required=True)
    last_seen_at = fields.String(allow_none=True, required=True)
    offline = fields.Boolean(required=True)


class DetectorPage(Page):
    items = fields.List(fields.Nested(DetectorOut), required=True)


class AlarmOut(Schema):
    id = fields.Integer(required=True)
    device = fields.String(allow_none=True, required=True)
    level = fields.String(required=True)
    gas = fields.String(allow_none=True, required=True)
    value = fields.Float(allow_none=True, required=True)
    text = fields.String(required=True)
    area = fields.String(required=True)
    permits = fields.List(fields.String(), required=True)
    raised_at = fields.String(required=True)
    acknowledged_at = fields.String(allow_none=True, required=True)
    cleared_at = fields.String(allow_none=True, required=True)


class AlarmPage(Page):
    items = fields.List(fields.Nested(AlarmOut), required=True)


class WebhookOut(Schema):
    name = fields.String(required=True)
    url = fields.String(required=True)
    events = fields.List(fields.String(), required=True)
    delivered = fields.Integer(required=True)
    cursor = fields.Integer(required=True, metadata={"description": "the last audit seq handled"})
    last_attempt_at = fields.String(allow_none=True, required=True)
    last_status = fields.Integer(allow_none=True, required=True)
    last_error = fields.String(required=True)
    next_attempt_at = fields.String(allow_none=True, required=True)


class WebhookPage(Page):
    items = fields.List(fields.Nested(WebhookOut), required=True)


class IsolationOut(Schema):
    id = fields.Integer(required=True)
    tag = fields.String(required=True, metadata={"description": "the valve, breaker or blind"})
    kind = fields.String(required=True)
    method = fields.String(required=True)
    lock_no = fields.String(required=True)
    tag_no = fields.String(required=True)
    unit = fields.String(required=True)
    state = fields.String(required=True)
    isolated_by = fields.String(required=True)
    isolated_at = fields.String(required=True)
    verified_by = fields.String(allow_none=True, required=True)
    verified_at = fields.String(allow_none=True, required=True)
    released_at = fields.String(allow_none=True, required=True)
    permits = fields.List(fields.String(), required=True)


class IsolationPage(Page):
    items = fields.List(fields.Nested(IsolationOut), required=True)


class IsolationArgs(PageArgs):
    state = fields.String(validate=validate.OneOf(["isolated", "verified", "releasing", "released"]))


class FindingArgs(PageArgs):
    state = fields.String(validate=validate.OneOf(list(FINDING_STATES),
                                                  error=f"应为 {' / '.join(FINDING_STATES)} 之一"))
    grade = fields.String(validate=validate.OneOf(list(GRADES), error=f"应为 {' / '.join(GRADES)} 之一"))
    area = fields.String(validate=validate.Length(max=200), metadata={"description": "an area and its sub-areas"})
    open = fields.Boolean(metadata={"description": "only findings not yet closed"})


class FindingOut(Schema):
    no = fields.String(required=True)
    place = fields.String(required=True)
    area = fields.String(allow_none=True, required=True)
    description = fields.String(required=True)
    grade = fields.String(required=True)
    category = fields.String(required=True)
    source = fields.String(required=True, metadata={"description": "随手拍, 举报 or 抽查"})
    state = fields.String(required=True)
    state_name = fields.String(required=True)
    blocks_permits = fields.Boolean(required=True)
    found_by = fields.String(allow_none=True, required=True)
    found_at = fields.String(required=True)
    unit = fields.String(allow_none=True, required=True)
    responsible = fields.String(allow_none=True, required=True)
    deadline = fields.String(allow_none=True, required=True)
    rectified_at = fields.String(allow_none=True, required=True)
    closed_at = fields.String(allow_none=True, required=True)
    rejections = fields.Integer(required=True)


class FindingPage(Page):
    items = fields.List(fields.Nested(FindingOut), required=True)


class FindingPhotoOut(Schema):
    stage = fields.String(required=True, metadata={"description": "发现 or 整改"})
    sha256 = fields.String(required=True)
    size = fields.Integer(required=True)
    uploaded_by = fields.String(required=True)
    at = fields.String(required=True)


class FindingDetail(FindingOut):
    photos = fields.List(fields.Nested(FindingPhotoOut), required=True)


class FindingIn(Strict):
    """A finding as an inspection system reports it: the same fields as 隐患 in chat, and who found it."""
    place = fields.String(required=True,
                          validate=validate.Regexp(r"^\S{1,200}$", error="应为区域表中的一个地点，不含空格"),
                          metadata={"description": "a place of the plant's area tree, e.g. 3#罐区"})
    description = fields.String(required=True, validate=[validate.Length(max=2000, error="不超过 2000 个字符"),
                                                         validate.Regexp(r"\s*\S", error="不能为空")])
    found_by = fields.String(required=True, validate=validate.Length(min=1, max=64),
                             metadata={"description": "the inspector, by account, mobile or name; re-checks it"})
    grade = fields.String(load_default=GRADES[0], validate=validate.OneOf(list(GRADES),
                                                                          error=f"应为 {' / '.join(GRADES)} 之一"))
    category = fields.String(load_default="", validate=validate.Length(max=32))
    blocks_permits = fields.Boolean(load_default=False,
                                    metadata={"description": "重大 only: no new permit in its area until closed"})


class EmergencyArgs(PageArgs):
    open = fields.Boolean(metadata={"description": "only emergencies not yet closed"})
    drill = fields.Boolean(metadata={"description": "drills (演练) only, or real ones only"})


class EmergencyOut(Schema):
    id = fields.Integer(required=True)
    area = fields.String(required=True)
    drill = fields.Boolean(required=True)
    text = fields.String(required=True)
    raised_by = fields.String(allow_none=True, required=True)
    raised_at = fields.String(required=True)
    alarm = fields.Integer(required=True, metadata={"description": "the alarm that carried its cards"})
    permits = fields.List(fields.String(), required=True, metadata={"description": "live in the area when raised"})
    suspended = fields.List(fields.String(), required=True)
    closed_at = fields.String(allow_none=True, required=True)
    closed_by = fields.String(allow_none=True, required=True)
    handling = fields.String(required=True)


class EmergencyPage(Page):
    items = fields.List(fields.Nested(EmergencyOut), required=True)
