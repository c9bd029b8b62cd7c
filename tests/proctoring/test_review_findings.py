"""A security review of proctoring in the browser (issue 25): who may see snapshots when a seat has no room yet or
the viewer sat the exam, the page's signals a candidate could forge, the upload's bounds, the networks' address
forms, the retention's folder removal and the pages' escaping."""

import base64
import os
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from accounts.models import User
from core.errors import DomainError
from core.extensions import db as _db
from core.models import now_utc
from core.policy import Role
from exam import attempts, timeline
from exam.models import Attempt, AttemptEvent, AttemptStatus, Exam, ExamStatus
from proctoring import services, snapshots
from proctoring.models import Snapshot
from sitting import services as sitting
from sitting.models import Seat
from tests.factories import make_cadre, make_open_exam, make_sitting, make_user
from tests.proctoring.conftest import jpeg


def _exam(db, code, **settings):
    exam, candidate = make_open_exam(code=code, qtypes=("single",))
    if settings:
        services.update_settings(exam, actor=None, now=now_utc(), **settings)
    db.session.commit()
    return exam, candidate


# ---------------------------------------------------------------- who may see snapshots


def test_a_room_proctor_never_sees_a_candidate_without_a_room(client, auth, db, small_jpeg):
    """A seat of the session with no room yet (overflow, or taken out of its room) belongs to no room proctor:
    only the session's whole-session proctors and the district see its snapshots and photo (as the check-in's
    seat photo rules)."""
    exam, candidate = _exam(db, "RV1", snapshots=True)
    session, rooms = make_sitting(exam, rooms=2, capacity=10)
    seat = db.session.scalar(select(Seat).where(Seat.exam_id == exam.id, Seat.user_id == candidate.id))
    sitting.move_seat(seat, session, None, None, actor=None, reason="moved out", now=now_utc())
    here = make_user(username="roomproctor", roles=(Role.PROCTOR, Role.CADRE))
    whole = make_user(username="chiefproctor", roles=(Role.PROCTOR, Role.CADRE))
    sitting.assign_proctor(session, rooms[0], here, actor=None, now=now_utc())
    sitting.assign_proctor(session, None, whole, actor=None, now=now_utc())
    attempt = attempts.start_attempt(exam, candidate, now_utc())
    snapshots.store(attempt, small_jpeg, "start", now_utc())
    db.session.commit()
    assert seat.session_id == session.id and seat.room_id is None
    assert not snapshots.may_see_snapshots(here, attempt)
    assert snapshots.may_see_snapshots(whole, attempt)
    auth.login("roomproctor")
    assert client.get(f"/proctoring/attempts/{attempt.id}/snapshots").status_code == 404
    assert client.get(f"/proctoring/attempts/{attempt.id}/photo").status_code == 404


def test_a_manager_who_sat_the_exam_never_sees_others_snapshots_even_after_the_window(db, small_jpeg):
    """The conflict-of-interest window protects the question pool and ends with the review; the snapshots stay for
    their retention (90 days by default), and a candidate of the exam must never see another's."""
    exam, candidate = _exam(db, "RV2", snapshots=True)
    manager = make_user(username="orgcand", roles=(Role.ORG_ADMIN, Role.CADRE))
    make_cadre(unit=candidate.cadre.unit, user=manager)  # eligible by unit: a candidate of the exam
    attempt = attempts.start_attempt(exam, candidate, now_utc())
    snapshots.store(attempt, small_jpeg, "start", now_utc())
    db.session.commit()
    assert not snapshots.may_see_snapshots(manager, attempt)  # inside the window: the conflict rule
    # The exam closes and its results are released: the window ends; the snapshots are still kept.
    exam.closes_at = now_utc() - timedelta(hours=1)
    exam.status = ExamStatus.RELEASED
    db.session.commit()
    assert not snapshots.may_see_snapshots(manager, attempt)


def test_a_manager_who_left_the_units_but_has_an_attempt_never_sees_others(db, small_jpeg):
    exam, candidate = _exam(db, "RV3", snapshots=True)
    manager = make_user(username="orgcand2", roles=(Role.ORG_ADMIN, Role.CADRE))
    cadre = make_cadre(unit=candidate.cadre.unit, user=manager)
    attempts.start_attempt(exam, manager, now_utc())
    attempt = attempts.start_attempt(exam, candidate, now_utc())
    db.session.commit()
    from tests.factories import make_unit

    cadre.unit = make_unit()  # moved to another unit: no longer eligible, but they sat it
    exam.closes_at = now_utc() - timedelta(hours=1)
    exam.status = ExamStatus.RELEASED
    db.session.commit()
    assert not snapshots.may_see_snapshots(manager, attempt)


