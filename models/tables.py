"""Every table, in the order they are created on an empty database."""
from .api import ApiToken, IdempotentRequest, Webhook
from .audit import AuditEvent, AuditHead, Outbox
from .area import Area, AreaVisit
from .certificate import Authorisation, Certificate
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
from .org import Department, Person, PersonRole
from .permit import (Attachment, ChangeRequest, CheckIn, GasReading, Permit, PermitCounter,
                     PermitMember, Signature, Step, StepAssignee)
from .sensor import Alarm, AlarmAck, Gateway, ReadingRollup, RegistryVersion, Sensor, SensorBinding
from .training import Course, Question, QuizAttempt
from .tool import Tool, ToolLoan
from .version import SchemaVersion

MODELS = [Department, Person, PersonRole, Area, Permit, PermitMember, Step, StepAssignee, Signature,
          GasReading, Attachment, CheckIn, ChangeRequest, PermitCounter, AuditEvent, AuditHead,
          Outbox, CardRecord, Conversation, Gateway, Sensor, SensorBinding, Alarm, AlarmAck, Certificate,
          Authorisation, FaceEnrolment, FaceCheck, ReadingRollup, RegistryVersion, IsolationPoint,
          IsolationLink, Handover, Emergency, InboxEvent, NameChoice, ApiToken, IdempotentRequest, Webhook,
          KnowledgeEntry, Finding, FindingPhoto, AnonymousReport, AuditDraw, PermitAudit, Course, Question,
          QuizAttempt, InspectionPlan,
          Inspection, AreaVisit, Tool, ToolLoan, Enterprise,
          Meeting, MeetingPermit, MeetingAttendee, SchemaVersion]
