"""What the audit page says for an action and a target: a label for every action the code records, and targets
("user:2", "exam:GWZS2026") named by the domain that owns them, resolved in bulk (one query per kind of target)."""

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

#: Every action recorded by `audit.record(...)` in the code (tests/core/test_audit_labels.py keeps it complete).
ACTION_LABELS = {
    "admin.created": _l("System administrator created"),
    "answer.graded": _l("Answer graded"),
    "archive.assessed": _l("Annual assessment recorded"),
    "archive.closed_year_result": _l("Exam result for a closed year"),
    "archive.plan_agreed": _l("Study plan agreed"),
    "archive.year.closed": _l("Archive year closed"),
    "archive.year.hours": _l("Required study hours changed"),
    "audit.verified": _l("Audit chain verified in full"),
    "bank.created": _l("Question bank created"),
    "bank.practice_changed": _l("Bank opened or closed for practice"),
    "cadre.activated": _l("Cadre account enabled"),
    "cadre.created": _l("Cadre created"),
    "cadre.deactivated": _l("Cadre account disabled"),
    "cadre.education": _l("Education record changed"),
    "cadre.import": _l("Cadres imported"),
    "cadre.updated": _l("Cadre profile changed"),
    "cadre.photo_set": _l("Profile photo uploaded"),
    "cadre.photo_removed": _l("Profile photo removed"),
    "cadre.id_number_set": _l("ID number recorded"),
    "cadre.personal_viewed": _l("ID and phone numbers shown in full"),
    "cadre.exported": _l("Cadre roster exported"),
    "cadre.lrmx_import": _l("干部任免审批表 forms imported"),
    "exam.access_code": _l("Exam access code changed"),
    "job.cancelled": _l("Job stopped"),
    "exam.bad_access_code": _l("Wrong exam access code"),
    "exam.candidate": _l("Exam candidate changed"),
    "exam.created": _l("Exam created"),
    "exam.eligibility": _l("Exam eligibility changed"),
    "exam.imported": _l("Exam imported"),
    "exam.key_corrected": _l("Answer key corrected"),
    "exam.published": _l("Exam published"),
    # Issue 22, the frozen roster (exam.roster):
    "exam.roster_frozen": _l("Exam roster frozen at the close"),
    "exam.conflict_removed": _l("Candidate in conflict removed"),
    "exam.conflict_kept": _l("Candidate in conflict kept, with a reason"),
    "exam.conflicts_accepted": _l("Published with undecided conflicts of interest"),
    "exam.question_removed": _l("Question removed from exam"),
    "exam.questions_added": _l("Questions added to exam"),
    "exam.regraded": _l("Exam regraded"),
    "exam.released": _l("Results released"),
    "exam.rule_added": _l("Drawing rule added"),
    "exam.rule_removed": _l("Drawing rule removed"),
    "exam.section_added": _l("Exam section added"),
    "exam.section_changed": _l("Exam section changed"),
    "exam.section_removed": _l("Exam section removed"),
    "exam.settings": _l("Exam settings changed"),
    "exam.withdrawn": _l("Exam withdrawn"),
    "login.failed": _l("Sign-in failed"),
    "login.succeeded": _l("Signed in"),
    "login.throttled": _l("Sign-in throttled"),
    "password.changed": _l("Password changed"),
    "password.reset": _l("Password reset by an administrator"),
    "qualification.granted": _l("Qualification granted"),
    "qualification.revoked": _l("Qualification revoked"),
    "question.approved": _l("Question approved"),
    "question.usage_changed": _l("Question's use changed (exams, practice)"),
    "question.edited": _l("Question edited"),
    "questions.imported": _l("Questions imported"),
    "reading.book_added": _l("Required book added"),
    "reading.book_withdrawn": _l("Required book withdrawn"),
    "reading.reviewed": _l("Reading note reviewed"),
    "reading.exam_attached": _l("Written exam attached to the reading list"),
    "reading.exam_detached": _l("Written exam detached from the reading list"),
    "exam.proctoring_changed": _l("Proctoring in the browser changed"),
    "proctoring.snapshots_viewed": _l("Camera snapshots viewed"),
    "proctoring.snapshots_purged": _l("Camera snapshots deleted at the end of their retention"),
    "role.granted": _l("Role granted"),
    "role.revoked": _l("Role removed"),
    "token.created": _l("API token created"),
    "token.revoked": _l("API token revoked"),
    "token.created_api_only": _l("API-only token created for an account that must change its password"),
    "token.created_system": _l("Token with scopes created for a system account"),
    "system.account_created": _l("Account for another system created"),
    "system.account_deactivated": _l("Account for another system disabled"),
    "system.account_activated": _l("Account for another system enabled"),
    "training.attendance": _l("Training attendance recorded"),
    "training.created": _l("Training class created"),
    "training.enrolled": _l("Enrolled in training class"),
    "training.unenrolled": _l("Removed from training class"),
    "training.updated": _l("Training class changed"),
    "unit.created": _l("Unit created"),
    "unit.updated": _l("Unit changed"),
    "unit.import": _l("Units imported"),
    # The sitting's incidents (sitting.incidents)
    "incident.recorded": _l("Incident recorded"),
    # The sitting (sitting/): rooms, sessions, seats, tickets, the door
    "room.created": _l("Exam room created"),
    "room.updated": _l("Exam room changed"),
    "sitting.absences_recorded": _l("Absences recorded"),
    "sitting.checked_in": _l("Candidate checked in"),
    "sitting.checkin_undone": _l("Check-in taken back"),
    "sitting.proctor_assigned": _l("Proctor assigned"),
    "sitting.proctor_removed": _l("Proctor removed"),
    "sitting.seat_moved": _l("Seat changed by hand"),
    "sitting.seats_assigned": _l("Seats assigned automatically"),
    "sitting.session_created": _l("Session created"),
    "sitting.session_rooms": _l("Session's rooms changed"),
    "sitting.session_updated": _l("Session changed"),
    "sitting.settings_updated": _l("Sitting settings changed"),
    "sitting.tickets_released": _l("Admission tickets released"),
    "sitting.tickets_withdrawn": _l("Admission tickets withdrawn"),
    # A proctor's changes to an attempt (exam.adjustments: "attempt." + the event's kind)
    "attempt.extended": _l("Time extended"),
    "attempt.paused": _l("Clock paused"),
    "attempt.resumed": _l("Clock resumed"),
    "attempt.forced": _l("Submitted by a proctor"),
    "attempt.released": _l("Released to another computer"),
    "attempt.reopened": _l("Reopened"),
    "attempt.voided": _l("Score voided"),
    "attempt.restored": _l("Voided score restored"),
    "incident.decided": _l("Decision on an incident"),
    # The score lifecycle (results/)
    "results.registered": _l("Exam made official (results lifecycle)"),
    "results.checked": _l("Results checked"),
    "results.approved": _l("Results approved"),
    "results.notice": _l("Results in public notice"),
    "results.notice_published": _l("Results notice published"),
    "results.final": _l("Results final"),
    "results.sent_back": _l("Results sent back to marking"),
    "calendar.day_added": _l("Calendar day added"),
    "calendar.day_removed": _l("Calendar day removed"),
    "results.appeal_filed": _l("Appeal filed"),
    "results.appeal_assigned": _l("Appeal item given to a reviewer"),
    "results.appeal_decided": _l("Appeal item decided"),
    "results.correction_requested": _l("Formal correction requested"),
    "results.correction_decided": _l("Formal correction decided"),
    # Marking at scale (exam.marking)
    "answer.marked": _l("Answer marked (double marking)"),
    "answer.to_arbitration": _l("Answer sent to arbitration"),
    "answer.sample_marked": _l("Sample answer re-marked"),
    "marking.plan_set": _l("Marking plan set"),
    "marking.item_set": _l("Question's marking rule set"),
    "marking.assigned": _l("Grader assigned to a question"),
    "marking.unassigned": _l("Grader taken off a question"),
    "marking.chief_set": _l("Chief grader named"),
    "marking.samples_drawn": _l("Marking sample drawn"),
}

