"""The demo district: loads into an empty database only, and every demo account can log in."""

from datetime import date

import pytest
from sqlalchemy import func, select

from accounts.models import Cadre, Unit, User
from demo import district


@pytest.fixture(autouse=True)
def _allow_demo(monkeypatch):
    monkeypatch.setenv("QE_ALLOW_DEMO", "1")


def test_demo_needs_to_be_allowed(runner, db, monkeypatch):
    monkeypatch.delenv("QE_ALLOW_DEMO")
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code != 0 and "QE_ALLOW_DEMO" in result.output


@pytest.mark.real_demo  # the loader itself, not the run's copy of it (tests/conftest.py)
def test_demo_load_and_every_account_logs_in(runner, db, app):
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    assert "admin" in result.output and district.DEMO_PASSWORD in result.output
    assert db.session.scalar(select(func.count(Cadre.id))) >= 40
    assert db.session.scalar(select(func.count(Unit.id))) == len(district.UNITS)
    for username, *_ in district.ROLE_ACCOUNTS:
        client = app.test_client()
        response = client.post_form("/login", {"username": username, "password": district.DEMO_PASSWORD})
        assert response.status_code == 302 and response.headers["Location"] == "/", username
        assert client.get("/").status_code == 200
    # Mixed ages around the under-35 line of the first exams, and every rank.
    ages = [c.age_on(date(2026, 11, 28)) for c in db.session.scalars(select(Cadre))]
    assert min(ages) < 35 <= max(ages)
    assert len({c.rank for c in db.session.scalars(select(Cadre))}) == 4
    _check_demo_people(db)
    _check_demo_archives(db, app)  # (one load for all: loading the demo is the slow part)
    _check_demo_reports(app)
    # The demo's audit log, written out of time order (its stories are back-dated) and by the logins above, is
    # one intact chain.
    verified = runner.invoke(args=["audit", "verify", "--no-record"])
    assert verified.exit_code == 0 and "Intact" in verified.output, verified.output


def test_the_runs_copy_of_the_demo_is_the_district_row_for_row(runner, db, app):
    """Tests get the demo district back from a snapshot of a real load (tests/conftest.py): the same rows in every
    table, an intact audit chain, scores that verify, and new rows numbered after the copied ones."""
    from accounts.services import create_unit
    from core.models import now_utc
    from tests import conftest

    if conftest._DEMO_SNAPSHOT.get(db.engine.dialect.name) is None:
        district.load(now_utc())  # the first of the run: a real load, which takes the snapshot
        db.session.commit()
        db.session.remove()
        conftest._empty_all_tables(db)
    snapshot = conftest._DEMO_SNAPSHOT[db.engine.dialect.name]
    restored = conftest.DEMO_LOAD_STATS["restored"]
    accounts = district.load(now_utc())
    db.session.commit()
    assert conftest.DEMO_LOAD_STATS["restored"] == restored + 1 and accounts == snapshot.accounts
    copy = conftest._take_demo_snapshot(db.session.connection(), db.metadata, snapshot.now, accounts)
    assert [t.name for t, _rows in copy.tables] == [t.name for t, _rows in snapshot.tables]
    assert len(copy.tables) > 20
    for (table, rows), (_table, expected) in zip(copy.tables, snapshot.tables, strict=True):
        assert rows == expected, table.name
    verified = runner.invoke(args=["audit", "verify", "--no-record"])
    assert verified.exit_code == 0 and "Intact" in verified.output, verified.output
    scores = runner.invoke(args=["exams", "verify", "--all"])
    assert scores.exit_code == 0 and scores.output.strip().endswith(" 0 difference(s)."), scores.output
    highest = db.session.scalar(select(func.max(Unit.id)))
    assert create_unit("COPYTEST", "复制后新建", "department", None).id == highest + 1
    db.session.commit()


def test_demo_load_refuses_a_non_empty_database(runner, db):
    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    assert runner.invoke(args=["demo", "load"]).exit_code != 0
    result = runner.invoke(args=["demo", "load", "--if-empty"])
    assert result.exit_code == 0 and "not loaded" in result.output
    # make run ends with the accounts every time; an account whose password changed is no longer offered
    assert f"  cadre01    {district.DEMO_PASSWORD}" in result.output
    db.session.scalar(select(User).where(User.username == "cadre01")).set_password("Granite-63-owl")
    db.session.commit()
    result = runner.invoke(args=["demo", "load", "--if-empty"])
    assert "  admin " in result.output and "cadre01" not in result.output


# Given-name characters that mark one sex in the demo's names, and position words that a rank allows or excludes.
_FEMALE_CHARS = set("娜燕琴娟英梅霞丽婷瑶艳芳雅怡")
_MALE_CHARS = set("强军勇刚鹏浩杰磊伟辉博轩")
_LEADER_WORDS = ("长", "主任", "书记")


def _position_fits(rank: str, position: str) -> bool:
    if rank == "staff":
        return not any(w in position for w in _LEADER_WORDS)
    if rank == "stock_level":  # 股级: a 股长 or the head of an office or station, never a 科长, 局长 or 镇长
        return position.endswith(("股长", "办公室主任", "站长"))
    deputy = "副" in position
    return any(w in position for w in _LEADER_WORDS) and deputy == (rank == "deputy_section_chief")


