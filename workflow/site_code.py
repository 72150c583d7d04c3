"""Revoke one permit's site QR code and issue a new one (重发二维码): a lost or copied code stops working."""
from __future__ import annotations

from datetime import datetime

from models import Person

from .errors import NotAuthorized
from .machine import Ctx, Outcome, run

# Besides the applicant, who may void a permit's posted code: those who keep the site safe.
MAY_REISSUE = ("安全员", "系统管理员")


def reissue(permit_no: str, *, by: Person, now: datetime | None = None) -> Outcome:
    """Void the permit's posted site code and its print page; the next print link carries the new one."""
    def body(ctx: Ctx) -> None:
        if by.id != ctx.permit.applicant_id and not set(MAY_REISSUE) & set(by.role_names()):
            raise NotAuthorized(f"只有申请人或{'、'.join(MAY_REISSUE)}可以重发作业票 {ctx.permit.no} 的现场二维码")
        ctx.permit.site_code_round += 1
        # Board links on cards stay valid (they cannot check anyone in); only the posted code changes.
        ctx.bump = False
        ctx.data = {"site_code_round": ctx.permit.site_code_round}
        ctx.detail = "原现场二维码已作废，请打印新二维码替换张贴"
    return run(permit_no, "reissue_code", body, by=by, now=now)