#: The first part of an action, for the search's "every action of …" choices.
PREFIX_LABELS = {
    "admin": _l("All administrator actions"),
    "answer": _l("All grading actions"),
    "archive": _l("All learning archive actions"),
    "audit": _l("All audit log actions"),
    "bank": _l("All question bank actions"),
    "cadre": _l("All cadre actions"),
    "exam": _l("All exam actions"),
    "login": _l("All sign-in actions"),
    "password": _l("All password actions"),
    "qualification": _l("All qualification actions"),
    "question": _l("All question actions"),
    "questions": _l("All question import actions"),
    "reading": _l("All required reading actions"),
    "role": _l("All role actions"),
    "token": _l("All API token actions"),
    "training": _l("All training class actions"),
    "unit": _l("All unit actions"),
    "incident": _l("All incident actions"),
    "room": _l("All exam room actions"),
    "sitting": _l("All sitting actions"),
    "attempt": _l("All proctor actions on attempts"),
    "results": _l("All results lifecycle actions"),
    "calendar": _l("All working-day calendar actions"),
    "marking": _l("All marking plan actions"),
    "proctoring": _l("All camera snapshot actions"),
    "system": _l("All system account actions"),
}


#: The keys of events' details, in words (a key without a label shows as itself).
DETAIL_LABELS = {
    # The .lrmx import (personnel/) and ID numbers (accounts.personal)
    "forms": lazy_pgettext("audit detail", "Forms"),
    "new_cadres": lazy_pgettext("audit detail", "New cadres"),
    "updated_cadres": lazy_pgettext("audit detail", "Cadres updated"),
    "unchanged_cadres": lazy_pgettext("audit detail", "Cadres unchanged"),
    "id_number": lazy_pgettext("audit detail", "ID number (masked)"),
    "fields": lazy_pgettext("audit detail", "Fields"),
    "personal": lazy_pgettext("audit detail", "With ID and phone numbers"),
    # System accounts and the admin API (accounts.system, integration/)
    "scopes": lazy_pgettext("audit detail", "Scopes"),
    "units": lazy_pgettext("audit detail", "Units"),
    "username": lazy_pgettext("audit detail", "Username"),
    "via": lazy_pgettext("audit detail", "Through"),
    "parent": lazy_pgettext("audit detail", "Parent unit"),
    "sort_order": lazy_pgettext("audit detail", "Position in the tree"),
    "active": _l("Active"),
    "added": lazy_pgettext("audit detail", "Added"),
    "attempts": lazy_pgettext("audit detail", "Attempts"),
    "bank": _l("Question bank"),
    "changed": lazy_pgettext("audit detail", "Changed"),
    "changes": lazy_pgettext("audit detail", "Changes"),
    "count": lazy_pgettext("audit detail", "Number"),
    "created_at": _l("Created"),
    "cycle": lazy_pgettext("audit detail", "Cycle"),
    "entry": lazy_pgettext("audit detail", "Entry"),
    "exam": lazy_pgettext("audit detail", "Exam"),
    "extra_minutes": _l("Extra time (minutes)"),
    "grade": _l("Grade"),
    "included": lazy_pgettext("eligibility", "Candidate"),
    "name": _l("Name"),
    "new": lazy_pgettext("audit detail", "New value"),
    "old": lazy_pgettext("audit detail", "Old value"),
    "papers": _l("Papers"),
    "practice_new": lazy_pgettext("audit detail", "Practice hours (new)"),
    "practice_old": lazy_pgettext("audit detail", "Practice hours (old)"),
    "points": _l("Points"),
    "position": lazy_pgettext("audit detail", "Position in the paper"),
    "qtype": _l("Question type"),
    "questions": lazy_pgettext("audit detail", "Questions"),
    "reason": _l("Reason"),
    "role": lazy_pgettext("audit detail", "Role"),
    "rule": lazy_pgettext("audit detail", "Rule"),
    "score_new": lazy_pgettext("audit detail", "New score"),
    "score_old": lazy_pgettext("audit detail", "Old score"),
    "section": _l("Section"),
    "set": lazy_pgettext("audit detail", "Set to"),
    "source": lazy_pgettext("audit detail", "Source"),
    "status": _l("Status"),
    "tag": _l("Knowledge point"),
    "title": lazy_pgettext("audit detail", "Title"),
    "token": lazy_pgettext("audit detail", "Token"),
    "unit": _l("Unit"),
    "user": lazy_pgettext("audit detail", "Person"),
    "users": lazy_pgettext("audit detail", "People"),
    "version": lazy_pgettext("audit detail", "Version"),
    "year": _l("Year"),
    # Proctoring in the browser (proctoring/)
    "candidate": lazy_pgettext("audit detail", "Candidate"),
    "page": lazy_pgettext("audit detail", "Viewed on page"),
    "retention_days": lazy_pgettext("audit detail", "Kept for (days)"),
    "watermark": lazy_pgettext("audit detail", "Watermark"),
    "fullscreen": lazy_pgettext("audit detail", "Full screen"),
    "fullscreen_grace_seconds": lazy_pgettext("audit detail", "Full-screen grace (seconds)"),
    "fullscreen_exit_limit": lazy_pgettext("audit detail", "Full-screen leaves before the submit"),
    "inactivity_minutes": lazy_pgettext("audit detail", "Inactivity warning after (minutes)"),
    "inactivity_warning_seconds": lazy_pgettext("audit detail", "Inactivity countdown (seconds)"),
    "inactivity_submit": lazy_pgettext("audit detail", "Submit at the end of inactivity"),
    "snapshots": lazy_pgettext("audit detail", "Camera snapshots"),
    "snapshot_minutes": lazy_pgettext("audit detail", "Snapshot interval (minutes)"),
    "camera_required": lazy_pgettext("audit detail", "Camera required"),
    "snapshot_retention_days": lazy_pgettext("audit detail", "Snapshots kept for (days)"),
    "networks": lazy_pgettext("audit detail", "Allowed networks"),
    # The sitting's incidents (sitting.incidents)
    "incident": lazy_pgettext("audit detail", "Incident"),
    "kind": lazy_pgettext("audit detail", "Kind"),
    "session": lazy_pgettext("audit detail", "Session"),
    "room": lazy_pgettext("audit detail", "Room"),
    "voided": lazy_pgettext("audit detail", "Attempts voided"),
    "restored": lazy_pgettext("audit detail", "Attempts restored"),
    # The sitting (sitting/) and a proctor's changes to attempts (exam.adjustments)
    "absent": lazy_pgettext("audit detail", "Absent"),
    "capacity": lazy_pgettext("audit detail", "Seats"),
    "checked_in_at": lazy_pgettext("audit detail", "Checked in at"),
    "starts_at": lazy_pgettext("audit detail", "Starts"),
    "ends_at": lazy_pgettext("audit detail", "Ends"),
    "everyone": lazy_pgettext("audit detail", "Everyone placed again"),
    "free": lazy_pgettext("audit detail", "Seats left free"),
    "placed": lazy_pgettext("audit detail", "Placed"),
    "unplaced": lazy_pgettext("audit detail", "Not placed"),
    "released_at": lazy_pgettext("audit detail", "Released at"),
    "rooms": lazy_pgettext("audit detail", "Rooms"),
    "strategy": lazy_pgettext("audit detail", "Order"),
    "ticket": lazy_pgettext("audit detail", "Ticket number"),
    "by": lazy_pgettext("audit detail", "By"),
    "minutes": lazy_pgettext("audit detail", "Minutes"),
    "old_deadline": lazy_pgettext("audit detail", "Old deadline"),
    "new_deadline": lazy_pgettext("audit detail", "New deadline"),
    "paused_seconds": lazy_pgettext("audit detail", "Seconds paused"),
    "time_left": lazy_pgettext("audit detail", "Seconds left"),
    # The score lifecycle (results/)
    "scope": lazy_pgettext("audit detail", "Notice scope"),
    "days": lazy_pgettext("audit detail", "Working days"),
    "serial": lazy_pgettext("audit detail", "Serial number"),
    "from": lazy_pgettext("audit detail", "From"),
    "to": lazy_pgettext("audit detail", "To"),
    "superseded": lazy_pgettext("audit detail", "Superseded notice"),
    # Appeals and formal corrections (results.appeals, results.corrections)
    "appeal": lazy_pgettext("audit detail", "Appeal"),
    "items": lazy_pgettext("audit detail", "Items"),
    "notice": lazy_pgettext("audit detail", "Notice"),
    "reviewer": lazy_pgettext("audit detail", "Reviewer (account id)"),
    "decision": lazy_pgettext("audit detail", "Decision"),
    "correction": lazy_pgettext("audit detail", "Correction"),
    "state": lazy_pgettext("audit detail", "State"),
    "note": lazy_pgettext("audit detail", "Note"),
    "old_score": lazy_pgettext("audit detail", "Old total"),
    "new_score": lazy_pgettext("audit detail", "New total"),
    # Marking at scale (exam.marking)
    "mode": lazy_pgettext("audit detail", "Marking mode"),
    "tolerance": lazy_pgettext("audit detail", "Tolerance"),
    "created": lazy_pgettext("audit detail", "Created"),
    "difference": lazy_pgettext("audit detail", "Difference"),
    "percent": lazy_pgettext("audit detail", "Percent"),
}


