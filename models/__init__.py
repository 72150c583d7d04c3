"""Peewee models: the single source of truth."""
from .api import ApiToken, IdempotentRequest, Webhook
from .area import Area, AreaVisit
from .audit import AuditEvent, AuditHead, Outbox
from .certificate import Authorisation, Certificate
from .db import connect, database, transaction, utcnow
from .delivery import CardRecord, Conversation, NameChoice
from .emergency import Emergency
from .enterprise import Enterprise
from .face import FaceCheck, FaceEnrolment
from .handover import Handover
from .hazard import AnonymousReport, AuditDraw, Finding, FindingPhoto, PermitAudit
from .inbox import InboxEvent
from .inspection import Inspection, InspectionPlan
from .isolation import IsolationLink, IsolationPoint
from .knowledge import KnowledgeEntry
from .meeting import Meeting, MeetingAttendee, MeetingPermit
from .org import Department, Person, PersonRole, find_person
from .permit import (Attachment, ChangeRequest, CheckIn, GasReading, Permit, PermitCounter,
                     PermitMember, Signature, Step, StepAssignee)
from .sensor import Alarm, AlarmAck, Gateway, ReadingRollup, RegistryVersion, Sensor, SensorBinding
from .tables import MODELS
from .training import Course, Question, QuizAttempt
from .tool import Tool, ToolLoan
from .version import SchemaVersion

__all__ = [m.__name__ for m in MODELS] + ["MODELS", "connect", "database", "find_person", "transaction", "utcnow"]