# ---------------------------------------------------------------- the page's signals


def test_a_candidate_cannot_forge_the_start_refusal_of_the_camera(client, auth, db):
    """`start` in a camera_off detail is the server's mark of a refusal at the start (record_start): a page that
    sends it would switch the camera off for good (camera_given) and mislabel the record."""
    exam, candidate = _exam(db, "RV4", snapshots=True)
    attempt = attempts.start_attempt(exam, candidate, now_utc())
    db.session.commit()
    auth.login(candidate.username)
    csrf = client.csrf_token()
    response = client.post(f"/api/v1/attempts/{attempt.id}/events",
                           json={"kind": "camera_off", "detail": {"reason": "ended", "start": True}},
                           headers={"X-CSRFToken": csrf})  # fmt: skip
    assert response.status_code in (200, 400)
    db.session.expire_all()
    assert services.camera_given(attempt)
    assert all(not (e.detail or {}).get("start") for e in timeline.attempt_events(attempt))


def test_the_seconds_out_of_full_screen_are_bounded_by_the_server(db):
    exam, candidate = _exam(db, "RV5", fullscreen=True, fullscreen_grace_seconds=3)
    attempt = attempts.start_attempt(exam, candidate, now_utc())
    t0 = now_utc()
    timeline.record_event(attempt, "fullscreen_exit", t0)
    timeline.record_event(attempt, "fullscreen_back", t0 + timedelta(seconds=10), {"seconds": 10**12})
    timeline.record_event(attempt, "fullscreen_back", t0 + timedelta(seconds=11), {"seconds": -5})
    timeline.record_event(attempt, "fullscreen_back", t0 + timedelta(seconds=12), {"seconds": "<b>x</b>"})
    backs = [e.detail for e in timeline.attempt_events(attempt) if e.kind == "fullscreen_back"]
    for detail in backs:
        assert isinstance(detail["seconds"], int) and 0 <= detail["seconds"] <= 12 + 3 + 1, detail


def test_an_ended_resume_through_the_api_records_no_camera_refusal(client, auth, db):
    """A resume of the attempt in progress (the JSON API's start, a second click) is no start: it must not add a
    camera refusal "at the start" that switches off the camera the candidate gave."""
    exam, candidate = _exam(db, "RV6", snapshots=True)
    auth.login(candidate.username)
    started = client.post_form(f"/my/exams/{exam.code}/start",
                               {"confirm": "1", "camera_consent": "1", "camera": "granted"})  # fmt: skip
    assert "/attempts/" in started.headers["Location"]
    csrf = client.csrf_token()
    resumed = client.post(f"/api/v1/exams/{exam.code}/attempts", json={}, headers={"X-CSRFToken": csrf})
    assert resumed.status_code == 200
    attempt = db.session.scalar(select(Attempt))
    assert [e.kind for e in timeline.attempt_events(attempt)].count("camera_off") == 0
    assert services.camera_given(attempt)


# ---------------------------------------------------------------- the upload


def test_snapshots_are_refused_past_the_deadline(db, small_jpeg):
    exam, candidate = _exam(db, "RV7", snapshots=True)
    attempt = attempts.start_attempt(exam, candidate, now_utc())
    late = attempt.deadline_at + attempts.grace() + timedelta(seconds=1)
    with pytest.raises(DomainError) as caught:
        snapshots.store(attempt, small_jpeg, "interval", late)
    assert caught.value.status == 409
    assert db.session.scalar(select(func.count()).select_from(Snapshot)) == 0


def test_an_attempt_has_a_budget_of_snapshot_bytes(app, db, monkeypatch):
    """One every 5 s of 200 KB is 216 MB in 90 minutes per attempt: a page (or a script) cannot fill the disk."""
    exam, candidate = _exam(db, "RV8", snapshots=True)
    attempt = attempts.start_attempt(exam, candidate, now_utc())
    big = jpeg(640, 480, quality=95, seed=3)
    assert len(big) > 50_000
    monkeypatch.setattr(snapshots, "MAX_ATTEMPT_BYTES", len(big) * 3)
    t0 = now_utc()
    for i in range(3):
        snapshots.store(attempt, big, "interval", t0 + timedelta(seconds=10 * i))
    with pytest.raises(DomainError) as caught:
        snapshots.store(attempt, big, "interval", t0 + timedelta(seconds=40))
    assert caught.value.code == "snapshots_full" and caught.value.status == 409
    assert snapshots.MAX_ATTEMPT_BYTES  # the real budget exists


