"""班前会记录: one row per pre-shift meeting held in the period: who led it, where, its permits, and who confirmed."""
from __future__ import annotations

from models import Person
from models.meeting import Meeting, MeetingAttendee, MeetingPermit
from models.permit import Permit

from .run import Run
from .scope import Scope
from .sheet import Column, Sheet

MEETINGS = "班前会记录"
TIME = 19
MEETING_COLUMNS = (
    Column("日期", 12), Column("作业负责人", 10), Column("部门", 14), Column("地点", 24), Column("召开时间", TIME),
    Column("作业票", 36), Column("应到人数", 8), Column("签到人数", 8), Column("确认人数", 8),
    Column("参会人员（确认时间）", 50), Column("未确认", 24),
)


def write(book, scope: Scope, run: Run) -> dict[str, int]:
    """Write the sheet of the meetings held in the scope's period."""
    start, end = scope.period.bounds(run.tz)
    sheet = Sheet(book, MEETINGS, MEETING_COLUMNS, title=f"{MEETINGS}（{scope.period.label}）",
                  heading=run.heading(scope.period.label, scope.describe()), freeze_columns=1,
                  empty_note="本期间没有班前会记录")
    meetings = list(Meeting.select(Meeting, Person).join(Person)
                    .where((Meeting.held_at >= start) & (Meeting.held_at < end))
                    .order_by(Meeting.day, Meeting.held_at, Meeting.id))
    for meeting in meetings:
        permits = [p.no for p in Permit.select(Permit.no).join(MeetingPermit)
                   .where(MeetingPermit.meeting == meeting).order_by(Permit.id)]
        rows = list(MeetingAttendee.select(MeetingAttendee, Person).join(Person)
                    .where(MeetingAttendee.meeting == meeting).order_by(MeetingAttendee.id))
        confirmed = [r for r in rows if r.confirmed_at]
        sheet.append([meeting.day, meeting.leader.name, meeting.leader.department.name, meeting.place,
                      run.clock(meeting.held_at), "、".join(permits), len(rows),
                      sum(1 for r in rows if r.checked_in_at), len(confirmed),
                      "、".join(f"{r.person.name}（{r.roles} {run.clock(r.confirmed_at):%H:%M}）" for r in confirmed),
                      "、".join(f"{r.person.name}（{r.roles}）" for r in rows if not r.confirmed_at) or None])
    return {MEETINGS: sheet.finish()}
