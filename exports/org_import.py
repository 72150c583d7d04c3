"""Load the org workbook into departments and people: all of it in one transaction, or none of it."""
from __future__ import annotations

from dataclasses import dataclass, field as dataclass_field
from pathlib import Path

from models.db import transaction
from models.org import DEPARTMENT_KINDS, ROLES, Department, Person, PersonRole

from . import area_sheet
from .org_workbook import (ACCOUNTS, CODE, DEPARTMENT, DEPARTMENT_COLUMNS, DEPT_NAME,
                           DINGTALK, KIND, MOBILE, NAME, PARENT, PEOPLE, PEOPLE_COLUMNS, PHOTO, ROLE,
                           WECOM, read_workbook, split_roles)
from .workbook import RowChecker, RowError, SheetRow, WorkbookError

__all__ = ["ImportReport", "OrgImportError", "RowError", "format_report", "load_org", "upsert_person"]

# Workbook column -> Person field, in the order a row is matched to someone already known.
ACCOUNT_FIELDS = {WECOM: "wecom_userid", DINGTALK: "dingtalk_userid", MOBILE: "mobile"}


class OrgImportError(WorkbookError):
    """The org workbook has errors; nothing of it was written."""

    title = "组织架构表"


@dataclass(frozen=True)
class ImportReport:
    departments_created: int
    departments_updated: int
    people_created: int
    people_updated: int
    people_deactivated: int
    # (created, updated, retired) when the workbook has a 区域 sheet.
    areas: tuple[int, int, int] | None = dataclass_field(default=None, compare=False)
    # certs.sheet.CertificateReport when the workbook has a 证书 sheet; the org's counts alone compare.
    certificates: object | None = dataclass_field(default=None, compare=False)


def format_report(report: ImportReport) -> str:
    """Return the report as one Chinese line."""
    return (f"部门：新增 {report.departments_created}，更新 {report.departments_updated}；"
            f"人员：新增 {report.people_created}，更新 {report.people_updated}，"
            f"停用 {report.people_deactivated}"
            + (f"；区域：新增 {report.areas[0]}，更新 {report.areas[1]}，停用 {report.areas[2]}"
               if report.areas is not None else "")
            + (f"；{report.certificates}" if report.certificates is not None else ""))


def load_org(path: str | Path, *, photos: Path | None = None) -> ImportReport:
    """Import the org workbook at path as the whole org; raise OrgImportError if any row is wrong.

    Face photos named in the 人员 sheet's 照片 column are read from photos (default: the workbook's folder).
    """
    from certs import contractors, sheet as certificate_sheet
    department_rows, people_rows, errors = read_workbook(path)
    certificate_rows, certificate_errors = certificate_sheet.read(path)
    contractor_rows, contractor_errors = contractors.read(path)
    area_rows, area_errors = area_sheet.read(path)
    errors += certificate_errors + contractor_errors + area_errors
    if errors:
        # Without its sheets and headers no row can be read, so row checks would only add noise.
        raise OrgImportError(errors)
    with transaction():
        known = _Known.load()
        checker = _Checker(known)
        departments = checker.check_departments(department_rows)
        people = checker.check_people(people_rows, known_codes=set(departments) | set(known.departments))
        if checker.errors:
            raise OrgImportError(checker.errors)
        created, updated = _save_departments(departments, known)
        people_counts = _save_people(people, known)
        _enrol_faces(people_rows, photos or Path(path).parent)
        # Areas name their safety officer and coordinator, so they follow the people.
        areas = _load_areas(area_rows)
        # Certificates name people, so they are checked against the org this import just wrote;
        # an error raised here still rolls the whole import back.
        return ImportReport(created, updated, *people_counts, areas=areas,
                            certificates=_load_registry(certificate_rows, contractor_rows))


def _enrol_faces(rows: list[SheetRow], folder: Path) -> None:
    if not any(row.cells.get(PHOTO) for row in rows):
        return   # no photos named: face_recognition is not even imported
    from faces.workbook import enrol_rows
    _, errors = enrol_rows(rows, folder)
    if errors:
        raise OrgImportError(errors)


def _load_areas(rows: list[SheetRow] | None) -> tuple[int, int, int] | None:
    if rows is None:
        return None
    nodes, errors = area_sheet.check(rows)
    if errors:
        raise OrgImportError(errors)
    return area_sheet.save(nodes)


