"""The job engine's contract (jobs/): dispatched after commit, completion recorded once with the work, failures with
their reason, retries, cancellation, the sweep that takes back the jobs of dead workers."""

import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from core.extensions import db
from core.models import now_utc
from jobs import JobError, engine, files, periodic, register, registry, runner, submit, sweep
from jobs.models import Job, JobState, StoredFile
from tests.factories import make_user

CALLS: list = []


@register("tests.count", "Counting (test)")
def _count(ctx):
    """Counts to params["n"], keeping a file; fails as params say, to test the runner."""
    CALLS.append(ctx.job.id)
    n = ctx.params.get("n", 3)
    for _i in ctx.steps(range(n)):
        if ctx.params.get("hang_at") == _i:
            engine.request_cancel(ctx.job.id)
    if ctx.params.get("fail") == "user":
        raise JobError("The exam has no questions.")
    if ctx.params.get("fail") == "crash":
        ctx.save_file("half.txt", "text/plain", b"half")  # written in the job's transaction: must not survive
        raise RuntimeError("disk on fire")
    ctx.save_file("count.txt", "text/plain", str(n).encode())
    return {"message": f"counted {n}"}


@register("tests.steady", "Steady (test)", cancellable=False)
def _steady(ctx):
    for _i in ctx.steps(range(2)):
        engine.request_cancel(ctx.job.id)
    return {}


@pytest.fixture(autouse=True)
def _calls():
    CALLS.clear()


def _job(job_id) -> Job:
    db.session.expire_all()
    return db.session.get(Job, job_id)


def test_a_job_runs_when_its_transaction_commits_with_progress_and_files(app):
    user = make_user()
    job = submit("tests.count", {"n": 5}, user=user)
    assert CALLS == []  # not before the commit
    db.session.commit()
    job = _job(job.id)
    assert job.state == JobState.DONE and [job.id] == CALLS
    assert (job.done, job.total, job.attempts) == (5, 5, 1)
    assert job.result == {"message": "counted 5"}
    stored = db.session.scalar(select(StoredFile).where(StoredFile.job_id == job.id))
    assert (stored.name, stored.data, stored.owner_id, stored.purpose) == ("count.txt", b"5", user.id, "download")


def test_a_rolled_back_request_leaves_no_job_and_dispatches_none(app, queued_jobs):
    submit("tests.count", {})
    db.session.rollback()
    assert db.session.scalar(select(func.count(Job.id))) == 0
    assert engine.run_pending() == 0 and CALLS == []


def test_a_queued_job_waits_for_a_worker_then_runs_once(app, queued_jobs):
    job = submit("tests.count", {"n": 2})
    db.session.commit()
    assert _job(job.id).state == JobState.QUEUED
    engine.dispatch(job.id)  # a duplicate delivery (the sweep's re-dispatch racing the queue)
    assert engine.run_pending() == 2
    assert [job.id] == CALLS  # the second delivery found it done: never applied twice
    assert _job(job.id).state == JobState.DONE


def test_a_reason_the_user_can_act_on_fails_the_job_at_once(app):
    job = submit("tests.count", {"fail": "user"})
    db.session.commit()
    job = _job(job.id)
    assert (job.state, job.error, job.attempts) == (JobState.FAILED, "The exam has no questions.", 1)


def test_a_crash_is_retried_with_nothing_kept_then_fails_after_the_last_try(app, queued_jobs, caplog):
    job = submit("tests.count", {"fail": "crash", "n": 1})
    db.session.commit()
    with pytest.raises(runner.Retry):
        runner.execute(job.id)
    job = _job(job.id)
    assert (job.state, job.attempts) == (JobState.RETRYING, 1)
    # The exception's own words go to the log, not to the page (they may name tables and values).
    assert job.error == runner.INTERNAL_ERROR and "disk on fire" in caplog.text
    assert db.session.scalar(select(func.count(StoredFile.id))) == 0  # the half-done work was rolled back
    with pytest.raises(runner.Retry):
        runner.execute(job.id)
    assert runner.execute(job.id) == JobState.FAILED
    job = _job(job.id)
    assert (job.state, job.attempts) == (JobState.FAILED, 3) and job.finished_at
    assert runner.execute(job.id) is None and len(CALLS) == 3


