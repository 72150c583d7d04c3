"""Peewee models: the single source of truth."""
from .area import Area
from .audit import AuditEvent, AuditHead, Outbox
from .certificate import Authorisation, Certificate
from .db import connect, database, transaction, utcnow
from .delivery import CardRecord, Conversation
from .emergency import Emergency
from .face import FaceCheck, FaceEnrolment
from .org import Department, Person, PersonRole, find_person
from .permit import (Attachment, ChangeRequest, CheckIn, GasReading, Permit, PermitCounter,
                     PermitMember, Signature, Step, StepAssignee)
from .schema import SchemaVersion
from .sensor import Alarm, AlarmAck, Sensor, SensorBinding

MODELS = [Department, Person, PersonRole, Area, Permit, PermitMember, Step, StepAssignee, Signature,
          GasReading, Attachment, CheckIn, ChangeRequest, PermitCounter, AuditEvent, AuditHead,
          Outbox, CardRecord, Conversation, Sensor, SensorBinding, Alarm, AlarmAck, Certificate,
          Authorisation, FaceEnrolment, FaceCheck, Emergency, SchemaVersion]

__all__ = [m.__name__ for m in MODELS] + ["MODELS", "connect", "database", "find_person", "transaction", "utcnow"]
