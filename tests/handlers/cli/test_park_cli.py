"""The park's commands: the monthly ranking of enterprises, 一企一档 archives, and registry URLs kept out of sight."""
from __future__ import annotations

import json
import tarfile
import zipfile
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

import settings
from exports.org_import import load_org
from handlers.api import tokens
from hazards import findings
from models import AuditEvent, Enterprise, Permit, database, find_person
from models.db import bound, open_database
from models.hazard import FindingPhoto
from models.permit import Attachment
from models.schema import discover, upgrade
from models.snapshot import load
from park import archive as archives, enterprises
from tests.conftest import SAMPLE_ORG
from tests.handlers.api.test_open_api import api, make_permit  # noqa: F401 - fixtures shared
from workflow import audit, create_permit, submit, work

# A fixed plant-local month, so the figures do not depend on the day the suite runs.
START = datetime(2026, 11, 10, 2, 0)


def invoke(*args: str, ok: bool = True) -> str:
    from app import cli
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert (result.exit_code == 0) == ok, result.output
    assert "Traceback" not in result.output
    return result.output


PERMIT_PHOTO, FINDING_PHOTO = b"\xff\xd8 yi's site photo", b"\xff\xd8 yi's broken bund"


@pytest.fixture
def park(api, tmp_path, enterprise_url):
    """The deployment's own plant and three enterprises: yi scores as the home does, bing lower, ding has no month."""
    # Home: one permit submitted and not started: in order, never rejected, nothing late. Q = 100.
    make_permit("DH-20261110-0001", state="in_approval", planned_start=START, submitted_at=START)
    for code, name in (("yi", "乙化工"), ("bing", "丙化工"), ("ding", "丁化工")):
        enterprises.add(code, name, enterprise_url(code))
        with bound(enterprises.database_of(code)):
            load_org(SAMPLE_ORG)
    with bound(enterprises.database_of("yi")):
        # Applied for and submitted through the engine, so the chain holds the permit: Q = 100 as well.
        applicant = find_person("zhuyan")
        permit = create_permit("height", applicant=applicant, location="3#罐区", content="仪表更换",
                               attributes={"height_m": 12}, planned_start=START, planned_end=START + timedelta(hours=8),
                               crew=[find_person("jianghan")], guardians=[find_person("chuwei")],
                               now=START - timedelta(hours=3))
        submit(permit.no, by=applicant, now=START - timedelta(hours=2))
        work.attach(permit.no, by=applicant, kind="现场照片", data=PERMIT_PHOTO, filename="site.jpg")
        found = findings.report("3#罐区 乙厂围堰破损", by=find_person("chuwei"))
        findings.add_photo(found.no, by=find_person("chuwei"), data=FINDING_PHOTO)
        tokens.create("乙厂看板", "read", enterprise="yi")
    with bound(enterprises.database_of("bing")):
        # Started without an approval on record and never closed: not compliant, not closed. Q = 28.
        make_permit("DH-20261110-0002", planned_start=START, submitted_at=START, started_at=START)
    return tmp_path


def ranking(path) -> list[tuple]:
    sheet = load_workbook(path, read_only=True)["园区企业排名"]
    rows = list(sheet.iter_rows(values_only=True))
    header = next(i for i, row in enumerate(rows) if row and row[0] == "排名")
    return [row[:4] for row in rows[header + 1:] if len(row) > 2 and row[2]]


def test_the_park_report_ranks_the_enterprises_by_the_monthly_reports_score(park):
    out = park / "rank.xlsx"
    said = invoke("park-report", "--month", "2026-11", "--out", str(out))
    assert "第一名" in said and "100.0 分" in said
    rows = ranking(out)
    assert [(r[0], r[1], r[2]) for r in rows] == [(1, "（本部署）", database_plant_name()), (1, "yi", "乙化工"),
                                                (3, "bing", "丙化工"), (None, "ding", "丁化工")]
    assert [r[3] for r in rows] == [100.0, 100.0, 28.0, None]
    # The same Q the enterprise's own monthly report states.
    report = invoke("--enterprise", "bing", "export", "report", "--month", "2026-11", "--out", str(park / "b.xlsx"))
    assert "Q = 28.0 分" in report
    assert "权重配置" in load_workbook(out, read_only=True).sheetnames


def database_plant_name() -> str:
    import settings
    return settings.current().plant_name


def test_the_park_report_refuses_a_bad_month_and_an_enterprise_binding(park):
    assert "月份" in invoke("park-report", "--month", "2026-13", ok=False)
    refused = invoke("--enterprise", "yi", "park-report", "--month", "2026-11", ok=False)
    assert "园区视图只能在部署本身读取" in refused