def test_huey_schedules_the_retry_with_back_off(app, queued_jobs):
    job = submit("tests.count", {"fail": "crash", "n": 1})
    db.session.commit()
    engine.run_pending()
    scheduled = queued_jobs.scheduled()
    assert len(scheduled) == 1 and scheduled[0].args == (job.id,)
    wait = (scheduled[0].eta - queued_jobs._get_timestamp()).total_seconds()
    assert engine.RETRY_DELAY - 2 < wait <= engine.RETRY_DELAY
    assert scheduled[0].retry_delay == engine.RETRY_DELAY * engine.RETRY_BACKOFF  # the next wait is longer


def test_cancelling_a_waiting_job_means_it_never_runs(app, queued_jobs):
    from jobs import cancel_job

    job = submit("tests.count", {})
    db.session.commit()
    cancel_job(job)
    db.session.commit()
    engine.run_pending()
    assert CALLS == [] and _job(job.id).state == JobState.CANCELLED


def test_cancelling_a_running_job_stops_it_and_keeps_nothing(app):
    job = submit("tests.count", {"n": 4, "hang_at": 1})  # the handler asks itself to stop half-way
    db.session.commit()
    job = _job(job.id)
    assert job.state == JobState.CANCELLED and job.finished_at
    assert db.session.scalar(select(func.count(StoredFile.id))) == 0


def test_a_job_that_may_not_stop_ignores_a_cancel(app):
    job = submit("tests.steady", {})
    db.session.commit()
    assert _job(job.id).state == JobState.DONE


def test_the_sweep_takes_back_a_job_whose_worker_died_and_runs_it_once(app, queued_jobs):
    job = submit("tests.count", {"n": 2})
    db.session.commit()
    queued_jobs.flush()  # the dispatch is lost with the worker that took it ...
    db.session.execute(
        Job.__table__.update()
        .where(Job.id == job.id)
        .values(state=JobState.RUNNING, runner="dead", attempts=1, started_at=now_utc() - timedelta(minutes=10))
    )
    engine.put_progress(job.id, 1, 2, None, time.time() - 600)  # ... and its heartbeat stopped ten minutes ago
    queued_jobs.put(f"job-progress:{job.id}", {**engine.progress_of(job.id), "at": time.time() - 600})
    db.session.commit()
    report = sweep.run()
    assert report["recovered"] == 1
    assert _job(job.id).state == JobState.RETRYING
    engine.run_pending()
    job = _job(job.id)
    assert (job.state, job.attempts, CALLS) == (JobState.DONE, 2, [job.id])


def test_a_live_job_is_left_alone_by_the_sweep(app, queued_jobs):
    job = submit("tests.count", {"n": 2})
    db.session.commit()
    db.session.execute(
        Job.__table__.update()
        .where(Job.id == job.id)
        .values(state=JobState.RUNNING, runner="alive", attempts=1, started_at=now_utc())
    )
    engine.put_progress(job.id, 1, 2, None, time.time())
    db.session.commit()
    assert sweep.run()["recovered"] == 0
    assert _job(job.id).state == JobState.RUNNING


def test_the_sweep_dispatches_a_committed_job_the_engine_never_heard_of(app, queued_jobs):
    job = submit("tests.count", {"n": 1})
    db.session.commit()
    queued_jobs.flush()  # the process died between the commit and the dispatch
    db.session.execute(
        Job.__table__.update().where(Job.id == job.id).values(created_at=now_utc() - timedelta(minutes=5))
    )
    db.session.commit()
    assert sweep.run()["redispatched"] == 1
    assert sweep.run()["redispatched"] == 0  # not again while the first dispatch is recent
    engine.run_pending()
    assert _job(job.id).state == JobState.DONE


