"""Proctoring in the browser, on the server: the settings and their rules, the start's network and camera checks
(through the trusted proxy), the page's signals and their limits, the snapshots (checked, stored, rate-limited,
audited when viewed, deleted at the end of their retention), the console's alerts and the sitting record."""

import base64
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.middleware.proxy_fix import ProxyFix

from core.audit import AuditEvent
from core.errors import DomainError
from core.models import now_utc
from exam import attempts, timeline
from exam.models import Attempt, AttemptEvent, AttemptStatus
from proctoring import services, snapshots
from proctoring.models import Snapshot
from sitting import console, records
from tests.factories import make_open_exam, make_sitting, make_user
from tests.proctoring.conftest import jpeg

ADMIN_ROLES = ("system_admin",)


def _exam(db, code="PR1", **settings):
    exam, candidate = make_open_exam(code=code, qtypes=("single",))
    if settings:
        services.update_settings(exam, actor=None, now=now_utc(), **settings)
    db.session.commit()
    return exam, candidate


def _kinds(attempt) -> list[str]:
    return [e.kind for e in timeline.attempt_events(attempt)]


# ---------------------------------------------------------------- settings


def test_settings_are_checked_audited_and_locked_once_candidates_start(db):
    exam, candidate = _exam(db)
    assert services.settings_of(exam).watermark is False  # an exam without a row watches nothing more
    with pytest.raises(DomainError) as caught:
        services.update_settings(exam, actor=None, now=now_utc(), fullscreen_grace_seconds=-1,
                                 camera_required=True, networks="10.0.0.0/8 not-a-net", snapshot_minutes=0)  # fmt: skip
    assert {name for name, _m in caught.value.problems} == {
        "fullscreen_grace_seconds", "camera_required", "networks", "snapshot_minutes"}  # fmt: skip
    services.update_settings(exam, actor=None, now=now_utc(), watermark=True, networks="10.1.2.3, 192.168.0.0/16")
    db.session.commit()
    assert services.settings_of(exam).networks == "10.1.2.3/32 192.168.0.0/16"  # normalised
    changed = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "exam.proctoring_changed"))
    assert changed.detail["watermark"] == {"old": False, "new": True}
    attempts.start_attempt(exam, candidate, now_utc())
    db.session.commit()
    with pytest.raises(DomainError) as caught:
        services.update_settings(exam, actor=None, now=now_utc(), watermark=False)
    assert caught.value.problems[0][0] == "watermark"
    services.update_settings(exam, actor=None, now=now_utc(), snapshot_retention_days=30)  # may still change
    assert services.settings_of(exam).snapshot_retention_days == 30


def test_the_settings_page_saves_and_shows_errors(client, auth, db):
    exam, _candidate = _exam(db, code="PR2")
    auth.login_as("org_admin")
    url = f"/proctoring/exams/{exam.code}/settings"
    bad = client.post_form(url, {"networks": "10.0.0.300/8", "fullscreen_grace_seconds": "3",
                                 "inactivity_warning_seconds": "60", "snapshot_minutes": "5",
                                 "snapshot_retention_days": "90"})  # fmt: skip
    assert bad.status_code == 200 and "10.0.0.300/8" in bad.get_data(as_text=True)
    good = client.post_form(url, {"fullscreen": "y", "fullscreen_grace_seconds": "3", "fullscreen_exit_limit": "3",
                                  "inactivity_minutes": "10", "inactivity_warning_seconds": "60",
                                  "inactivity_submit": "y", "snapshot_minutes": "5", "snapshot_retention_days": "90",
                                  "networks": "10.0.0.0/8"})  # fmt: skip
    assert good.status_code == 302
    db.session.expire_all()
    saved = services.settings_of(exam)
    assert (saved.fullscreen, saved.fullscreen_exit_limit, saved.inactivity_minutes, saved.inactivity_submit,
            saved.networks) == (True, 3, 10, True, "10.0.0.0/8")  # fmt: skip


# ---------------------------------------------------------------- the start


def test_a_start_from_outside_the_networks_is_refused_with_the_reason(client, auth, db):
    exam, candidate = _exam(db, code="PR3", networks="10.1.2.0/24")
    auth.login(candidate.username)
    page = client.get(f"/my/exams/{exam.code}/", environ_base={"REMOTE_ADDR": "192.168.9.9"})
    text = page.get_data(as_text=True)
    assert 'id="start-refusal"' in text and "192.168.9.9" in text and 'data-rule="networks"' in text
    url = f"/my/exams/{exam.code}/start"
    outside = client.post_form(url, {"confirm": "1"}, environ_base={"REMOTE_ADDR": "192.168.9.9"})
    assert outside.status_code == 302 and "/attempts/" not in outside.headers["Location"]
    assert db.session.scalar(select(func.count()).select_from(Attempt)) == 0
    inside = client.post_form(url, {"confirm": "1"}, environ_base={"REMOTE_ADDR": "10.1.2.77"})
    assert inside.status_code == 302 and "/attempts/" in inside.headers["Location"]


