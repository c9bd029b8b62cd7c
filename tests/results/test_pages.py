"""The lifecycle's pages by hand: the admins' results page through check, approval (by another) and the notice;
the candidate's result and home pages showing the state and no score before the notice; the exam's page linking
to the results; the calendar page; a candidate-admin refused."""

from datetime import timedelta

from sqlalchemy import select

from core.models import now_utc
from core.policy import Role
from results import lifecycle
from results.models import CalendarDay
from tests.factories import make_open_exam
from tests.results.world import district_admin, official_exam


def _login_admin(auth, client):
    auth.logout()
    return auth.login_as("org_admin")


def test_check_approve_publish_by_hand(client, auth, db):
    exam, people, attempts, registrar = official_exam(db)
    checker = auth.login_as("org_admin")
    page = client.get(f"/results/exams/{exam.code}").get_data(as_text=True)
    assert 'data-state="marked"' in page and 'id="check-form"' in page and 'data-check="zero"' in page
    assert client.post_form(f"/results/exams/{exam.code}/check", {"note": "核对无误"}).status_code == 302
    assert lifecycle.state(exam, now_utc()) == "checked"
    page = client.get(f"/results/exams/{exam.code}").get_data(as_text=True)
    assert 'id="same-person"' in page and 'id="approve-form"' not in page
    client.post_form(f"/results/exams/{exam.code}/approve", {"note": "同意"})  # refused: the checker
    db.session.expire_all()
    assert lifecycle.state(exam, now_utc()) == "checked"
    _login_admin(auth, client)
    client.post_form(f"/results/exams/{exam.code}/approve", {"note": "同意"})
    db.session.expire_all()
    assert lifecycle.state(exam, now_utc()) == "approved"
    client.post_form(f"/results/exams/{exam.code}/publish", {"scope": "district", "days": "5"})
    db.session.expire_all()
    assert lifecycle.state(exam, now_utc()) == "notice"
    notice = lifecycle.current_notice(exam)
    assert notice.scope == "district" and lifecycle.official(exam).checked_by_id == checker.id
    page = client.get(f"/results/exams/{exam.code}").get_data(as_text=True)
    assert f'data-serial="{notice.serial}"' in page and 'data-to="notice"' in page
    response = client.get(f"/results/notices/{notice.serial}.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    detail = client.get(f"/exams/{exam.code}/").get_data(as_text=True)
    assert 'id="results-link"' in detail and f"/exams/{exam.code}/release" not in detail  # no release by hand
    assert f'data-exam="{exam.code}"' in client.get("/results/").get_data(as_text=True)


def test_register_by_hand_and_release_refused(client, auth, db):
    exam, _candidate = make_open_exam(code="REG1", release="manual")
    auth.login_as("org_admin")
    page = client.get(f"/results/exams/{exam.code}").get_data(as_text=True)
    assert 'id="register-form"' in page
    client.post_form(f"/results/exams/{exam.code}/register", {"scope": "units", "days": "7", "appeal_how": "书面"})
    db.session.expire_all()
    row = lifecycle.official(exam)
    assert row is not None and row.scope == "units" and row.notice_days == 7
    exam.closes_at = now_utc() - timedelta(minutes=1)
    db.session.commit()
    client.post_form(f"/exams/{exam.code}/release")
    db.session.expire_all()
    assert exam.status == "published"


def test_the_candidate_sees_the_state_and_no_score_before_the_notice(client, auth, db):
    exam, people, attempts, registrar = official_exam(db)
    auth.login(people[0].username)
    page = client.get(f"/my/attempts/{attempts[0].id}/result").get_data(as_text=True)
    assert 'id="result-lifecycle" data-state="marked"' in page and 'class="score"' not in page
    home = client.get("/").get_data(as_text=True)
    assert f'data-exam="{exam.code}" data-state="marked"' in home
    from results import notices

    now = now_utc()
    lifecycle.check(district_admin(), exam, "", now)
    lifecycle.approve(district_admin(), exam, "", now)
    notice = notices.publish(registrar, exam, now, days=5, scope="candidates")
    db.session.commit()
    page = client.get(f"/my/attempts/{attempts[0].id}/result").get_data(as_text=True)
    assert 'data-state="notice"' in page and 'class="score"' in page and 'id="my-appeal-deadline"' in page
    assert client.get(f"/results/notices/{notice.serial}").status_code == 200
    home = client.get("/").get_data(as_text=True)
    assert f'data-exam="{exam.code}" data-state="notice"' in home


def test_an_admin_who_sat_reaches_none_of_its_results_pages(client, auth, db):
    exam, people, attempts, registrar = official_exam(db)
    from accounts.models import RoleAssignment

    people[1].roles.append(RoleAssignment(role=Role.ORG_ADMIN))
    db.session.commit()
    auth.login(people[1].username)
    assert client.get(f"/results/exams/{exam.code}").status_code == 403
    assert client.post_form(f"/results/exams/{exam.code}/check", {"note": ""}).status_code == 403
    assert lifecycle.state(exam, now_utc()) == "marked"


def test_the_calendar_page(client, auth, db):
    auth.login_as("system_admin")
    assert client.get("/results/calendar").status_code == 200
    client.post_form("/results/calendar", {"day": "2030-10-01", "kind": "holiday", "name": "国庆节"})
    client.post_form("/results/calendar", {"day": "2030-10-12", "kind": "workday", "name": "调休"})
    client.post_form("/results/calendar", {"day": "2030-10-05", "kind": "holiday", "name": "周六"})  # refused
    days = {d.day.isoformat(): d.kind for d in db.session.scalars(select(CalendarDay))}
    assert days == {"2030-10-01": "holiday", "2030-10-12": "workday"}
    page = client.get("/results/calendar").get_data(as_text=True)
    assert 'data-day="2030-10-12" data-kind="workday"' in page
