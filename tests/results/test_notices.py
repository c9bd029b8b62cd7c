"""Working days (weekends, holidays, adjusted working Saturdays), the notice list and its scope, a revision with a
new serial (the old kept, superseded), the public verification page and the PDF as a reader sees it."""

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from core.errors import DomainError
from core.models import LOCAL_ZONE, now_utc
from core.policy import Role, may_see_notice
from results import calendar, lifecycle, notices
from results.models import Notice
from tests import poppler as pdf_tools
from tests.factories import make_cadre, make_unit, make_user
from tests.results.world import district_admin, official_exam


def _approved(db, **kwargs):
    exam, people, attempts, registrar = official_exam(db, **kwargs)
    now = now_utc()
    lifecycle.check(district_admin(), exam, "", now)
    lifecycle.approve(district_admin(), exam, "", now)
    return exam, people, attempts, registrar


# ---------------------------------------------------------------- working days


def test_working_days_skip_weekends(app, db):
    friday = date(2026, 12, 4)
    assert calendar.add_working_days(friday, 1) == date(2026, 12, 7)  # Monday
    assert calendar.add_working_days(friday, 5) == date(2026, 12, 11)
    assert calendar.add_working_days(date(2026, 12, 7), 4) == date(2026, 12, 11)  # within one week
    with pytest.raises(ValueError):
        calendar.add_working_days(friday, 0)


def test_a_holiday_and_an_adjusted_working_saturday(app, db):
    admin = district_admin()
    now = now_utc()
    # National Day 2026: Thursday 1 October to Wednesday 7 October off (the weekdays of it kept as holidays);
    # Saturday 10 October worked instead (调休).
    for d in (1, 2, 5, 6, 7):
        calendar.add_day(admin, date(2026, 10, d), "holiday", "国庆节", now)
    calendar.add_day(admin, date(2026, 10, 10), "workday", "国庆调休", now)
    wednesday = date(2026, 9, 30)
    assert calendar.add_working_days(wednesday, 1) == date(2026, 10, 8)  # Thursday after the holiday
    assert calendar.add_working_days(wednesday, 2) == date(2026, 10, 9)
    assert calendar.add_working_days(wednesday, 3) == date(2026, 10, 10)  # the adjusted Saturday
    assert calendar.add_working_days(wednesday, 4) == date(2026, 10, 12)  # Sunday the 11th is off
    # a weekday holiday in an ordinary week
    calendar.add_day(admin, date(2026, 12, 9), "holiday", "", now)
    assert calendar.add_working_days(date(2026, 12, 7), 3) == date(2026, 12, 11)


def test_calendar_days_are_checked(app, db):
    admin, now = district_admin(), now_utc()
    for day, kind, code in ((date(2026, 12, 5), "holiday", "weekend_holiday"),
                            (date(2026, 12, 7), "workday", "weekday_workday"),
                            (date(2026, 12, 7), "other", "bad_kind")):  # fmt: skip
        with pytest.raises(DomainError) as exc:
            calendar.add_day(admin, day, kind, "", now)
        assert exc.value.code == code
    calendar.add_day(admin, date(2026, 12, 7), "holiday", "", now)
    with pytest.raises(DomainError) as exc:
        calendar.add_day(admin, date(2026, 12, 7), "holiday", "", now)
    assert exc.value.code == "duplicate_day"


def test_the_notice_ends_at_the_end_of_its_last_working_day(app, db):
    exam, _people, _attempts, registrar = _approved(db)
    friday_noon = datetime(2026, 12, 4, 12, 0, tzinfo=LOCAL_ZONE).astimezone(now_utc().tzinfo)
    notice = notices.publish(registrar, exam, friday_noon, days=2, scope="candidates")
    assert notice.ends_at.astimezone(LOCAL_ZONE) == datetime(2026, 12, 9, 0, 0, tzinfo=LOCAL_ZONE)  # Mon, Tue
    assert notices.appeal_deadline(exam) == notice.ends_at == notice.appeal_deadline


# ---------------------------------------------------------------- the list, scope and revisions


