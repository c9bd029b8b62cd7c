"""The candidate JSON API: tokens, start/resume, saves, the deadline, submit, results, no key leaks, OpenAPI."""

import json
import re
from datetime import timedelta

import pytest
from openapi_spec_validator import validate
from sqlalchemy import func, select

from accounts.services import create_api_token
from core.models import now_utc
from core.policy import Role
from exam.models import Answer, Attempt, Exam
from tests.factories import SECRET, make_open_exam, make_user


@pytest.fixture
def setup(app, db):
    """An open exam with one question of each objective type and an essay, and a candidate with a token."""
    exam, user = make_open_exam(code="API1", qtypes=("single", "multiple", "truefalse", "fill", "essay"))
    token = create_api_token(user, "test", now_utc())
    db.session.commit()
    return exam, user, {"Authorization": f"Bearer {token}"}


def test_token_flow_start_save_submit_result(client, db, setup):
    exam, user, auth = setup
    exams = client.get("/api/v1/exams", headers=auth).get_json()
    assert [e["code"] for e in exams] == ["API1"] and exams[0]["phase"] == "open"
    paper = client.post("/api/v1/exams/API1/attempts", headers=auth, json={}).get_json()
    assert len(paper["items"]) == 5 and paper["seconds_left"] > 3500
    resumed = client.post("/api/v1/exams/API1/attempts", headers=auth, json={}).get_json()
    assert resumed["id"] == paper["id"]
    attempt_id = paper["id"]
    saved = client.put(f"/api/v1/attempts/{attempt_id}/answers/1", headers=auth, json={"value": 0, "seq": 2})
    assert saved.status_code == 200 and saved.get_json()["accepted"]
    older = client.put(f"/api/v1/attempts/{attempt_id}/answers/1", headers=auth, json={"value": 1, "seq": 1})
    assert older.get_json() == {**older.get_json(), "accepted": False, "seq": 2}
    stored = client.get(f"/api/v1/attempts/{attempt_id}", headers=auth).get_json()["answers"]["1"]
    assert (stored["value"], stored["seq"]) == (0, 2) and stored["saved_at"]
    bad = client.put(f"/api/v1/attempts/{attempt_id}/answers/1", headers=auth, json={"value": "x", "seq": 3})
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "bad_answer"
    essay = next(i["position"] for i in paper["items"] if i["type"] == "essay")
    client.put(f"/api/v1/attempts/{attempt_id}/answers/{essay}", headers=auth, json={"value": "我的论述", "seq": 1})
    done = client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=auth).get_json()
    assert done["status"] == "submitted" and done["result"]["fully_graded"] is False  # the essay waits
    assert done["result"]["score"] is None and "review" not in done["result"]  # others may still be sitting
    assert SECRET not in json.dumps(done, ensure_ascii=False)
    assert client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=auth).status_code == 200  # twice is fine
    # Once the window has closed and its grace has passed, the review policy shows keys and explanations.
    exam = db.session.get(Exam, exam.id)
    exam.closes_at = now_utc() - timedelta(seconds=31)
    db.session.commit()
    after = client.get(f"/api/v1/attempts/{attempt_id}", headers=auth).get_json()["result"]
    assert after["review"][0]["explanation"] == SECRET


def test_the_same_seq_with_another_value_is_refused_and_a_resend_is_accepted(client, db, setup):
    exam, user, auth = setup
    paper = client.post("/api/v1/exams/API1/attempts", headers=auth, json={}).get_json()
    attempt_id = paper["id"]
    kinds = {i["type"]: i["position"] for i in paper["items"]}
    first = {
        "single": (0, 1), "multiple": ([0, 2], [1, 2]), "truefalse": (True, False),
        "fill": (["甲", "丙"], ["乙", "丙"]), "essay": ("我的论述", "另一篇论述"),
    }  # fmt: skip
    kept = {}
    for qtype, position in kinds.items():
        url = f"/api/v1/attempts/{attempt_id}/answers/{position}"
        value, other = first[qtype]
        saved = client.put(url, headers=auth, json={"value": value, "seq": 5})
        assert saved.status_code == 200 and saved.get_json()["accepted"] is True, qtype
        again = client.put(url, headers=auth, json={"value": value, "seq": 5})  # a resend after a lost reply
        assert again.status_code == 200 and again.get_json() == saved.get_json(), qtype
        reused = client.put(url, headers=auth, json={"value": other, "seq": 5})
        assert reused.status_code == 409, qtype
        error = reused.get_json()["error"]
        assert error["code"] == "seq_reused" and "序号" in error["message"] and str(position) in error["message"]
        kept[qtype] = value
    if "multiple" in kinds:  # the same choice in another order is the same value: the resend is accepted
        url = f"/api/v1/attempts/{attempt_id}/answers/{kinds['multiple']}"
        assert client.put(url, headers=auth, json={"value": [2, 0], "seq": 5}).get_json()["accepted"] is True
    stored = client.get(f"/api/v1/attempts/{attempt_id}", headers=auth).get_json()["answers"]
    for qtype, position in kinds.items():
        assert (stored[str(position)]["value"], stored[str(position)]["seq"]) == (kept[qtype], 5), qtype
    # A higher number saves the other value.
    url = f"/api/v1/attempts/{attempt_id}/answers/{kinds['single']}"
    assert client.put(url, headers=auth, json={"value": 1, "seq": 6}).get_json()["accepted"] is True
    assert (
        client.get(f"/api/v1/attempts/{attempt_id}", headers=auth).get_json()["answers"][str(kinds["single"])]["value"]
        == 1
    )
    # The OpenAPI document says which.
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/api/v1/attempts/{attempt_id}/answers/{position}"]["put"]
    assert "seq_reused" in operation["description"] and "409" in operation["responses"]


