"""Load the org workbook's 证书 sheet: who holds which certificate, valid until when."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from exports.workbook import RowChecker, RowError, SheetRow, read_sheets
from models import Certificate, Person, utcnow

from . import matrix

CERTIFICATES = "证书"
NAME, ACCOUNT, WECOM, DINGTALK, MOBILE = "姓名", "账号", "企业微信账号", "钉钉账号", "手机"
KIND, NUMBER, ISSUER, ISSUED, VALID, TRAINING = "证书类型", "证书编号", "发证机关", "发证日期", "有效期至", "培训记录"
# Header -> longest text its field holds.
COLUMNS = {NAME: 50, ACCOUNT: 64, WECOM: 64, DINGTALK: 64, MOBILE: 20, KIND: 32, NUMBER: 64, ISSUER: 100,
           ISSUED: 32, VALID: 32, TRAINING: 2000}
OPTIONAL = (ACCOUNT, WECOM, DINGTALK, MOBILE, ISSUER, ISSUED, TRAINING)
ACCOUNT_FIELDS = {WECOM: ("wecom_userid",), DINGTALK: ("dingtalk_userid",), MOBILE: ("mobile",),
                  ACCOUNT: ("wecom_userid", "dingtalk_userid", "mobile")}
# 2024-03-01, 2024/3/1, 2024.03.01, 2024年3月1日; a date cell reads back as 2024-03-01T00:00:00.
DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[T ]00:00(?::00)?)?$")


@dataclass
class CertificateReport:
    created: int = 0
    updated: int = 0
    revoked: int = 0
    expired: list[str] = field(default_factory=list)   # rows whose 有效期至 has passed: loaded, but flagged
    authorisations: int | None = None                   # contractors' authorisations, when the 承包商 sheet is there

    def __str__(self) -> str:
        line = f"证书：新增 {self.created}，更新 {self.updated}，注销 {self.revoked}"
        if self.expired:
            line += f"；已过期 {len(self.expired)} 条（{'；'.join(self.expired)}）"
        if self.authorisations is not None:
            line += f"；承包商授权 {self.authorisations} 条"
        return line


def read(path: str | Path) -> tuple[list[SheetRow] | None, list[RowError]]:
    """Return the 证书 rows (None when the workbook has no such sheet) and any missing header."""
    rows, errors = read_sheets(path, {CERTIFICATES: COLUMNS}, optional=OPTIONAL)
    if any(e.sheet == CERTIFICATES and e.row is None for e in errors):
        return None, []   # the sheet is optional: without it the registry stays as it is
    return rows.get(CERTIFICATES, []), errors


def parse_date(text: str) -> date | None:
    """Return the date a cell spells, or None when it is not one."""
    m = DATE.match(text)
    try:
        return date(int(m[1]), int(m[2]), int(m[3])) if m else None
    except ValueError:
        return None


class Checker(RowChecker):
    """Row checks shared by the registry's sheets: whom a row names, and its dates."""

    def __init__(self):
        super().__init__()
        self.people = list(Person.select().where(Person.active == True))  # noqa: E712

    def person(self, row: SheetRow) -> Person | None:
        for column, fields in ACCOUNT_FIELDS.items():
            value = row.cells.get(column, "")
            if value:
                found = [p for p in self.people if any(getattr(p, f) == value for f in fields)]
                if not found:
                    self.error(row, column, f"组织架构中没有账号“{value}”")
                elif row[NAME] and found[0].name != row[NAME]:
                    self.error(row, column, f"账号“{value}”属于 {found[0].label()}，不是 {row[NAME]}")
                else:
                    return found[0]
                return None
        named = [p for p in self.people if p.name == row[NAME]]
        if not named:
            self.error(row, NAME, f"组织架构中没有“{row[NAME]}”" if row[NAME] else "不能为空")
        elif len(named) > 1:
            self.error(row, NAME, f"有 {len(named)} 人叫“{row[NAME]}”，请填写账号")
        else:
            return named[0]
        return None

    def date(self, row: SheetRow, column: str, *, required: bool) -> date | None:
        text = row.cells.get(column, "")
        if not text:
            if required:
                self.error(row, column, "不能为空")
            return None
        value = parse_date(text)
        if value is None:
            self.error(row, column, f"“{text}”不是日期，请写成 2024-03-01")
        return value


def check(rows: list[SheetRow]) -> tuple[list[tuple[SheetRow, Person, date, date | None]], list[RowError]]:
    """Check the rows against the org as it now stands; return the good ones and every error."""
    checker, kinds, numbers, good = Checker(), matrix.current().kinds, {}, []
    owners = {c.number: c.person_id for c in Certificate.select(Certificate.number, Certificate.person)}
    for row in rows:
        checker.check_lengths(row, COLUMNS)
        person = checker.person(row)
        if row[KIND] not in kinds:
            what = f"未知证书类型“{row[KIND]}”" if row[KIND] else "不能为空"
            checker.error(row, KIND, f"{what}，可选：{'、'.join(kinds)}")
        if not row[NUMBER]:
            checker.error(row, NUMBER, "不能为空")
        elif row[NUMBER] in numbers:
            checker.error(row, NUMBER, f"证书编号“{row[NUMBER]}”与第{numbers[row[NUMBER]]}行重复")
        else:
            numbers[row[NUMBER]] = row.row
            if person is not None and owners.get(row[NUMBER], person.id) != person.id:
                checker.error(row, NUMBER, f"证书编号“{row[NUMBER]}”已登记在另一人名下")
        valid, issued = checker.date(row, VALID, required=True), checker.date(row, ISSUED, required=False)
        if valid and issued and issued > valid:
            checker.error(row, ISSUED, f"发证日期 {issued} 晚于有效期至 {valid}")
        if person is not None and valid is not None:
            good.append((row, person, valid, issued))
    return good, checker.errors


def save(good, *, today: date) -> CertificateReport:
    """Write the checked rows as the whole registry: certificates the sheet leaves out are revoked."""
    report, kept, now = CertificateReport(), set(), utcnow()
    existing = {c.number: c for c in Certificate.select()}
    for row, person, valid, issued in good:
        fields = dict(person=person, kind=row[KIND], issuer=row.cells.get(ISSUER, ""), issued_on=issued,
                      valid_until=valid, training=row.cells.get(TRAINING, ""), revoked_at=None, updated_at=now)
        cert = existing.get(row[NUMBER])
        if cert is None:
            cert = Certificate.create(number=row[NUMBER], **fields)
            report.created += 1
        else:
            Certificate.update(**fields).where(Certificate.id == cert.id).execute()
            report.updated += 1
        kept.add(cert.id)
        if valid < today:
            report.expired.append(f"第{row.row}行 {person.name} {row[KIND]} {valid:%Y-%m-%d}")
    report.revoked = (Certificate.update(revoked_at=now)
                      .where(Certificate.revoked_at.is_null() & Certificate.id.not_in(kept or {0})).execute())
    return report