def test_an_enterprises_archive_holds_its_whole_file_and_its_chain_verifies_after_a_restore(park):
    out = park / "yi.zip"
    said = invoke("archive", "--enterprise", "yi", "--out", str(out))
    assert "乙化工（yi）" in said and "chain intact" in said
    # The snapshot's view of yi's database was bound over yi's, and given back: the process's own is still the home's.
    assert Permit.get_or_none(Permit.no == "DH-20261110-0001") is not None
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
        permits = zf.read("db/permit.jsonl").decode()
    assert '"work_type": "height"' in permits
    assert "DH-20261110-0001" not in permits and "DH-20261110-0002" not in permits   # the home's and bing's
    assert set(archives.PARTS) <= names and "db/audit_event.jsonl" in names
    assert manifest["enterprise"] == {"code": "yi", "name": "乙化工"} and manifest["audit"]["ok"] is True
    # Its photos: kept in its own folder of the instance, and carried by its archive under the rows' paths.
    with bound(enterprises.database_of("yi")):
        photos = {a.path: PERMIT_PHOTO for a in Attachment.select()}
        photos |= {p.path: FINDING_PHOTO for p in FindingPhoto.select()}
        folder = enterprises.media_folder()
    assert folder == settings.current().instance_path / "enterprises" / "yi" and len(photos) == 2
    assert manifest["media"] == {"files": 2, "missing": []}
    with zipfile.ZipFile(out) as zf:
        for path, data in photos.items():
            assert (folder / path).read_bytes() == data and zf.read(f"media/{path}") == data
            assert not (settings.current().instance_path / path).exists()   # not among the deployment's own
    org = load_workbook(_member(out, archives.ORG, park), read_only=True)
    assert {"部门", "人员", "证书"} <= set(org.sheetnames)
    people = [row[0] for row in org["人员"].iter_rows(values_only=True)]
    assert "褚卫" in people
    # The archived rows restored into an empty database: verify-audit passes on the chain they hold.
    _, source = archives.read_rows(out)
    restored = open_database(f"sqlite:///{park / 'restored.db'}")
    with bound(restored):
        upgrade()
        load(source, schema_version=manifest["database"]["schema_version"], head=discover()[-1].version)
        verdict = audit.verify()
        assert verdict.ok, verdict.text()
        assert verdict.checked == manifest["audit"]["checked"] > 0
        assert {"api_token_created"} <= {e.action for e in AuditEvent.select()}
    assert database.obj is database.home


def _member(archive, name, folder):
    with zipfile.ZipFile(archive) as zf:
        target = folder / "member.xlsx"
        target.write_bytes(zf.read(name))
    return target


def test_an_archive_of_a_tampered_chain_says_so_and_exits_1(park):
    with bound(enterprises.database_of("yi")):
        AuditEvent.update(actor="someone else").where(AuditEvent.seq == 1).execute()
    said = invoke("archive", "--enterprise", "yi", "--out", str(park / "yi.zip"), ok=False)
    assert "BROKEN" in said
    with zipfile.ZipFile(park / "yi.zip") as zf:
        assert json.loads(zf.read("manifest.json"))["audit"]["ok"] is False
        assert zf.read(archives.VERDICT).decode().startswith("BROKEN")


def test_an_archive_names_a_registered_enterprise(park):
    assert "没有编码为“wu”的企业" in invoke("archive", "--enterprise", "wu", ok=False)
    assert "两个不同的企业" in invoke("--enterprise", "bing", "archive", "--enterprise", "yi", ok=False)


def test_registry_passwords_are_masked_in_the_listing_and_left_out_of_a_backup(park, enterprise_url):
    Enterprise.create(code="wu", name="戊化工", database_url="mysql://root:s3cret@db.example:3306/wu",
                      created_at=START)
    listed = invoke("enterprise", "list")
    assert "wu\t戊化工\tmysql://root:***@db.example:3306/wu" in listed and "s3cret" not in listed
    out = park / "home.tar.gz"
    invoke("backup", "--out", str(out))
    with tarfile.open(out) as tar:
        registry = tar.extractfile("db/enterprise.jsonl").read().decode()
        everything = b"".join(tar.extractfile(m).read() for m in tar.getmembers() if m.isfile())
    assert "mysql://root:***@db.example:3306/wu" in registry and b"s3cret" not in everything
    yi_url = Enterprise.get(Enterprise.code == "yi").database_url
    assert yi_url in registry   # a URL with no password stays as it is
    # After a restore an admin gives the password again; the new URL is migrated and listed masked.
    wu_url = enterprise_url("wu")
    said = invoke("enterprise", "set-url", "wu", "--database-url", wu_url)
    assert wu_url.rsplit("/", 1)[-1] in said
    taken = invoke("enterprise", "set-url", "wu", "--database-url", yi_url, ok=False)
    assert "已由“乙化工”使用" in taken