def detail_label(key: str) -> str:
    label = DETAIL_LABELS.get(key)
    return str(label) if label is not None else key


#: (action, detail key) → fn(value) → the value in words; registered by the package that records the action, for
#: values that are codes (a grade, a status) or positional records (a class's attendance changes).
_VALUE_WORDS: dict[tuple[str, str], Callable[[object], str]] = {}


def register_detail_value(action: str, key: str):
    """Decorator: `fn(value)` says the value of `key` in the detail of `action` in words."""

    def register(fn):
        _VALUE_WORDS[(action, key)] = fn
        return fn

    return register


def detail_value_words(action: str, key: str, value) -> str | None:
    """The value in words when its package says how; None leaves it to the page's generic rendering."""
    fn = _VALUE_WORDS.get((action, key))
    return fn(value) if fn is not None and value is not None else None


def action_label(action: str) -> str:
    """The action in words; an action without a label (a new one) as its code."""
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else action


def prefix_label(prefix: str) -> str:
    label = PREFIX_LABELS.get(prefix)
    return str(label) if label is not None else prefix + ".*"


@dataclass(frozen=True)
class TargetView:
    """A target as the page shows it: its name, and the page about it when there is one."""

    text: str
    url: str | None = None


#: kind → resolver(keys) → {key: TargetView}; registered by the package that owns the kind (one query per call).
_RESOLVERS: dict[str, Callable[[set[str]], dict[str, TargetView]]] = {}