def test_a_job_that_keeps_losing_its_worker_fails_with_a_reason(app, queued_jobs):
    job = submit("tests.count", {"n": 1})
    db.session.commit()
    db.session.execute(Job.__table__.update().where(Job.id == job.id).values(state=JobState.RETRYING, attempts=3))
    db.session.commit()
    assert runner.execute(job.id) == JobState.FAILED
    assert _job(job.id).error == runner.GAVE_UP and CALLS == []


def test_periodic_work_runs_once_per_period_and_expired_files_go(app, queued_jobs):
    ran = []
    periodic("tests.tick", every=60)(lambda now: ran.append(now))
    try:
        files.store(
            b"x",
            "old.xlsx",
            "application/octet-stream",
            purpose="download",
            owner_id=None,
            expires_in=timedelta(seconds=-1),
        )
        kept = files.store(b"y", "new.xlsx", "application/octet-stream", purpose="download", owner_id=None)
        db.session.commit()
        first = sweep.run()
        assert "tests.tick" in first["periodic"] and first["files"] == 1
        assert "tests.tick" not in sweep.run()["periodic"]
        assert len(ran) == 1
        assert db.session.scalars(select(StoredFile.token)).all() == [kept.token]
    finally:
        registry._periodic.pop("tests.tick")


def test_an_upload_is_claimed_once(app):
    user = make_user()
    stored = files.store(b"rows", "cadres.xlsx", "application/octet-stream", purpose="upload", owner_id=user.id)
    db.session.commit()
    other = make_user()
    assert files.claim(stored.token, other.id) is None  # another person's upload
    assert files.claim(stored.token, user.id).data == b"rows"
    assert files.claim(stored.token, user.id) is None  # the double click
    db.session.rollback()  # the import failed: the upload waits again
    assert files.claim(stored.token, user.id) is not None


def test_the_sweep_runs_as_one_runner_at_a_time(app, queued_jobs):
    ran = []
    periodic("tests.tock", every=60)(lambda now: ran.append(now))
    try:
        assert engine.take_lease("qualexam.sweep", engine.SWEEP_LEASE)  # another worker (another node) is sweeping
        queued_jobs.qe_sweep.call_local()
        assert ran == []
        engine.release_lease("qualexam.sweep")
        queued_jobs.qe_sweep.call_local()
        assert len(ran) == 1
    finally:
        registry._periodic.pop("tests.tock")


def test_a_queue_that_is_down_loses_no_committed_job(app, queued_jobs, monkeypatch):
    def down(job_id):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(engine, "dispatch", down)
    job = submit("tests.count", {"n": 1})
    db.session.commit()  # the request's change commits; it is not failed by the queue
    monkeypatch.undo()
    assert _job(job.id).state == JobState.QUEUED
    db.session.execute(
        Job.__table__.update().where(Job.id == job.id).values(created_at=now_utc() - timedelta(minutes=1))
    )
    db.session.commit()
    assert sweep.run()["redispatched"] == 1
    engine.run_pending()
    assert _job(job.id).state == JobState.DONE


def test_a_job_whose_starter_was_disabled_does_not_run(app):
    user = make_user()
    user.active = False
    job = submit("tests.count", {"n": 1}, user=user)
    db.session.commit()
    job = _job(job.id)
    assert (job.state, job.error, CALLS) == (JobState.FAILED, runner.STARTER_INACTIVE, [])


def test_a_long_step_keeps_beating_and_is_not_taken_for_dead(app, queued_jobs):
    """The run's own thread beats while the handler is inside one long step (no progress call)."""
    app.config["JOBS_HEARTBEAT_SECONDS"] = 0.05
    seen = []

    @register("tests.long-step", "Long step (test)")
    def _long(ctx):
        time.sleep(0.3)
        seen.append(engine.last_beat(ctx.job.id))
        return {}

    try:
        job = submit("tests.long-step", {})
        db.session.commit()
        before = time.time()
        engine.run_pending()
        assert seen[0] is not None and seen[0] > before + 0.1  # beaten during the step, after its start
        assert _job(job.id).state == JobState.DONE
    finally:
        registry._kinds.pop("tests.long-step")