def test_position_rule_refuses_the_mismatches_the_demo_once_had():
    assert not _position_fits("stock_level", "科长") and not _position_fits("staff", "办公室主任")
    assert not _position_fits("section_chief", "副镇长") and not _position_fits("deputy_section_chief", "局长")
    assert _position_fits("section_chief", "镇长") and _position_fits("deputy_section_chief", "副局长")


def _check_demo_people(db):
    """Every demo cadre's sex agrees with a clearly gendered given name, and their position with their rank."""
    from accounts.models import User

    rows = db.session.execute(select(User.name, User.username, Cadre.gender, Cadre.rank, Cadre.position).join(Cadre))
    for name, username, gender, rank, position in rows:
        given = set(name[1:])
        if given & _FEMALE_CHARS and not given & _MALE_CHARS:
            assert gender == "female", (username, name, gender)
        if given & _MALE_CHARS and not given & _FEMALE_CHARS:
            assert gender == "male", (username, name, gender)
        assert _position_fits(rank, position), (username, name, rank, position)
    people = {u: (g, r, p) for u, g, r, p in db.session.execute(
        select(User.username, Cadre.gender, Cadre.rank, Cadre.position).join(Cadre))}  # fmt: skip
    assert people["cadre01"][0] == "male" and people["qsz001"][0] == "female"  # 王浩然, 林晓燕


def _check_demo_archives(db, app):
    """The demo's archives hold every kind of record, and cadre01 a certificate that /verify confirms."""
    from archive.models import (
        AnnualAssessment,
        ArchiveEntry,
        ExamResultRecord,
        Qualification,
        ReadingNote,
        StudyPlan,
        TrainingClass,
    )
    from core.extensions import limiter

    kinds = set(db.session.scalars(select(ArchiveEntry.kind).distinct()))
    assert kinds == {"degree", "training", "collective", "self_study"}
    assert {c.class_type for c in db.session.scalars(select(TrainingClass))} >= {"university", "party_school",
                                                                                  "overseas", "online"}  # fmt: skip
    for model in (ExamResultRecord, ReadingNote, StudyPlan, AnnualAssessment):
        assert db.session.scalar(select(func.count()).select_from(model)), model
    assert {n.status for n in db.session.scalars(select(ReadingNote))} == {"pending", "accepted", "rejected"}
    client = app.test_client()
    client.post_form("/login", {"username": "cadre01", "password": district.DEMO_PASSWORD})
    html = client.get("/archive/cadres/cadre01").get_data(as_text=True)
    qual = db.session.scalar(select(Qualification).join(Qualification.user).where(Qualification.revoked_at.is_(None))
                             .filter_by(username="cadre01"))  # fmt: skip
    assert qual is not None and qual.code in html
    assert client.get(f"/archive/qualifications/{qual.id}/certificate.pdf").mimetype == "application/pdf"
    limiter.reset()
    assert "王浩然" in app.test_client().get(f"/verify/{qual.code}").get_data(as_text=True)


def _check_demo_reports(app):
    """Every report page and export works for the demo's sat exams."""
    admin = app.test_client()
    admin.post_form("/login", {"username": "admin", "password": district.DEMO_PASSWORD})
    pages = {"ZZLL2025": ("ranking", "ranking?age=under35", "ranking?show=absent", "units", "statistics", "items",
                          "ranking.xlsx", "units.xlsx", "items.xlsx", "report.pdf"),
             "GWZS2025": ("ranking", "units", "statistics", "items")}  # fmt: skip
    for code, names in pages.items():
        for page in names:
            response = admin.get(f"/reports/exams/{code}/{page}")
            assert response.status_code == 200, (code, page, response.status_code)
    ranking = admin.get("/reports/exams/ZZLL2025/ranking").get_data(as_text=True)
    assert "王浩然" in ranking  # cadre01
    assert admin.get("/reports/years/2025/units").status_code == 200
    assert "王浩然" in admin.get("/reports/qualifications?cycle=2025").get_data(as_text=True)
    cadre = app.test_client()
    cadre.post_form("/login", {"username": "cadre01", "password": district.DEMO_PASSWORD})
    history = cadre.get("/reports/my/history", follow_redirects=True).get_data(as_text=True)
    assert "ZZLL2025" in history or "2025年度政治理论水平任职资格考试" in history
    assert cadre.get("/reports/exams/ZZLL2025/ranking").status_code == 403


def test_an_official_exam_is_in_public_notice(demo_district, app, db):
    """XZGW2026 went through check (zzb001) and approval (admin) to a notice to its units; cadre01 sat it and sees
    the state and the notice."""
    from core.models import now_utc
    from demo import results as demo_results
    from exam.models import Exam
    from results import lifecycle

    exam = db.session.scalar(select(Exam).where(Exam.code == demo_results.CODE))
    assert lifecycle.state(exam, now_utc()) == "notice"
    row = lifecycle.official(exam)
    assert row.checked_by.username == "zzb001" and row.approved_by.username == "admin"
    notice = lifecycle.current_notice(exam)
    assert notice.rows and notice.scope == "units" and notice.ends_at > now_utc()
    client = app.test_client()
    client.post_form("/login", {"username": "cadre01", "password": district.DEMO_PASSWORD})
    assert f'data-exam="{exam.code}" data-state="notice"' in client.get("/").get_data(as_text=True)
    assert client.get(f"/results/notices/{notice.serial}").status_code == 200
