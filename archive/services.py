"""The exam engine's door into the learning archive: results come only through `record_exam_result`, which listens
to core.events.attempt_finalized (the engine knows nothing of the archive)."""

from datetime import datetime

from sqlalchemy import select

from archive import qualifications
from archive.models import ExamResultRecord
from archive.records import year_closed
from core import audit, events
from core.extensions import db
from core.models import local_today
from exam.review import exam_total

#: Rules a package above archive registers: `rule(exam)` answers whether the exam's results may be final now, or
#: None to leave it to the grading (results.lifecycle: an official exam's records are final only once its results
#: are; on events.results_finalized the records are written again below).
_final_rules: list = []


def register_final_rule(rule) -> None:
    if rule not in _final_rules:
        _final_rules.append(rule)


def _may_be_final(exam) -> bool:
    for rule in _final_rules:
        verdict = rule(exam)
        if verdict is not None:
            return verdict
    return True


def _plain(value):
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


@events.attempt_finalized.connect
def record_exam_result(attempt, now: datetime) -> ExamResultRecord:
    """Write (or rewrite) the archive record of an ended, graded attempt. Runs when the exam engine's grading sends
    attempt_finalized (and when exam.adjustments voids or restores a score), in the same transaction, so the
    archive and the attempt never disagree. A voided score is recorded as not passed and marked voided."""
    exam = attempt.exam
    voided = attempt.voided_at is not None  # by a decision on an incident: not passed, whatever the score
    sat_on = local_today(attempt.started_at)
    values = {
        "exam_code": exam.code, "exam_title": exam.title, "subject": exam.subject,
        "attempt_number": attempt.number, "sat_on": sat_on, "year": sat_on.year,
        "time_used_seconds": int(((attempt.ended_at or now) - attempt.started_at).total_seconds()),
        "total_points": exam_total(exam), "pass_mark": float(exam.pass_mark),
        "score": attempt.score, "passed": False if voided else attempt.passed,
        "final": attempt.fully_graded and _may_be_final(exam), "voided": voided, "updated_at": now,
    }  # fmt: skip
    record = db.session.scalar(select(ExamResultRecord).where(ExamResultRecord.attempt_id == attempt.id))
    if record is None:
        record = ExamResultRecord(attempt_id=attempt.id, user_id=attempt.user_id, exam_id=attempt.exam_id,
                                  recorded_at=now, **values)  # fmt: skip
        db.session.add(record)
    else:
        changed = {
            n: [_plain(getattr(record, n)), _plain(v)]
            for n, v in values.items()
            if n in ("score", "passed", "final", "voided") and getattr(record, n) != v
        }
        if changed and year_closed(record.year):
            # Results belong to the engine: a regrade after the year closed still reaches the archive, in the open.
            audit.record("archive.closed_year_result", target=f"attempt:{attempt.id}",
                         detail={"year": record.year, **changed}, at=now)  # fmt: skip
        for name, value in values.items():
            setattr(record, name, value)
    qualifications.refresh(attempt.user_id, exam.qualification_cycle, now)
    return record


@events.results_finalized.connect
def record_final_results(exam, now: datetime, **_kwargs) -> int:
    """An official exam's results became final: its records are written again (now final), and the qualifications
    that rest on them granted. Returns how many records were rewritten."""
    return rewrite_results(exam, now)


def rewrite_results(exam, now: datetime) -> int:
    """Write every archive record of the exam again, as the rules say now (an exam just made official: its
    records written before stop being final, and a qualification one of them granted is revoked)."""
    from exam.models import Attempt

    attempts = db.session.scalars(
        select(Attempt)
        .join(ExamResultRecord, ExamResultRecord.attempt_id == Attempt.id)
        .where(ExamResultRecord.exam_id == exam.id)
    ).all()
    for attempt in attempts:
        record_exam_result(attempt, now)
    return len(attempts)
