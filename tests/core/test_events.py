"""Domain events (core.events): each is sent where its change happens, with the documented sender and keyword
arguments; the archive records results by listening, in the grading's own transaction; the result page's standing
comes from the provider reports registers."""

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from accounts import services as accounts
from core import events
from core.models import now_utc
from exam import answers, attempts, definition, grading, result_page
from exam.models import Attempt, AttemptStatus
from tests.factories import make_cadre, make_open_exam, make_unit, make_user


class Heard:
    """A receiver that keeps what it heard: (sender, keyword arguments) per send."""

    def __init__(self):
        self.calls = []

    def __call__(self, sender, **kwargs):
        self.calls.append((sender, kwargs))


def _sit(db, qtypes=("single",), release="immediate"):
    exam, user = make_open_exam(qtypes=qtypes, release=release)
    attempt = attempts.start_attempt(exam, user, now_utc())
    db.session.commit()
    return exam, user, attempt


def _records(db, attempt_id):
    from archive.models import ExamResultRecord

    return db.session.scalar(select(func.count()).where(ExamResultRecord.attempt_id == attempt_id))


def test_grading_an_ended_attempt_sends_attempt_finalized_and_the_archive_records_it(app, db):
    exam, user, attempt = _sit(db)
    heard, now = Heard(), now_utc()
    with events.attempt_finalized.connected_to(heard):
        attempts.submit(attempt, now)
    assert heard.calls == [(attempt, {"now": now})]
    assert attempt.score is not None and attempt.fully_graded
    assert _records(db, attempt.id) == 1  # archive.services.record_exam_result listened


def test_a_failing_listener_fails_the_finalization_too(app, db):
    """Listeners run in the sender's transaction: an error in one rolls back the attempt's end with the archive's
    record, so the two never disagree."""
    _exam, _user, attempt = _sit(db)

    def broken(sender, **kwargs):
        raise RuntimeError("a listener failed")

    with events.attempt_finalized.connected_to(broken), pytest.raises(RuntimeError):
        attempts.submit(attempt, now_utc())
    db.session.rollback()
    attempt = db.session.get(Attempt, attempt.id)
    assert attempt.status == AttemptStatus.IN_PROGRESS and attempt.score is None
    assert _records(db, attempt.id) == 0
    attempts.submit(attempt, now_utc())  # without the broken listener the same submit goes through
    assert attempt.status == AttemptStatus.SUBMITTED and _records(db, attempt.id) == 1


def test_releasing_results_sends_result_released(app, db):
    exam, _user, attempt = _sit(db, release="manual")
    attempts.submit(attempt, now_utc())
    exam.closes_at = now_utc() - timedelta(minutes=5)
    admin, heard, now = make_user(roles=("org_admin",)), Heard(), now_utc()
    with events.result_released.connected_to(heard):
        definition.release_results(admin, exam, now)
    assert heard.calls == [(exam, {"actor": admin, "now": now, "attempts": 1})]


def test_a_key_correction_sends_key_corrected_after_the_regrade(app, db):
    exam, _user, attempt = _sit(db)
    item = attempt.paper.items[0]
    answers.save_answer(attempt, 1, item.option_order.index(item.version.answer[0]), 1, now_utc())
    attempts.submit(attempt, now_utc())
    assert attempt.score == 2
    wrong = next(i for i in range(len(item.version.options)) if i != item.version.answer[0])
    admin, heard, finalized, now = make_user(roles=("org_admin",)), Heard(), Heard(), now_utc()
    with events.key_corrected.connected_to(heard), events.attempt_finalized.connected_to(finalized):
        grading.correct_key(admin, exam, item.version, "ABCDEFGH"[wrong], "录入错误", now)
    assert heard.calls == [(exam, {"actor": admin, "now": now, "version_id": item.version.id, "changed": 1})]
    assert finalized.calls == [(attempt, {"now": now})] and attempt.score == 0  # regraded before it was sent


def test_cadre_changes_send_cadre_changed_and_unchanged_saves_do_not(app, db):
    admin = make_cadre(user=None, roles=("system_admin", "cadre")).user
    cadre = make_cadre()
    heard, now = Heard(), now_utc()
    data = accounts.CadreData(
        employee_number=cadre.employee_number, name=cadre.name, gender=cadre.gender, birth_date=cadre.birth_date,
        unit=make_unit(), rank=cadre.rank, position=cadre.position, education=cadre.education,
        political_status=cadre.political_status, phone=cadre.phone, status=cadre.status,
    )  # fmt: skip
    with events.cadre_changed.connected_to(heard):
        accounts.update_cadre(admin, cadre, data, now)  # a new unit
        accounts.update_cadre(admin, cadre, data, now)  # the same again: no change, no event
        accounts.set_cadre_active(admin, cadre, False, now)
        accounts.set_cadre_active(admin, cadre, False, now)  # already inactive: nothing happens
        created, _password = accounts.create_cadre(
            admin, accounts.CadreData("E9001", "新干部", "female", date(1990, 1, 1), make_unit(), "staff", "科员",
                                      "bachelor", "masses"), now,
        )  # fmt: skip
    kinds = [(sender, kwargs["kind"]) for sender, kwargs in heard.calls]
    assert kinds == [(cadre, "updated"), (cadre, "deactivated"), (created, "created")]
    assert set(heard.calls[0][1]["changes"]) == {"unit"} and heard.calls[0][1]["actor"] is admin
    assert all(kwargs["now"] == now for _sender, kwargs in heard.calls)


def test_the_result_page_shows_the_standing_reports_registers(app, db):
    from reports.ranking import kept_ranks
    from reports.standing import PENDING, result_page_values

    exam, user, attempt = _sit(db)
    attempts.submit(attempt, now_utc())
    assert result_page_values in result_page._providers  # registered when reports was imported
    assert result_page.values(attempt, user, None, now_utc()) == {}  # no score to see: no standing
    # Not in the kept ranking yet: being computed (and a job asked), never a rank made up.
    assert result_page.values(attempt, user, {"fully_graded": True}, now_utc())["place"] == PENDING
    kept_ranks(exam, now_utc())
    place = result_page.values(attempt, user, {"fully_graded": True}, now_utc())["place"]
    assert place["rank"] == 1 and place["ranked"] == 1 and place["attempt_id"] == attempt.id


def test_the_architecture_page_lists_every_signal():
    """docs/architecture.md's events table names every signal of core.events, so the two cannot drift."""
    from pathlib import Path

    from blinker import NamedSignal

    page = (Path(__file__).resolve().parents[2] / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(" `") for line in page.splitlines() if line.startswith("| `")}
    signals = {name for name, value in vars(events).items() if isinstance(value, NamedSignal)}
    assert len(signals) == 5 and signals <= rows
