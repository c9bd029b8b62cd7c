"""What a candidate may see of an attempt, for the API and the exam pages alike: the paper as their own paper
shows it (options in their order), their answers, and (when the exam's policies allow) the result and the review.

No key, correct flag or explanation leaves here before `visibility.review_visible` says so.
"""

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import select

from core.extensions import db
from exam import scoring, visibility
from exam.answers import ItemFacts, attempt_facts
from exam.models import Answer, Attempt, AttemptStatus, Exam, PaperItem, ReviewPolicy
from question_bank.types import ANSWERED, PARTIAL, QUESTION_TYPES, UNANSWERED


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def shown(item: PaperItem | ItemFacts, value):
    """An answer as stored (version option indexes) -> as the candidate's paper shows it."""
    if value is None:
        return None
    order = list(item.option_order or [])
    qtype = item.qtype if isinstance(item, ItemFacts) else item.section.qtype
    if qtype == "single":
        return order.index(value)
    if qtype == "multiple":
        return sorted(order.index(v) for v in value)
    return value


def shown_key(item: PaperItem, corrected: dict):
    """The key (as corrected for the exam, if it was) in the candidate's option order; an essay's reference."""
    key = corrected.get(item.question_version_id, item.version.answer)
    if item.section.qtype in ("single", "multiple"):
        indexes = sorted(item.option_order.index(i) for i in key)
        return indexes[0] if item.section.qtype == "single" else indexes
    if item.section.qtype == "essay":
        return key.get("reference", "")
    return key


def paper(attempt: Attempt) -> list[dict]:
    """The items of the attempt's paper as the candidate sees them (no key material), from the attempt's kept
    facts: a start, a resume or a reload of the page reads no question (attempt_facts)."""
    facts = attempt_facts(attempt)
    return [
        {
            "position": item.position,
            "section": item.section,
            "type": item.qtype,
            "points": item.points,
            "stem": item.stem,
            "options": [item.options[i] for i in item.option_order],
            "blanks": item.blanks,
        }
        for item in facts.items.values()
    ]


def _answers(attempt: Attempt) -> dict[int, Answer]:
    return {a.position: a for a in db.session.scalars(select(Answer).where(Answer.attempt_id == attempt.id))}


def saved_answers(attempt: Attempt) -> dict[str, dict]:
    """Position -> {"value": as shown, "seq": n, "saved_at": …} of every answer saved so far (one query)."""
    items = attempt_facts(attempt).items
    rows = db.session.execute(
        select(Answer.position, Answer.value, Answer.seq, Answer.saved_at).where(
            Answer.attempt_id == attempt.id, Answer.seq > 0
        )
    )
    return {
        str(r.position): {"value": shown(items[r.position], r.value), "seq": r.seq, "saved_at": iso(r.saved_at)}
        for r in rows
    }


@dataclass(frozen=True)
class Progress:
    """How much of a paper its candidate answered, counted as the exam page counts it (QuestionType.progress): a
    fill-in question with a blank left empty is partly answered, not answered."""

    total: int
    answered: int
    partial: tuple[int, ...]  # positions, in order
    unanswered: tuple[int, ...]


def progress(attempt: Attempt) -> Progress:
    """The attempt's answers counted by question (one query; the paper comes from the kept facts)."""
    items = attempt_facts(attempt).items
    values = dict(
        db.session.execute(
            select(Answer.position, Answer.value).where(Answer.attempt_id == attempt.id, Answer.seq > 0)
        ).all()
    )
    states = {
        position: QUESTION_TYPES[item.qtype].progress(values.get(position), item.blanks)
        for position, item in sorted(items.items())
    }
    return Progress(
        total=len(states),
        answered=sum(1 for s in states.values() if s == ANSWERED),
        partial=tuple(p for p, s in states.items() if s == PARTIAL),
        unanswered=tuple(p for p, s in states.items() if s == UNANSWERED),
    )


def attempt_payload(attempt: Attempt, now: datetime) -> dict:
    """An attempt for its candidate: the paper and saved answers while it runs, the result after."""
    exam = attempt.exam
    running = attempt.status == AttemptStatus.IN_PROGRESS
    payload = {
        "id": attempt.id,
        "exam": exam.code,
        "status": attempt.status,
        "started_at": iso(attempt.started_at),
        "deadline_at": iso(attempt.deadline_at),
        "server_time": iso(now),
        "seconds_left": int(attempt.time_left(now).total_seconds()) if running else 0,
        "paused": attempt.paused_at is not None,
        "focus_losses": attempt.focus_losses,
        "focus_loss_limit": exam.focus_loss_limit,
        "result": result(attempt, now),
    }
    if running:
        payload["instructions"] = exam.instructions
        payload["items"] = paper(attempt)
        payload["answers"] = saved_answers(attempt)
    return payload


_TOTALS_KEPT = 4096  # exams per process


def exam_total(exam: Exam) -> float:
    """The exam's total points, kept per process once a candidate has started it: its paper can no longer change
    then (exam.definition refuses), so a result read needs no read of its sections and rules. Keyed by the first
    start too, so that a row that reused the id is new."""
    if exam.first_started_at is None:
        return exam.total_points
    cache = current_app.extensions.setdefault("exam_totals", {})
    key = (exam.id, exam.first_started_at)
    total = cache.get(key)
    if total is None:
        if len(cache) >= _TOTALS_KEPT:
            cache.clear()
        total = cache[key] = exam.total_points
    return total


def result(attempt: Attempt, now: datetime) -> dict | None:
    """The score when the release policy allows; keys and explanations only when the review policy does too, and
    once nobody can still be answering (visibility.review_visible)."""
    if not visibility.result_visible(attempt, now):
        return None
    exam = attempt.exam
    out = {
        "score": attempt.score,
        "total": exam_total(exam),
        "passed": attempt.passed,
        "fully_graded": attempt.fully_graded,
        "grading": attempt.awaits_grading,
        "time_used_seconds": int(((attempt.ended_at or now) - attempt.started_at).total_seconds()),
        "corrected_at": iso(attempt.regraded_at),
        # A score voided by a decision on an incident (the sitting) is kept as graded and counts for nothing.
        "voided": attempt.voided_at is not None,
        "void_reason": attempt.void_reason if attempt.voided_at is not None else None,
    }
    if out["voided"]:
        out["passed"] = False
    if exam.review_policy in (ReviewPolicy.ANSWERS, ReviewPolicy.EXPLANATIONS) and visibility.review_visible(
        attempt, now
    ):
        answers, corrected = _answers(attempt), scoring.corrected_keys(exam)
        entries = []
        for item in attempt.paper.items:
            answer = answers.get(item.position)
            entry = {
                "position": item.position,
                "your_answer": shown(item, answer.value) if answer else None,
                "points": float(answer.points) if answer and answer.points is not None else None,
                "correct_answer": shown_key(item, corrected),
            }
            if exam.review_policy == ReviewPolicy.EXPLANATIONS:
                entry["explanation"] = item.version.explanation
            if answer is not None and answer.comment:
                entry["comment"] = answer.comment
            entries.append(entry)
        out["review"] = entries
    return out