def _load_registry(certificate_rows: list[SheetRow] | None, contractor_rows: list[SheetRow] | None):
    """Load the optional 证书 and 承包商 sheets; return what changed, or None when neither is there."""
    from certs import contractors, sheet as certificate_sheet
    from certs.check import local_day
    from models.db import utcnow
    if certificate_rows is None and contractor_rows is None:
        return None
    certificates, errors = certificate_sheet.check(certificate_rows or [])
    authorisations, contractor_errors = contractors.check(contractor_rows or [])
    if errors + contractor_errors:
        raise OrgImportError(errors + contractor_errors)
    report = certificate_sheet.CertificateReport()
    if certificate_rows is not None:
        report = certificate_sheet.save(certificates, today=local_day(utcnow()))
    if contractor_rows is not None:
        report.authorisations = contractors.save(authorisations)
    return report


@dataclass
class _Known:
    """What the database holds before the import, read once."""

    departments: dict[str, Department]
    parent_codes: dict[str, str | None]
    people: list[Person]
    by_account: dict[str, dict[str, Person]]  # workbook column -> account -> person

    @classmethod
    def load(cls) -> "_Known":
        departments = {d.code: d for d in Department.select().order_by(Department.id)}
        code_of = {d.id: d.code for d in departments.values()}
        parent_codes = {d.code: code_of.get(d.parent_id) for d in departments.values()}
        people = list(Person.select().order_by(Person.id))
        by_account = {column: {} for column in ACCOUNTS}
        for person in people:
            for column, field in ACCOUNT_FIELDS.items():
                value = getattr(person, field)
                if value:
                    # Mobiles need not be unique in the database: the oldest holder wins.
                    by_account[column].setdefault(value, person)
        return cls(departments, parent_codes, people, by_account)

    def match(self, row: SheetRow) -> tuple[Person | None, str | None]:
        """Return the known person a 人员 row stands for, and the column that matched."""
        for column in ACCOUNTS:
            person = self.by_account[column].get(row[column]) if row[column] else None
            if person is not None:
                return person, column
        return None, None


class _Checker(RowChecker):
    """Check the org's rows against each other and against what the database holds."""

    def __init__(self, known: _Known):
        super().__init__()
        self.known = known

    def check_departments(self, rows: list[SheetRow]) -> dict[str, SheetRow]:
        """Return the 部门 rows by code, the first of each code."""
        by_code: dict[str, SheetRow] = {}
        for row in rows:
            self.check_lengths(row, DEPARTMENT_COLUMNS)
            if not row[CODE]:
                self.error(row, CODE, "不能为空")
            elif row[CODE] in by_code:
                self.error(row, CODE, f"部门编码“{row[CODE]}”与第{by_code[row[CODE]].row}行重复")
            else:
                by_code[row[CODE]] = row
            if not row[DEPT_NAME]:
                self.error(row, DEPT_NAME, "不能为空")
            if row[KIND] not in DEPARTMENT_KINDS:
                what = f"未知类型“{row[KIND]}”" if row[KIND] else "不能为空"
                self.error(row, KIND, f"{what}，可选：{'、'.join(DEPARTMENT_KINDS)}")
        known_codes = set(by_code) | set(self.known.departments)
        for row in by_code.values():
            if row[PARENT] and row[PARENT] not in known_codes:
                self.error(row, PARENT, _unknown_code(row[PARENT]))
        self.check_cycles(by_code)
        return by_code

    def check_cycles(self, by_code: dict[str, SheetRow]) -> None:
        # The file's parents override the database's; a department the file leaves out keeps its own.
        parents = dict(self.known.parent_codes)
        parents.update({code: row[PARENT] or None for code, row in by_code.items()})
        for code, row in by_code.items():
            chain, node = [code], parents.get(code)
            while node is not None and node not in chain:
                chain.append(node)
                node = parents.get(node)
            if node == code:
                self.error(row, PARENT, f"上级部门形成循环：{' → '.join(chain + [code])}")

    def check_people(self, rows: list[SheetRow], *, known_codes: set[str]
                     ) -> list[tuple[SheetRow, Person | None]]:
        """Return each 人员 row with the known person it updates, or None for a newcomer."""
        if not rows:
            # An empty sheet would deactivate everyone: far more likely a wrong file than a closed plant.
            self.errors.append(RowError(PEOPLE, None, None, "没有任何人员"))
        first_use = {column: {} for column in ACCOUNTS}
        matched_rows: dict[int, int] = {}
        result = []
        for row in rows:
            self.check_lengths(row, PEOPLE_COLUMNS)
            if not row[NAME]:
                self.error(row, NAME, "不能为空")
            if not row[DEPARTMENT]:
                self.error(row, DEPARTMENT, "不能为空")
            elif row[DEPARTMENT] not in known_codes:
                self.error(row, DEPARTMENT, _unknown_code(row[DEPARTMENT]))
            for role in split_roles(row[ROLE]):
                if role not in ROLES:
                    self.error(row, ROLE, f"未知角色“{role}”，可选：{'、'.join(ROLES)}")
            if not any(row[column] for column in ACCOUNTS):
                self.error(row, "、".join(ACCOUNTS), "至少填写一项")
            for column in ACCOUNTS:
                value = row[column]
                if value and value in first_use[column]:
                    self.error(row, column, f"“{value}”与第{first_use[column][value]}行重复")
                elif value:
                    first_use[column][value] = row.row
            person, matched_by = self.known.match(row)
            self.check_owners(row, person)
            if person is not None and person.id in matched_rows:
                self.error(row, matched_by, f"与第{matched_rows[person.id]}行对应系统中的同一人："
                                            f"{person.label()}")
            elif person is not None:
                matched_rows[person.id] = row.row
            result.append((row, person))
        return result

    def check_owners(self, row: SheetRow, person: Person | None) -> None:
        # The database keeps WeCom and DingTalk ids unique, so one cannot move between people in one go.
        for column in (WECOM, DINGTALK):
            owner = self.known.by_account[column].get(row[column]) if row[column] else None
            if owner is not None and owner != person:
                self.error(row, column, f"“{row[column]}”已属于系统中的另一人：{owner.label()}")