def test_the_notice_list(app, db):
    exam, people, attempts, registrar = _approved(db, n=3)
    notice = notices.publish(registrar, exam, now_utc(), days=5, scope="candidates")
    assert notice.parts == [s.title for s in exam.sections]
    first = notice.rows[0]
    assert first["user_id"] == people[0].id and first["parts"] == [2.0, 2.0] and first["total"] == 4.0
    assert first["passed"] is True and first["unit"] == people[0].cadre.unit.name
    assert [r["total"] for r in notice.rows] == [4.0, 1.0, 1.0]
    assert {r["user_id"] for r in notice.rows} == {p.id for p in people}


@pytest.mark.parametrize("scope", ["candidates", "units", "district"])
def test_who_sees_the_notice(app, db, scope):
    exam, people, attempts, registrar = _approved(db)
    colleague = make_cadre(unit=people[0].cadre.unit).user  # same unit, did not sit
    stranger = make_cadre(unit=make_unit()).user
    notice = notices.publish(registrar, exam, now_utc(), days=5, scope=scope)
    assert may_see_notice(people[1], notice)
    assert may_see_notice(colleague, notice) is (scope in ("units", "district"))
    assert may_see_notice(stranger, notice) is (scope == "district")
    assert may_see_notice(registrar, notice) and may_see_notice(district_admin(Role.SYSTEM_ADMIN), notice)
    assert not may_see_notice(make_user(roles=(Role.UNIT_ADMIN,), unit=make_unit()), notice) or scope == "district"


def test_a_revision_gets_a_new_serial_and_keeps_the_old(app, db):
    exam, people, attempts, registrar = _approved(db)
    now = now_utc()
    first = notices.publish(registrar, exam, now, days=3, scope="units")
    later = now + timedelta(days=7)
    with pytest.raises(DomainError):
        notices.publish_revised(registrar, exam, " ", later)
    revised = notices.publish_revised(registrar, exam, "申诉后第二题改判", later)
    assert revised.serial != first.serial and revised.version == 2 and revised.scope == "units"
    assert first.superseded and first.superseded_at == later and not revised.superseded
    assert revised.ends_at > first.ends_at and revised.revision_reason == "申诉后第二题改判"
    assert lifecycle.current_notice(exam).id == revised.id
    assert notices.by_serial(first.serial).id == first.id  # kept
    assert lifecycle.state(exam, later) == "notice"
    assert len(db.session.scalars(select(Notice).where(Notice.exam_id == exam.id)).all()) == 2


def test_the_verification_page(client, db):
    exam, people, attempts, registrar = _approved(db)
    first = notices.publish(registrar, exam, now_utc(), days=3, scope="candidates")
    revised = notices.publish_revised(registrar, exam, "改判", now_utc())
    db.session.commit()
    response = client.get(f"/verify/notice/{first.serial}")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and 'data-superseded="yes"' in body and exam.code in body
    assert revised.serial in body
    assert people[0].name not in body  # nothing personal
    response = client.get(f"/verify/notice/{revised.serial}")
    assert response.status_code == 200 and 'data-superseded="no"' in response.get_data(as_text=True)
    assert client.get("/verify/notice/NOPE-01-XXXX").status_code == 404


def test_the_pdf_renders(app, db, tmp_path):
    poppler = pdf_tools.tools()
    exam, people, attempts, registrar = _approved(db, n=3)
    notice = notices.publish(registrar, exam, now_utc(), days=5, scope="candidates")
    with app.test_request_context():
        url = notices.verification_url(notice.serial)
        data = notices.notice_pdf(notice, url)
    assert url.endswith(f"/verify/notice/{notice.serial}")
    path = tmp_path / "notice.pdf"
    path.write_bytes(data)
    text = pdf_tools.text(poppler, "-layout", path)
    assert notice.serial in text and url in text
    for person in people:
        assert person.name in text
    assert "合格" in text and exam.sections[0].title in text and "申诉截止" in text
    pages = pdf_tools.images(poppler, path, 50)
    assert len(pages) == 1


def test_the_notice_shows_the_unit_as_at_the_close(app, db):
    from exam import roster

    exam, people, attempts, registrar = _approved(db)
    old_unit = people[0].cadre.unit.name
    roster.freeze(exam, now_utc())
    people[0].cadre.unit = make_unit(name="新单位")  # moved after the close
    db.session.flush()
    notice = notices.publish(registrar, exam, now_utc(), days=5, scope="units")
    row = next(r for r in notice.rows if r["user_id"] == people[0].id)
    assert row["unit"] == old_unit != "新单位"