def test_saves_after_the_deadline_are_refused_and_not_stored(client, db, setup):
    exam, user, auth = setup
    attempt_id = client.post("/api/v1/exams/API1/attempts", headers=auth, json={}).get_json()["id"]
    attempt = db.session.get(Attempt, attempt_id)
    attempt.deadline_at = now_utc() - timedelta(minutes=1)  # the time ran out a minute ago (grace is 30 s)
    db.session.commit()
    response = client.put(f"/api/v1/attempts/{attempt_id}/answers/1", headers=auth, json={"value": 0, "seq": 1})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "deadline_passed"
    assert "时间已到" in response.get_json()["error"]["message"]
    db.session.expire_all()
    assert db.session.scalar(select(Answer).where(Answer.attempt_id == attempt_id, Answer.seq > 0)) is None
    # The next read finalizes it, with what was saved in time.
    assert client.get(f"/api/v1/attempts/{attempt_id}", headers=auth).get_json()["status"] == "expired"


def test_no_key_material_before_submission(client, db, setup):
    exam, user, auth = setup
    attempt = client.post("/api/v1/exams/API1/attempts", headers=auth, json={}).get_json()
    client.put(f"/api/v1/attempts/{attempt['id']}/answers/4", headers=auth, json={"value": ["x", "y"], "seq": 1})
    bodies = [
        client.get("/api/v1/exams", headers=auth).get_data(as_text=True),
        client.post("/api/v1/exams/API1/attempts", headers=auth, json={}).get_data(as_text=True),
        client.get(f"/api/v1/attempts/{attempt['id']}", headers=auth).get_data(as_text=True),
        client.put(
            f"/api/v1/attempts/{attempt['id']}/answers/3", headers=auth, json={"value": True, "seq": 1}
        ).get_data(as_text=True),
    ]
    for body in bodies:
        assert SECRET not in body
        for word in ("全国代表大会", "中央委员会", "correct", "explanation", "reference", "scoring", "行文目的不同"):
            assert word not in body, (word, body[:200])
        data = json.loads(body)
        keys = json.dumps(data, ensure_ascii=False)
        assert '"answer"' not in keys and '"key"' not in keys


def test_other_peoples_attempts_are_not_found(client, db, setup):
    exam, user, auth = setup
    attempt_id = client.post("/api/v1/exams/API1/attempts", headers=auth, json={}).get_json()["id"]
    stranger = make_user()
    token = create_api_token(stranger, "x", now_utc())
    db.session.commit()
    other = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/api/v1/attempts/{attempt_id}", headers=other).status_code == 404
    assert (
        client.put(f"/api/v1/attempts/{attempt_id}/answers/1", headers=other, json={"value": 0, "seq": 9}).status_code
        == 404
    )
    assert (
        client.post("/api/v1/exams/API1/attempts", headers=other, json={}).status_code == 404
    )  # not a candidate: not told it exists


def test_bad_and_revoked_tokens(client, db, setup):
    assert client.get("/api/v1/exams", headers={"Authorization": "Bearer qe_nonsense"}).status_code == 401
    exam, user, auth = setup
    from accounts.models import ApiToken
    from accounts.services import revoke_api_token

    revoke_api_token(user, db.session.scalar(select(ApiToken.id)), now_utc())
    db.session.commit()
    assert client.get("/api/v1/exams", headers=auth).status_code == 401


def test_session_calls_need_the_csrf_header(client, auth, db, setup):
    exam, user, _bearer = setup
    auth.login(user.username)
    response = client.post("/api/v1/exams/API1/attempts", json={})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "csrf"
    response = client.post("/api/v1/exams/API1/attempts", json={}, headers={"X-CSRFToken": client.csrf_token()})
    assert response.status_code == 200


def test_openapi_document_validates_and_covers_every_route(client, app):
    document = client.get("/api/v1/openapi.json").get_json()
    validate(document)
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint == "exam_api.openapi":
            continue
        path = rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in documented, (path, method)