def _unknown_code(code: str) -> str:
    return f"未知部门编码“{code}”（本表和系统中都没有）"


def _save_departments(rows: dict[str, SheetRow], known: _Known) -> tuple[int, int]:
    """Create or update the file's departments; return (created, updated)."""
    departments = known.departments
    created = 0
    for code, row in rows.items():
        if code not in departments:
            # Parents are set in a second pass: a parent may come later in the sheet.
            departments[code] = Department.create(code=code, name=row[DEPT_NAME], kind=row[KIND])
            created += 1
    for code, row in rows.items():
        department = departments[code]
        department.name, department.kind = row[DEPT_NAME], row[KIND]
        department.parent = departments[row[PARENT]] if row[PARENT] else None
        department.save()
    return created, len(rows) - created


def _save_people(rows: list[tuple[SheetRow, Person | None]], known: _Known) -> tuple[int, int, int]:
    """Create or update the file's people and deactivate the rest; return (created, updated, deactivated)."""
    created = 0
    kept = set()
    for row, person in rows:
        saved = _save_person(row, person, known)
        created += person is None
        kept.add(saved.id)
    updated = len(rows) - created
    leaving = [p.id for p in known.people if p.active and p.id not in kept]
    if leaving:
        Person.update(active=False).where(Person.id.in_(leaving)).execute()
    return created, updated, len(leaving)


def _save_person(row: SheetRow, person: Person | None, known: _Known) -> Person:
    """Create the row's person, or update the known one, with exactly the row's roles."""
    fields = {field: row[column] or None for column, field in ACCOUNT_FIELDS.items()}
    fields.update(name=row[NAME], department=known.departments[row[DEPARTMENT]], active=True)
    if person is None:
        person = Person.create(**fields)
    else:
        for field, value in fields.items():
            setattr(person, field, value)
        person.save()
        PersonRole.delete().where(PersonRole.person == person).execute()
    roles = split_roles(row[ROLE])
    if roles:
        PersonRole.insert_many([{"person": person.id, "role": role} for role in roles]).execute()
    return person


def upsert_person(cells: dict[str, str]) -> tuple[Person, bool]:
    """Create or update one person by the 人员 sheet's rules; return (person, created).

    Run inside the caller's transaction. Unlike a whole workbook, one row leaves everyone else as they
    are: an HR system sends the people who changed, not the whole org.
    """
    row = SheetRow(PEOPLE, 1, {column: cells.get(column, "") for column in PEOPLE_COLUMNS})
    known = _Known.load()
    checker = _Checker(known)
    [(row, person)] = checker.check_people([row], known_codes=set(known.departments))
    if checker.errors:
        raise OrgImportError(checker.errors)
    return _save_person(row, person, known), person is None