def test_the_upload_needs_the_csrf_header_with_a_session_cookie(client, auth, db, small_jpeg):
    exam, candidate = _exam(db, "RV9", snapshots=True)
    attempt = attempts.start_attempt(exam, candidate, now_utc())
    db.session.commit()
    auth.login(candidate.username)
    image = base64.b64encode(small_jpeg).decode()
    url = f"/api/v1/attempts/{attempt.id}/snapshots"
    assert client.post(url, json={"reason": "start", "image": image}).status_code == 400
    form = client.post(url, data={"reason": "start", "image": image})  # a cross-site form post
    assert form.status_code in (400, 415)
    assert db.session.scalar(select(func.count()).select_from(Snapshot)) == 0


def test_another_persons_attempt_is_a_404(client, auth, db, small_jpeg):
    exam, candidate = _exam(db, "RV10", snapshots=True)
    attempt = attempts.start_attempt(exam, candidate, now_utc())
    other = make_cadre(unit=candidate.cadre.unit).user
    db.session.commit()
    auth.login(other.username)
    csrf = client.csrf_token()
    image = base64.b64encode(small_jpeg).decode()
    for url in (f"/api/v1/attempts/{attempt.id}/snapshots", f"/api/v1/attempts/{attempt.id}/events"):
        body = {"reason": "start", "image": image} if url.endswith("snapshots") else {"kind": "camera_off"}
        assert client.post(url, json=body, headers={"X-CSRFToken": csrf}).status_code == 404
    assert db.session.scalar(select(func.count()).select_from(AttemptEvent)) == 0


# ---------------------------------------------------------------- networks


@pytest.mark.parametrize(
    ("remote", "allowed"),
    [("10.1.2.3", True), ("::ffff:10.1.2.3", True), ("::ffff:10.9.9.9", False), ("", False), ("garbage", False),
     ("2001:db8::1", False)],
)  # fmt: skip
def test_an_ipv4_mapped_address_is_its_ipv4_address(client, auth, db, remote, allowed):
    """A dual-stack server (gunicorn on [::]) reports an IPv4 client as ::ffff:a.b.c.d: it is the same address."""
    exam, candidate = _exam(db, "RV11", networks="10.1.2.0/24")
    auth.login(candidate.username)
    started = client.post_form(f"/my/exams/{exam.code}/start", {"confirm": "1"}, environ_base={"REMOTE_ADDR": remote})
    assert ("/attempts/" in started.headers["Location"]) is allowed


def test_the_json_api_start_checks_the_networks_and_the_camera(client, auth, db):
    exam, candidate = _exam(db, "RV12", networks="10.1.2.0/24", snapshots=True, camera_required=True)
    auth.login(candidate.username)
    csrf = client.csrf_token()
    url = f"/api/v1/exams/{exam.code}/attempts"
    outside = client.post(url, json={}, headers={"X-CSRFToken": csrf}, environ_base={"REMOTE_ADDR": "8.8.8.8"})
    assert outside.status_code == 403 and outside.get_json()["error"]["code"] == "wrong_network"
    inside = client.post(url, json={}, headers={"X-CSRFToken": csrf}, environ_base={"REMOTE_ADDR": "10.1.2.9"})
    assert inside.status_code == 409 and inside.get_json()["error"]["code"] == "camera_consent"
    assert db.session.scalar(select(func.count()).select_from(Attempt)) == 0


# ---------------------------------------------------------------- the retention


def test_the_retention_never_follows_a_symlink_out_of_the_exam_folder(app, db, small_jpeg, tmp_path):
    exam, candidate = _exam(db, "RV13", snapshots=True, snapshot_retention_days=1)
    other, cadre = _exam(db, "RV14", snapshots=True, snapshot_retention_days=1)
    shot = snapshots.store(attempts.start_attempt(exam, candidate, now_utc()), small_jpeg, "start", now_utc())
    other.closes_at = now_utc() + timedelta(days=40)
    db.session.commit()
    shot_path = snapshots.folder() / shot.path
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me")
    exam_folder = snapshots.folder() / str(exam.id)
    os.symlink(outside, exam_folder / "link")  # put there by hand (an operator's, a restore's)
    (exam_folder / "stray.part").write_bytes(b"orphan")  # a failed write's leftover
    assert snapshots.purge_expired(exam.closes_at + timedelta(days=2)) == 1
    db.session.commit()
    assert (outside / "precious.txt").read_text() == "keep me"
    assert not exam_folder.exists() and not exam_folder.is_symlink() and not shot_path.exists()


