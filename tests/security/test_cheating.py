"""A candidate trying to cheat: reading keys before submitting, saving late or twice over, forging what the page
sends, or trusting their own clock. Each attempt must fail and leave the attempt as it was."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from accounts.services import create_api_token
from core.models import now_utc
from exam.models import Answer, Attempt
from tests.factories import SECRET, make_open_exam


@pytest.fixture
def sitting(client, auth, db):
    """A candidate signed in, with an attempt in progress; `call` sends JSON with the page's CSRF header."""
    exam, user = make_open_exam(code="CH1", qtypes=("single", "truefalse", "essay"))
    db.session.commit()
    auth.login(user.username)
    csrf = client.csrf_token()

    def call(method, url, body=None):
        return client.open(url, method=method, json=body, headers={"X-CSRFToken": csrf})

    attempt = call("POST", "/api/v1/exams/CH1/attempts", {}).get_json()
    return exam, user, attempt["id"], call


def _stored(db, attempt_id):
    db.session.expire_all()
    return {(a.position, a.seq) for a in db.session.scalars(select(Answer).where(Answer.attempt_id == attempt_id))
            if a.seq > 0}  # fmt: skip


def test_no_page_or_api_shows_a_key_or_explanation_before_submission(client, db, sitting):
    exam, user, attempt_id, call = sitting
    pages = [
        client.get(f"/my/attempts/{attempt_id}"),
        client.get("/my/exams/CH1/"),
        client.get(f"/my/attempts/{attempt_id}/result"),  # asked early: sent back to the paper
        client.get("/"),
        call("GET", f"/api/v1/attempts/{attempt_id}"),
        call("GET", "/api/v1/exams"),
    ]
    for response in pages:
        body = response.get_data(as_text=True)
        assert SECRET not in body, response.request.path
        assert '"answer"' not in body and '"explanation"' not in body, response.request.path
    for url in ("/banks/", "/exams/CH1/keys", "/exams/CH1/paper", f"/exams/CH1/attempts/{attempt_id}"):
        assert client.get(url).status_code == 403, url  # the admin views of the same things


def test_saving_after_submission_or_the_deadline_is_refused(client, db, sitting):
    exam, user, attempt_id, call = sitting
    assert call("PUT", f"/api/v1/attempts/{attempt_id}/answers/1", {"value": 0, "seq": 1}).status_code == 200
    call("POST", f"/api/v1/attempts/{attempt_id}/submit")
    late = call("PUT", f"/api/v1/attempts/{attempt_id}/answers/1", {"value": 1, "seq": 2})
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "attempt_ended"
    assert _stored(db, attempt_id) == {(1, 1)}


def test_starting_twice_gives_the_same_attempt(client, db, sitting):
    exam, user, attempt_id, call = sitting
    again = call("POST", "/api/v1/exams/CH1/attempts", {})
    assert again.get_json()["id"] == attempt_id
    form = client.post_form("/my/exams/CH1/start", {"confirm": "1"})
    assert form.headers["Location"].endswith(f"/my/attempts/{attempt_id}")
    assert db.session.scalar(select(func.count(Attempt.id)).where(Attempt.user_id == user.id)) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"value": 0, "seq": 2**63},  # past a 64-bit column
        {"value": 0, "seq": 2**31},  # past the 32-bit column (SQLite would store it)
        {"value": 0, "seq": 0},  # an unanswered item's number
        {"value": 0, "seq": -5},
        {"value": 0, "seq": "7"},
        {"value": 0, "seq": 1.5},
        {"value": 0, "seq": True},
        {"value": 99, "seq": 1},  # an option the question does not have
        {"value": {"$ne": None}, "seq": 1},
        {"seq": 1},
        [0, 1],
    ],
)
def test_a_forged_save_is_refused_with_a_reason(client, db, sitting, body):
    exam, user, attempt_id, call = sitting
    response = call("PUT", f"/api/v1/attempts/{attempt_id}/answers/1", body)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"]["message"]
    assert _stored(db, attempt_id) == set()


def test_a_question_not_on_the_paper_cannot_be_answered(client, db, sitting):
    exam, user, attempt_id, call = sitting
    for position in (0, 4, 99, 2**40):
        response = call("PUT", f"/api/v1/attempts/{attempt_id}/answers/{position}", {"value": 0, "seq": 1})
        assert response.status_code in (400, 404), (position, response.status_code)
    assert _stored(db, attempt_id) == set()


def test_a_save_replayed_into_another_candidates_attempt_is_not_found(client, db, sitting):
    exam, user, attempt_id, call = sitting
    other_exam, other = make_open_exam(code="CH2", qtypes=("single",))
    token = create_api_token(other, "x", now_utc())
    db.session.commit()
    theirs = client.post("/api/v1/exams/CH2/attempts", json={}, headers={"Authorization": f"Bearer {token}"})
    their_id = theirs.get_json()["id"]
    # The same request the page sent for its own attempt, aimed at the other candidate's.
    response = call("PUT", f"/api/v1/attempts/{their_id}/answers/1", {"value": 0, "seq": 50})
    assert response.status_code == 404
    assert _stored(db, their_id) == set()


def test_the_browsers_clock_counts_for_nothing(client, db, sitting):
    """Whatever time the page claims, the server's own clock decides: a save sent after the deadline with an
    earlier time in it is refused, and the saved time is the server's."""
    exam, user, attempt_id, call = sitting
    early = (now_utc() - timedelta(days=1)).isoformat()
    saved = call("PUT", f"/api/v1/attempts/{attempt_id}/answers/1", {"value": 0, "seq": 1, "at": early,
                                                                    "saved_at": early})  # fmt: skip
    assert saved.status_code == 200
    assert saved.get_json()["saved_at"] > (now_utc() - timedelta(minutes=1)).isoformat()
    attempt = db.session.get(Attempt, attempt_id)
    attempt.deadline_at = now_utc() - timedelta(minutes=5)
    db.session.commit()
    late = call("PUT", f"/api/v1/attempts/{attempt_id}/answers/2", {"value": True, "seq": 1, "at": early})
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "deadline_passed"
    assert _stored(db, attempt_id) == {(1, 1)}
    left = call("GET", f"/api/v1/attempts/{attempt_id}").get_json()
    assert left["status"] != "in_progress"  # finalized by the server's clock, not the page's