def register_targets(kind: str):
    """Decorator: `fn(keys)` names the targets "kind:key" for every key given (missing things left out)."""

    def register(fn):
        _RESOLVERS[kind] = fn
        return fn

    return register


def describe_targets(targets: Iterable[str | None]) -> dict[str, TargetView]:
    """The targets that can be named, by their code; the rest (typed usernames, things gone) are left out."""
    by_kind: dict[str, set[str]] = defaultdict(set)
    for target in targets:
        if target and ":" in target:
            kind, key = target.split(":", 1)
            if kind in _RESOLVERS and key:
                by_kind[kind].add(key)
    named = {}
    for kind, keys in by_kind.items():
        for key, view in _RESOLVERS[kind](keys).items():
            named[f"{kind}:{key}"] = view
    return named


def int_keys(keys: Iterable[str]) -> set[int]:
    """The keys that are ids (a hand-typed or damaged target is not a query's problem)."""
    return {int(k) for k in keys if k.isdigit() and len(k) < 10}


@register_targets("seq")
def _positions(keys):
    return {str(n): TargetView(_("Up to event %(n)s", n=n)) for n in int_keys(keys)}


@register_targets("year")
def _years(keys):
    return {str(y): TargetView(_("Year %(year)s", year=y)) for y in int_keys(keys)}


#: What a broken link is, in the page's words (core.audit_chain.PROBLEMS has the CLI's).
CHAIN_PROBLEMS = {
    "gap": _l("events are missing before it"),
    "previous": _l("it does not link to the event before it"),
    "hash": _l("its content was changed after it was recorded"),
    "order": _l("it is out of order"),
}