def test_one_exams_failed_removal_does_not_stop_the_others(app, db, small_jpeg, monkeypatch):
    first, c1 = _exam(db, "RV15", snapshots=True, snapshot_retention_days=1)
    second, c2 = _exam(db, "RV16", snapshots=True, snapshot_retention_days=1)
    snapshots.store(attempts.start_attempt(first, c1, now_utc()), small_jpeg, "start", now_utc())
    kept = snapshots.store(attempts.start_attempt(second, c2, now_utc()), small_jpeg, "start", now_utc())
    db.session.commit()
    kept_path = snapshots.folder() / kept.path
    real = snapshots._remove_tree

    def failing(path):
        if path.name == str(first.id):
            raise PermissionError("read-only")
        real(path)

    monkeypatch.setattr(snapshots, "_remove_tree", failing)
    later = max(first.closes_at, second.closes_at) + timedelta(days=2)
    assert snapshots.purge_expired(later) == 2
    db.session.commit()
    assert not kept_path.exists()
    assert db.session.scalar(select(func.count()).select_from(Snapshot)) == 0


# ---------------------------------------------------------------- escaping


def test_names_and_networks_are_escaped(client, auth, db, small_jpeg):
    exam, candidate = _exam(db, "RV17", snapshots=True, watermark=True)
    candidate.name = '<img src=x onerror=alert(1)>"</script>'
    attempt = attempts.start_attempt(exam, candidate, now_utc())
    snapshots.store(attempt, small_jpeg, "start", now_utc())
    timeline.record_event(attempt, "camera_off", now_utc(), {"reason": "<script>alert(2)</script>"})
    db.session.commit()
    auth.login(candidate.username)
    page = client.get(f"/my/attempts/{attempt.id}").get_data(as_text=True)
    assert "<img src=x" not in page and '</script>"' not in page
    auth.logout()
    auth.login_as("org_admin")
    for url in (f"/proctoring/attempts/{attempt.id}/snapshots", f"/exams/{exam.code}/attempts/{attempt.id}"):
        text = client.get(url).get_data(as_text=True)
        assert "<img src=x" not in text and "<script>alert(2)" not in text, url
    settings = client.post_form(f"/proctoring/exams/{exam.code}/settings",
                                {"networks": "<script>alert(3)</script>", "fullscreen_grace_seconds": "3",
                                 "inactivity_warning_seconds": "60", "snapshot_minutes": "5",
                                 "snapshot_retention_days": "90"})  # fmt: skip
    assert settings.status_code == 200 and "<script>alert(3)" not in settings.get_data(as_text=True)


def test_a_candidate_gets_no_snapshot_back_from_any_of_their_pages(client, auth, db, small_jpeg):
    exam, candidate = _exam(db, "RV18", snapshots=True)
    attempt = attempts.start_attempt(exam, candidate, now_utc())
    shot = snapshots.store(attempt, small_jpeg, "start", now_utc())
    db.session.commit()
    auth.login(candidate.username)
    texts = [client.get(f"/my/attempts/{attempt.id}").get_data(as_text=True),
             client.get(f"/api/v1/attempts/{attempt.id}").get_data(as_text=True)]  # fmt: skip
    attempts.submit(attempt, now_utc())
    db.session.commit()
    texts.append(client.get(f"/my/attempts/{attempt.id}/result").get_data(as_text=True))
    texts.append(client.get(f"/api/v1/attempts/{attempt.id}").get_data(as_text=True))
    for text in texts:
        assert shot.path not in text and "/proctoring/snapshots/" not in text
    assert client.get(f"/proctoring/attempts/{attempt.id}/snapshots").status_code == 404
    assert client.get(f"/proctoring/attempts/{attempt.id}/photo").status_code == 404
    user = _db.session.scalar(select(User).where(User.username == candidate.username))
    assert not snapshots.may_see_snapshots(user, attempt)
    assert attempt.status == AttemptStatus.SUBMITTED and db.session.get(Exam, exam.id)


def test_the_rooms_network_check_reads_addresses_the_same_way():
    """sitting.checkin's start check (a room's networks) shares the helper: a mapped address is its IPv4 one."""
    nets = sitting.parse_networks("10.1.2.0/24 2001:db8::/32")
    assert sitting.address_in("::ffff:10.1.2.3", nets) and sitting.address_in("10.1.2.3", nets)
    assert sitting.address_in("2001:db8::5", nets)
    for raw in ("::ffff:10.1.3.1", "", None, "x", "10.1.2.3/24"):
        assert not sitting.address_in(raw, nets), raw