def test_a_sweep_lease_held_by_a_dead_worker_expires(app, queued_jobs):
    assert engine.take_lease("tests.sweep", 60)
    assert not engine.take_lease("tests.sweep", 60)  # held
    queued_jobs.put("lease:tests.sweep", time.time() - 61)  # its holder was killed a minute ago
    assert engine.take_lease("tests.sweep", 60)
    engine.release_lease("tests.sweep")
    assert engine.take_lease("tests.sweep", 60)


def test_the_migration_encrypts_the_stored_files_and_photos_kept(old_database, tmp_path):
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    from accounts.models import CadrePhoto
    from core import crypto
    from tests.conftest import ROOT, _make_app

    migrations = str(ROOT / "migrations")
    app = _make_app(old_database, tmp_path / "instance")
    with app.app_context():
        upgrade(directory=migrations, revision="f20a26c0a001")
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO stored_files (id, token, purpose, name, mimetype, size, data, created_at, "
                              "expires_at) VALUES (5, 't5', 'download', 'a.txt', 'text/plain', 6, :data, "
                              "'2026-12-01 00:00:00', '2099-01-01 00:00:00')").bindparams(
                                  sa.bindparam("data", type_=sa.LargeBinary)), {"data": b"plain!"})  # fmt: skip
            # A file that new code wrote (encrypted) before the migration ran: kept, not encrypted twice.
            conn.execute(text("INSERT INTO stored_files (id, token, purpose, name, mimetype, size, data, created_at, "
                              "expires_at) VALUES (6, 't6', 'download', 'b.txt', 'text/plain', 6, :data, "
                              "'2026-12-01 00:00:00', '2099-01-01 00:00:00')").bindparams(
                                  sa.bindparam("data", type_=sa.LargeBinary)),
                         {"data": crypto.keyring().encrypt_bytes(b"early!")})  # fmt: skip
            conn.execute(text("INSERT INTO units (id, code, name, kind, path, sort_order, is_active) "
                              "VALUES (1, 'U', '单位', 'other', '/1/', 0, true)"))  # fmt: skip
            conn.execute(text("INSERT INTO users (id, username, name, password_hash, active, must_change_password, "
                              "created_at) VALUES (7, 'q7', '甲', 'x', true, false, "
                              "'2026-11-01 00:00:00')"))  # fmt: skip
            conn.execute(text("INSERT INTO cadres (id, user_id, unit_id, gender, birth_date, rank, position, "
                              "education, political_status, phone, status, created_at, updated_at) VALUES (3, 7, 1, "
                              "'male', '1990-01-01', 'staff', '', 'bachelor', 'masses', '', 'serving', "
                              "'2026-11-01 00:00:00', '2026-11-01 00:00:00')"))  # fmt: skip
            conn.execute(text("INSERT INTO cadre_photos (cadre_id, mimetype, data, updated_at) VALUES (3, "
                              "'image/jpeg', :data, '2026-11-01 00:00:00')").bindparams(
                                  sa.bindparam("data", type_=sa.LargeBinary)), {"data": b"\xff\xd8face"})  # fmt: skip
        upgrade(directory=migrations)
        raw = db.session.execute(text("SELECT data FROM stored_files WHERE id = 5")).scalar()
        assert bytes(raw).startswith(b"gAAAA") and db.session.get(StoredFile, 5).data == b"plain!"
        assert db.session.get(StoredFile, 6).data == b"early!"
        raw = db.session.execute(text("SELECT data FROM cadre_photos WHERE cadre_id = 3")).scalar()
        assert bytes(raw).startswith(b"gAAAA") and db.session.get(CadrePhoto, 3).data == b"\xff\xd8face"
        db.session.remove()
        downgrade(directory=migrations, revision="f20a26c0a001")
        assert bytes(db.session.execute(text("SELECT data FROM stored_files WHERE id = 5")).scalar()) == b"plain!"
        assert bytes(db.session.execute(text("SELECT data FROM cadre_photos")).scalar()) == b"\xff\xd8face"
        db.session.remove()
        db.engine.dispose()