@pytest.mark.fresh_app
def test_the_address_is_the_one_the_trusted_proxy_reports(app, client, auth, db):
    exam, candidate = _exam(db, code="PR4", networks="10.1.2.0/24")
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)  # what TRUSTED_PROXIES=1 sets up (app.py)
    auth.login(candidate.username)
    url = f"/my/exams/{exam.code}/start"
    proxy = {"REMOTE_ADDR": "10.1.2.1"}  # the proxy itself is inside the range: its own address must not count
    outside = client.post_form(url, {"confirm": "1"}, environ_base=proxy, headers={"X-Forwarded-For": "172.16.0.9"})
    assert "/attempts/" not in outside.headers["Location"]
    # A forged header before the proxy's own is not believed: the proxy appends the real client last.
    forged = client.post_form(url, {"confirm": "1"}, environ_base=proxy,
                              headers={"X-Forwarded-For": "10.1.2.50, 172.16.0.9"})  # fmt: skip
    assert "/attempts/" not in forged.headers["Location"]
    inside = client.post_form(url, {"confirm": "1"}, environ_base=proxy, headers={"X-Forwarded-For": "10.1.2.50"})
    assert "/attempts/" in inside.headers["Location"]


def test_the_camera_required_refuses_a_start_without_consent_or_camera(client, auth, db):
    exam, candidate = _exam(db, code="PR5", snapshots=True, camera_required=True)
    auth.login(candidate.username)
    start = client.get(f"/my/exams/{exam.code}/").get_data(as_text=True)
    assert 'data-rule="snapshots"' in start
    url = f"/my/exams/{exam.code}/start"
    for form in ({"confirm": "1"}, {"confirm": "1", "camera_consent": "1", "camera": "refused"},
                 {"confirm": "1", "camera": "granted"}):  # fmt: skip
        refused = client.post_form(url, form)
        assert "/attempts/" not in refused.headers["Location"], form
    assert db.session.scalar(select(func.count()).select_from(Attempt)) == 0
    started = client.post_form(url, {"confirm": "1", "camera_consent": "1", "camera": "granted"})
    assert "/attempts/" in started.headers["Location"]
    attempt = db.session.scalar(select(Attempt))
    assert "camera_off" not in _kinds(attempt) and services.camera_given(attempt)
    # A camera lost during the exam is no refusal: the next page load tries it again.
    timeline.record_event(attempt, "camera_off", now_utc(), {"reason": "ended"})
    assert services.camera_given(attempt)


def test_a_refused_camera_where_allowed_starts_and_is_recorded(client, auth, db):
    exam, candidate = _exam(db, code="PR6", snapshots=True)
    auth.login(candidate.username)
    started = client.post_form(f"/my/exams/{exam.code}/start", {"confirm": "1", "camera": "refused"})
    assert "/attempts/" in started.headers["Location"]
    attempt = db.session.scalar(select(Attempt))
    off = db.session.scalar(select(AttemptEvent).where(AttemptEvent.kind == "camera_off"))
    assert off.attempt_id == attempt.id and off.detail == {"reason": "refused", "start": True}
    assert not services.camera_given(attempt)
    page = client.get(started.headers["Location"]).get_data(as_text=True)
    assert '"camera": false' in page or '"camera":false' in page


# ---------------------------------------------------------------- signals


def test_full_screen_exits_count_and_submit_at_the_limit(db):
    exam, candidate = _exam(db, code="PR7", fullscreen=True, fullscreen_exit_limit=2)
    attempt = attempts.start_attempt(exam, candidate, now_utc())
    timeline.record_event(attempt, "fullscreen_exit", now_utc())
    timeline.record_event(attempt, "fullscreen_back", now_utc(), {"seconds": 7})
    assert timeline.signal_state(attempt)["fullscreen_exits"] == 1 and attempt.status == AttemptStatus.IN_PROGRESS
    timeline.record_event(attempt, "fullscreen_exit", now_utc())
    assert attempt.status == AttemptStatus.SUBMITTED
    submit = db.session.scalar(select(AttemptEvent).where(AttemptEvent.kind == "auto_submit"))
    assert submit.detail == {"reason": "fullscreen"}
    assert _kinds(attempt) == ["fullscreen_exit", "fullscreen_back", "fullscreen_exit", "auto_submit"]
    with pytest.raises(DomainError):  # not watched by this exam
        timeline.record_event(attempts.start_attempt(*_exam(db, code="PR8"), now_utc()), "inactive", now_utc())


