"""The permit engine: work-type templates as data, commands that move a permit through its life."""
from . import deadlines
from .drafts import create_permit
from .engine import (accept, cancel, check_in, check_out, close, complete, edit_draft, reject,
                     return_for_revision, sign, start, submit)
from .errors import (AlreadySigned, GateNotMet, GateNotWired, InvalidPermit, InvalidTransition, NotAuthorized,
                     NotCertified, NotFound, StaleVersion, TemplateError, WorkflowError)
from .machine import Outcome
from .work import (attach, expire, expire_due, extend, record_gas, rectified, reject_acceptance,
                   request_change, resume, suspend)

__all__ = [
    "deadlines",
    "accept", "attach", "cancel", "check_in", "check_out", "close", "complete", "create_permit", "edit_draft",
    "expire", "expire_due", "extend", "record_gas", "rectified", "reject", "reject_acceptance",
    "request_change", "resume", "return_for_revision", "sign", "start", "submit", "suspend",
    "Outcome", "AlreadySigned", "GateNotMet", "GateNotWired", "InvalidPermit", "InvalidTransition",
    "NotAuthorized", "NotCertified", "NotFound", "StaleVersion", "TemplateError", "WorkflowError",
]