def test_every_api_route_needs_a_login(client, app):
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint == "exam_api.openapi":
            continue
        url = re.sub(r"<int:\w+>", "1", rule.rule).replace("<code>", "X")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = client.open(url, method=method, json={}, headers={"Authorization": "Bearer qe_wrong"})
            assert response.status_code == 401 and response.get_json()["error"]["code"] == "401", (method, url)


def test_tokens_page_makes_and_revokes(client, auth, db):
    user = auth.login_as("cadre")
    html = client.post_form("/account/tokens", {"name": "脚本"}).get_data(as_text=True)
    import re

    token = re.search(r"<code>(qe_[^<]+)</code>", html).group(1)
    assert client.get("/api/v1/exams", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    from accounts.models import ApiToken

    token_id = db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == user.id))
    client.post_form("/account/tokens", {"revoke": token_id})
    assert client.get("/api/v1/exams", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_events_are_kept_and_the_focus_loss_limit_submits(client, db, setup):
    exam, user, auth = setup
    exam = db.session.get(Exam, exam.id)
    exam.focus_loss_limit = 2
    db.session.commit()
    paper = client.post("/api/v1/exams/API1/attempts", headers=auth, json={}).get_json()
    assert paper["focus_losses"] == 0 and paper["focus_loss_limit"] == 2
    attempt_id = paper["id"]
    client.put(f"/api/v1/attempts/{attempt_id}/answers/1", headers=auth, json={"value": 0, "seq": 1})
    url = f"/api/v1/attempts/{attempt_id}/events"
    pasted = client.post(url, headers=auth, json={"kind": "paste", "detail": {"position": 5, "x": "y" * 500}})
    assert pasted.get_json() == {"status": "in_progress", "focus_losses": 0, "focus_loss_limit": 2,
                                 "fullscreen_exits": 0, "fullscreen_limit": None}  # fmt: skip
    first = client.post(url, headers=auth, json={"kind": "focus_loss"}).get_json()
    assert first["focus_losses"] == 1 and first["status"] == "in_progress"
    assert client.post(url, headers=auth, json={"kind": "focus_loss"}).get_json()["status"] == "submitted"
    assert client.get(f"/api/v1/attempts/{attempt_id}", headers=auth).get_json()["status"] == "submitted"
    from exam.models import AttemptEvent

    db.session.expire_all()
    paste = db.session.scalar(select(AttemptEvent).where(AttemptEvent.kind == "paste"))
    assert paste.detail == {"position": 5, "x": "y" * 200}  # kept short
    for bad in ({"kind": "auto_submit"}, {"kind": 3}, {}):
        response = client.post(url, headers=auth, json=bad)
        assert response.status_code == 400, bad
    kept = select(Answer.value).where(Answer.attempt_id == attempt_id, Answer.position == 1)
    assert db.session.scalar(kept) is not None


def test_access_code_through_the_api(client, db, setup, app):
    from exam import definition

    exam, user, auth = setup
    definition.set_access_code(make_user(roles=(Role.ORG_ADMIN,)), db.session.get(Exam, exam.id), "8866", now_utc())
    db.session.commit()
    assert client.get("/api/v1/exams", headers=auth).get_json()[0]["access_code_required"] is True
    wrong = client.post("/api/v1/exams/API1/attempts", headers=auth, json={"access_code": "1234"})
    assert wrong.status_code == 403 and wrong.get_json()["error"]["code"] == "bad_access_code"
    assert db.session.scalar(select(Attempt.id)) is None
    right = client.post("/api/v1/exams/API1/attempts", headers=auth, json={"access_code": "8866"})
    assert right.status_code == 200 and right.get_json()["status"] == "in_progress"


def test_wrong_access_codes_are_counted_and_throttled(client, db, setup, app):
    from exam import definition

    exam, user, auth = setup
    definition.set_access_code(make_user(roles=(Role.ORG_ADMIN,)), db.session.get(Exam, exam.id), "8866", now_utc())
    db.session.commit()
    odd = client.post("/api/v1/exams/API1/attempts", headers=auth, json={"access_code": 8866})
    assert odd.status_code == 403 and odd.get_json()["error"]["code"] == "bad_access_code"  # not a 500
    for _ in range(app.config["ACCESS_CODE_MAX_FAILURES"] - 1):
        client.post("/api/v1/exams/API1/attempts", headers=auth, json={"access_code": "0000"})
    throttled = client.post("/api/v1/exams/API1/attempts", headers=auth, json={"access_code": "8866"})
    assert throttled.status_code == 429 and throttled.get_json()["error"]["code"] == "access_code_throttled"
    from core.audit import AuditEvent

    failures = select(func.count(AuditEvent.id)).where(AuditEvent.action == "exam.bad_access_code")
    assert db.session.scalar(failures) == app.config["ACCESS_CODE_MAX_FAILURES"]