def test_inactivity_is_recorded_and_submits_only_where_the_exam_says(db):
    exam, candidate = _exam(db, code="PR9", inactivity_minutes=5)
    attempt = attempts.start_attempt(exam, candidate, now_utc())
    timeline.record_event(attempt, "inactive", now_utc(), {"seconds": 360})
    assert attempt.status == AttemptStatus.IN_PROGRESS and _kinds(attempt) == ["inactive"]
    exam2, candidate2 = _exam(db, code="PR10", inactivity_minutes=5, inactivity_submit=True)
    attempt2 = attempts.start_attempt(exam2, candidate2, now_utc())
    timeline.record_event(attempt2, "inactive", now_utc())
    assert attempt2.status == AttemptStatus.SUBMITTED and _kinds(attempt2) == ["inactive", "auto_submit"]


def test_a_held_clock_is_never_submitted_by_a_signal(db):
    exam, candidate = _exam(db, code="PR11", inactivity_minutes=5, inactivity_submit=True)
    attempt = attempts.start_attempt(exam, candidate, now_utc())
    attempt.paused_at = now_utc()
    timeline.record_event(attempt, "inactive", now_utc())
    assert attempt.status == AttemptStatus.IN_PROGRESS


# ---------------------------------------------------------------- snapshots


def test_snapshots_are_checked_stored_and_limited(app, db, small_jpeg):
    exam, candidate = _exam(db, code="PR12", snapshots=True)
    attempt = attempts.start_attempt(exam, candidate, now_utc())
    t0 = now_utc()
    shot = snapshots.store(attempt, small_jpeg, "start", t0)
    path = snapshots.folder() / shot.path
    assert path.read_bytes() == small_jpeg and shot.size == len(small_jpeg) and len(small_jpeg) < 50_000
    event = db.session.scalar(select(AttemptEvent).where(AttemptEvent.kind == "snapshot"))
    assert event.detail == {"snapshot": shot.id, "reason": "start"}
    with pytest.raises(DomainError) as caught:
        snapshots.store(attempt, small_jpeg, "interval", t0 + timedelta(seconds=2))
    assert caught.value.code == "too_soon"
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
    for bad in (b"not an image", png, jpeg(2000, 1500, seed=1), b"\xff\xd8" + b"x" * (snapshots.MAX_BYTES + 1)):
        with pytest.raises(DomainError):
            snapshots.store(attempt, bad, "interval", t0 + timedelta(minutes=5))
    with pytest.raises(DomainError):
        snapshots.store(attempt, small_jpeg, "bogus", t0 + timedelta(minutes=5))
    attempts.submit(attempt, t0 + timedelta(minutes=6))
    with pytest.raises(DomainError) as caught:
        snapshots.store(attempt, small_jpeg, "interval", t0 + timedelta(minutes=7))
    assert caught.value.code == "ended"
    assert db.session.scalar(select(func.count()).select_from(Snapshot)) == 1
    other, cadre = _exam(db, code="PR13")  # takes none
    with pytest.raises(DomainError) as caught:
        snapshots.store(attempts.start_attempt(other, cadre, now_utc()), small_jpeg, "start", now_utc())
    assert caught.value.code == "no_snapshots"


def test_the_upload_api_takes_base64_and_data_urls(client, auth, db, small_jpeg):
    exam, candidate = _exam(db, code="PR14", snapshots=True)
    attempt = attempts.start_attempt(exam, candidate, now_utc())
    db.session.commit()
    auth.login(candidate.username)
    csrf = client.csrf_token()
    url = f"/api/v1/attempts/{attempt.id}/snapshots"
    data_url = "data:image/jpeg;base64," + base64.b64encode(small_jpeg).decode()
    made = client.post(url, json={"reason": "start", "image": data_url}, headers={"X-CSRFToken": csrf})
    assert made.status_code == 201 and made.get_json()["id"]
    for body in ({"reason": "interval", "image": "%%%"}, {"reason": "interval"}, {"image": data_url},
                 {"reason": "interval", "image": "data:image/png;base64,AAAA"}):  # fmt: skip
        refused = client.post(url, json=body, headers={"X-CSRFToken": csrf})
        assert refused.status_code == 400, body
    no_csrf = client.post(url, json={"reason": "interval", "image": data_url})
    assert no_csrf.status_code == 400


