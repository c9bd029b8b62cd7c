"""The start page says plainly why a registered start check would refuse the start, and disables the button then
(the server refuses anyway)."""

from core.errors import DomainError
from core.models import now_utc
from core.policy import Role
from exam import attempts
from sitting import checkin
from sitting import services as sitting
from tests.factories import make_open_exam, make_sitting, make_user


def test_a_refusing_check_shows_its_reason_and_disables_the_button(client, auth, db, monkeypatch):
    exam, cadre = make_open_exam()

    def closed_door(exam, user, now):
        raise DomainError("Go to the door of room 7.", code="test")

    monkeypatch.setattr(attempts, "_start_checks", [closed_door])
    auth.login(cadre.username)
    page = client.get(f"/my/exams/{exam.code}/").get_data(as_text=True)
    assert 'id="start-refusal"' in page and "Go to the door of room 7." in page
    assert 'type="submit" disabled' in page
    refused = client.post_form(f"/my/exams/{exam.code}/start", {"confirm": "1"})
    assert refused.status_code == 302 and "/attempts/" not in refused.headers["Location"]


def test_the_sitting_check_in_then_lets_the_candidate_start(client, auth, db):
    exam, cadre = make_open_exam()
    session, rooms = make_sitting(exam, requires_checkin=True)
    db.session.commit()
    auth.login(cadre.username)
    page = client.get(f"/my/exams/{exam.code}/").get_data(as_text=True)
    assert 'id="start-refusal"' in page and rooms[0].name in page
    proctor = make_user(roles=(Role.PROCTOR,))
    checkin.check_in(sitting.seat_of(exam, cadre), proctor, now_utc())
    db.session.commit()
    page = client.get(f"/my/exams/{exam.code}/").get_data(as_text=True)
    assert 'id="start-refusal"' not in page and 'type="submit" disabled' not in page
    started = client.post_form(f"/my/exams/{exam.code}/start", {"confirm": "1"})
    assert started.status_code == 302 and "/attempts/" in started.headers["Location"]