def test_viewing_snapshots_is_audited_and_links_are_personal(app, client, auth, db, small_jpeg):
    exam, candidate = _exam(db, code="PR15", snapshots=True)
    attempt = attempts.start_attempt(exam, candidate, now_utc())
    shot = snapshots.store(attempt, small_jpeg, "start", now_utc())
    other_admin = make_user(roles=ADMIN_ROLES)
    db.session.commit()
    auth.login_as("org_admin")
    page = client.get(f"/exams/{exam.code}/attempts/{attempt.id}").get_data(as_text=True)
    assert 'id="snapshots" data-count="1"' in page
    timeline_page = client.get(f"/proctoring/attempts/{attempt.id}/snapshots").get_data(as_text=True)
    viewed = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "proctoring.snapshots_viewed").order_by(AuditEvent.id)
    ).all()
    assert [v.detail["page"] for v in viewed] == ["attempt", "timeline"]
    assert viewed[0].detail["candidate"] == candidate.username and viewed[0].detail["count"] == 1
    link = timeline_page.split(f"/proctoring/snapshots/{shot.id}.jpg?t=")[1].split('"')[0].replace("&amp;", "&")
    image = client.get(f"/proctoring/snapshots/{shot.id}.jpg?t={link}")
    assert image.status_code == 200 and image.data == small_jpeg and image.headers["Cache-Control"].startswith(
        "private")  # fmt: skip
    assert client.get(f"/proctoring/snapshots/{shot.id}.jpg").status_code == 404  # no link, no image
    assert client.get(f"/proctoring/snapshots/{shot.id}.jpg?t=x{link}").status_code == 404
    auth.logout()
    auth.login(other_admin.username)  # another admin, who may see them, but not through this person's link
    assert client.get(f"/proctoring/snapshots/{shot.id}.jpg?t={link}").status_code == 404


def test_the_retention_job_deletes_snapshots_and_files(app, db, small_jpeg):
    exam, candidate = _exam(db, code="PR16", snapshots=True, snapshot_retention_days=30)
    keep, cadre = _exam(db, code="PR17", snapshots=True, snapshot_retention_days=30)
    shot = snapshots.store(attempts.start_attempt(exam, candidate, now_utc()), small_jpeg, "start", now_utc())
    kept = snapshots.store(attempts.start_attempt(keep, cadre, now_utc()), small_jpeg, "start", now_utc())
    keep.closes_at = now_utc() + timedelta(days=40)
    db.session.commit()
    path = snapshots.folder() / shot.path
    assert snapshots.purge_expired(exam.closes_at + timedelta(days=29)) == 0 and path.exists()
    assert snapshots.purge_expired(exam.closes_at + timedelta(days=31)) == 1
    db.session.commit()
    assert not path.exists() and not (snapshots.folder() / str(exam.id)).exists()
    assert db.session.scalars(select(Snapshot.id)).all() == [kept.id]
    assert (snapshots.folder() / kept.path).exists()
    purged = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "proctoring.snapshots_purged"))
    assert purged.target == f"exam:{exam.code}" and purged.detail["count"] == 1


# ---------------------------------------------------------------- the console and the sitting record


def test_the_console_alerts_and_the_record_counts_the_signals(db, small_jpeg):
    exam, candidate = _exam(db, code="PR18", fullscreen=True, inactivity_minutes=5, snapshots=True)
    session, rooms = make_sitting(exam)
    attempt = attempts.start_attempt(exam, candidate, now_utc())
    timeline.record_event(attempt, "fullscreen_exit", now_utc())
    timeline.record_event(attempt, "inactive", now_utc())
    timeline.record_event(attempt, "camera_off", now_utc(), {"reason": "ended"})
    timeline.record_event(attempt, "focus_loss", now_utc())
    snapshots.store(attempt, small_jpeg, "focus", now_utc())
    db.session.commit()
    line = next(c for c in console.candidates(exam, now_utc()) if c.user_id == candidate.id)
    assert (line.fullscreen_exits, line.inactive, line.camera_off, line.snapshots) == (1, 1, 1, 1)
    assert {"fullscreen", "inactive", "camera"} <= set(line.alerts)
    record = records.room_record(session, rooms[0])
    assert record.signals["fullscreen_exit"] == 1 and record.signals["snapshot"] == 1
    assert record.signals["focus_loss"] == 1 and record.signalled["inactive"] == 1
    assert records.room_record_pdf(session, rooms[0], now_utc()).startswith(b"%PDF")
