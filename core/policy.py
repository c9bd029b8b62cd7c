"""Every permission decision in QualExam: views and services ask here, templates only hide what this forbids.

The policy is domain-free. It needs of a user only `is_authenticated`, `role_names` (a set of Role values) and
`unit_scope_paths` (materialised paths of the units the user administers); of a target only `unit_path`, and
`account_roles` when the target is (or belongs to) an account.
"""

from enum import StrEnum
from functools import wraps

from flask import abort, has_request_context, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import false, or_, true

from core.errors import DomainError
from core.extensions import login_manager


class Role(StrEnum):
    SYSTEM_ADMIN = "system_admin"
    ORG_ADMIN = "org_admin"
    UNIT_ADMIN = "unit_admin"
    AUTHOR = "author"
    GRADER = "grader"
    PROCTOR = "proctor"
    CADRE = "cadre"


ROLE_LABELS = {
    Role.SYSTEM_ADMIN: _l("System administrator"),
    Role.ORG_ADMIN: _l("Organisation department administrator"),
    Role.UNIT_ADMIN: _l("Unit administrator"),
    Role.AUTHOR: _l("Question author"),
    Role.GRADER: _l("Grader"),
    Role.PROCTOR: _l("Proctor"),
    Role.CADRE: _l("Cadre"),
}

#: Roles whose scope is the whole district.
DISTRICT_ROLES = frozenset({Role.SYSTEM_ADMIN, Role.ORG_ADMIN})
ADMIN_ROLES = frozenset({Role.SYSTEM_ADMIN, Role.ORG_ADMIN, Role.UNIT_ADMIN})

# action -> roles that may perform it. Actions on a unit-bound target also need the target in the user's scope.
_ACTIONS: dict[str, frozenset[Role]] = {
    "admin.access": ADMIN_ROLES | {Role.AUTHOR, Role.GRADER, Role.PROCTOR},
    "cadre.view": ADMIN_ROLES,
    "cadre.manage": ADMIN_ROLES,
    "cadre.import": ADMIN_ROLES,
    "account.reset_password": ADMIN_ROLES,
    "unit.view": ADMIN_ROLES,
    "unit.manage": DISTRICT_ROLES,
    "role.assign": DISTRICT_ROLES,
    #: The audit log: read only, by the district (it names every account's actions, across units).
    "audit.view": DISTRICT_ROLES,
    "bank.view": DISTRICT_ROLES | {Role.AUTHOR, Role.GRADER},
    "bank.create": DISTRICT_ROLES | {Role.AUTHOR},
    "bank.manage": DISTRICT_ROLES | {Role.AUTHOR},
    "question.review": DISTRICT_ROLES | {Role.AUTHOR},
    "exam.manage": DISTRICT_ROLES,
    "exam.grade": DISTRICT_ROLES | {Role.GRADER},
    #: Rankings and statistics, of the candidates in the viewer's unit scope.
    "reports.view": ADMIN_ROLES,
    #: Item analysis: how each question of an exam worked, for correcting the bank (district-wide figures).
    "reports.items": DISTRICT_ROLES,
    # Learning archives: admins read the archives of their scope; they write them under the management authority
    # (a target with `managed_by_district`, a leading cadre, is written by the organisation department only).
    "archive.view": ADMIN_ROLES,
    "archive.manage": ADMIN_ROLES,
    #: The year's settings: required hours, the reading list, closing a year.
    "archive.configure": DISTRICT_ROLES,
    #: Training classes, scoped by the organising unit.
    "training.manage": ADMIN_ROLES,
    #: Practice activity of the units in scope (counts and shares, and the weakest knowledge points; no person's
    #: answers). Everyone practises their own (practice/).
    "practice.activity": ADMIN_ROLES,
    #: Every person's jobs (publishing, analyses, exports, imports) and their downloads; others see their own.
    "jobs.view_all": DISTRICT_ROLES,
    #: Accounts for other systems (the personnel system) and their scoped tokens for the admin API; the roles such
    #: an account gets are granted as any role is (`can_grant_role`).
    "system.manage": DISTRICT_ROLES,
    # The sitting (sitting/): rooms, sessions, seats, tickets and the day itself.
    #: Sessions, seats, tickets, proctors' assignments and the sitting records of every exam.
    "sitting.manage": DISTRICT_ROLES,
    #: A unit's rooms (kept and reused): the district's, and unit admins' of their own units.
    "room.manage": ADMIN_ROLES,
    #: The day: check-in, the console and its actions, incidents. Proctors only where assigned
    #: (`may_proctor`); the district everywhere.
    "sitting.proctor": DISTRICT_ROLES | {Role.PROCTOR},
    #: Decisions on incidents (no effect, a warning, a part or the whole exam voided).
    "incident.decide": DISTRICT_ROLES,
    # The score lifecycle (results/, issue 22 part 2): district admins only, and never on an exam they sat
    # (`refuse_own_results`). The approver is another person than the checker (results.lifecycle).
    #: Register an exam as official, publish its notice, and see the results in progress.
    "results.manage": DISTRICT_ROLES,
    #: Check (复核) an exam's results, or send them back to marking.
    "results.check": DISTRICT_ROLES,
    #: Approve (审批) checked results, or send them back.
    "results.approve": DISTRICT_ROLES,
    #: The working-day calendar: public holidays and adjusted working days (调休).
    "calendar.manage": DISTRICT_ROLES,
    #: Appeals (申诉): a grader reviews the items given to them (results.appeals: never one they marked or sat);
    #: the district reads them all and gives items to reviewers.
    "appeal.review": DISTRICT_ROLES | {Role.GRADER},
    # Marking at scale (issue 22, part 1: exam/marking.py). Beyond the role, who marks, arbitrates or re-marks
    # which answer is the exam's marking plan's business: `may_mark`, `may_arbitrate`, `may_review_marking`.
    #: An exam's marking plan: modes, tolerances, graders' assignments, the chief grader.
    "exam.setup_marking": DISTRICT_ROLES,
    #: Setting the final mark of an answer whose two marks disagree (where assigned as arbitrator).
    "exam.arbitrate": DISTRICT_ROLES | {Role.GRADER},
    #: Marking progress, consistency figures and samples (the district; the exam's chief grader).
    "exam.review_marking": DISTRICT_ROLES | {Role.GRADER},
}

#: Actions whose target, when given, must lie within the user's unit scope.
_SCOPED_ACTIONS = frozenset({"cadre.view", "cadre.manage", "account.reset_password", "unit.view", "archive.view",
                             "archive.manage", "training.manage", "room.manage"})  # fmt: skip
#: Scoped actions that leave the target's account alone, so its roles do not matter (a unit admin reads an author's
#: profile and keeps an author's learning archive, but cannot reset an author's password).
_ACCOUNT_NEUTRAL_ACTIONS = frozenset({"cadre.view", "archive.view", "archive.manage"})
#: Bank actions: district admins on every bank; authors on the banks of their own unit (and its sub-units);
#: graders read every bank (they mark against reference answers) and change none.
_BANK_ACTIONS = frozenset({"bank.view", "bank.create", "bank.manage", "question.review"})


#: How much an account can do; nobody but a system admin manages an account that ranks as high as their own.
#: Authors and graders rank with unit admins: a unit admin manages plain cadres only, so cannot take over the
#: account of someone who writes questions or marks answers.
_ROLE_RANK = {Role.SYSTEM_ADMIN: 3, Role.ORG_ADMIN: 2, Role.UNIT_ADMIN: 1, Role.AUTHOR: 1, Role.GRADER: 1,
              Role.PROCTOR: 1}  # fmt: skip


def _rank(roles) -> int:
    return max((_ROLE_RANK.get(r, 0) for r in roles), default=0)


def outranks(user, target_roles) -> bool:
    """May `user` manage an account holding `target_roles`? (Stops a unit admin resetting an org admin's password.)"""
    return Role.SYSTEM_ADMIN in user.role_names or _rank(user.role_names) > _rank(target_roles)


def known_actions() -> frozenset[str]:
    return frozenset(_ACTIONS)


def has_district_scope(user) -> bool:
    return bool(user.is_authenticated and user.role_names & DISTRICT_ROLES)


def in_scope(user, unit_path: str | None) -> bool:
    """True when a unit (by its materialised path) is within what the user administers."""
    if has_district_scope(user):
        return True
    if unit_path is None or Role.UNIT_ADMIN not in user.role_names:
        return False
    return any(unit_path.startswith(p) for p in user.unit_scope_paths)


def in_bank_scope(user, unit_path: str | None, write: bool) -> bool:
    if has_district_scope(user):
        return True
    if not write and Role.GRADER in user.role_names:
        return True
    own = getattr(user, "unit_path", None)
    return bool(Role.AUTHOR in user.role_names and own and unit_path and unit_path.startswith(own))


def bank_scope_filter(user, unit_path_column):
    """SQL condition: banks (by their owner unit's path) the user may see."""
    if has_district_scope(user) or Role.GRADER in user.role_names:
        return unit_path_column.isnot(None)
    own = getattr(user, "unit_path", None)
    if Role.AUTHOR in user.role_names and own:
        return unit_path_column.startswith(own, autoescape=True)
    return false()


def can(user, action: str, target=None) -> bool:
    """May `user` do `action` (on `target`, an object with `unit_path`, when given)?"""
    if action not in _ACTIONS:
        raise KeyError(f"unknown action {action!r}")
    if user is None or not user.is_authenticated:
        return False
    if not user.role_names & _ACTIONS[action]:
        return False
    if target is not None and action in _BANK_ACTIONS:
        return in_bank_scope(user, target.unit_path, write=action != "bank.view")
    if target is not None and action in _SCOPED_ACTIONS:
        if not in_scope(user, target.unit_path):
            return False
        if action == "archive.manage" and getattr(target, "managed_by_district", False):
            return has_district_scope(user)
        target_roles = getattr(target, "account_roles", None)
        if target_roles is not None and action not in _ACCOUNT_NEUTRAL_ACTIONS and not outranks(user, target_roles):
            return False
    return True


def can_read_archive(user, owner) -> bool:
    """May `user` read the learning archive of `owner` (a cadre profile)? Their own, or one in their scope."""
    if user is None or not user.is_authenticated or owner is None:
        return False
    return owner.user_id == user.id or can(user, "archive.view", owner)


def is_archive_owner(user, owner) -> bool:
    """Is `owner` (a cadre profile) the user's own? Owners add self-study records and reading notes, propose a
    plan and acknowledge their assessment; nothing else of their archive."""
    return bool(user is not None and user.is_authenticated and owner is not None and owner.user_id == user.id)


def can_grant_role(user, role: Role, target_roles=frozenset()) -> bool:
    """Only a system admin makes system admins; district admins grant every other role, to accounts they outrank
    (an organisation-department admin cannot change a peer's roles)."""
    if not can(user, "role.assign"):
        return False
    if role == Role.SYSTEM_ADMIN and Role.SYSTEM_ADMIN not in user.role_names:
        return False
    return outranks(user, target_roles)


def require(action: str, target=None, user=None) -> None:
    """Abort with 403 unless the (current) user may do `action`."""
    user = current_user if user is None else user
    if not can(user, action, target):
        abort(403)


def scope_filter(user, unit_path_column):
    """A SQL condition restricting rows to the user's unit scope (by a column holding a unit's path)."""
    if has_district_scope(user):
        return unit_path_column.isnot(None)
    if not user.is_authenticated or Role.UNIT_ADMIN not in user.role_names or not user.unit_scope_paths:
        return false()
    return or_(*(unit_path_column.startswith(p, autoescape=True) for p in user.unit_scope_paths))


def permission_required(action: str):
    """View decorator: log in first (401 → login page), then 403 unless the user may do `action`."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            require(action)
            return view(*args, **kwargs)

        return wrapped

    return decorator


# ---------------------------------------------------------------- conflicts of interest (回避)
#
# From the drawing of an exam's papers until their review is allowed, a candidate of the exam may not read, search,
# preview, export or print any question that can be on their paper, nor the exam's keys, key corrections, paper
# definition or item analysis, nor other candidates' answers and results, whatever their roles. Every bank,
# question, export, exam and report route asks `conflict` (or filters with `conflict_free`). What an exam is and
# who sits it is the exam package's business: it registers a source (exam.conflicts.conflicts_of) at import, since
# core imports no domain. A source takes the user and answers None (no conflict) or an object with `reason()`,
# `question_ids()` (a SELECT of question ids), `covers_question(id)`, `covers_bank(id)`, `covers_exam(id, grading)`,
# `covers_image(name)` and `exam_ids` (the exams they sit).

_conflict_source = None
_candidate_image = None

#: Roles that reach a bank, an exam's definition or a report; a person holding none of them (a plain cadre) reaches
#: nothing the rule guards, so their requests cost no query.
_GUARDED_ROLES = frozenset(Role) - {Role.CADRE}


def register_conflicts(source, candidate_image=None) -> None:
    """Called by the exam package: `source(user, now)` answers the user's conflicts at `now`, or None;
    `candidate_image(user, name)` whether a question image is on the paper of one of the user's attempts."""
    global _conflict_source, _candidate_image
    _conflict_source, _candidate_image = source, candidate_image


def conflicts(user, now=None):
    """The user's conflicts of interest at `now` (the source's clock when None), or None; computed once per request
    and moment (kept on the request: a test's or a command's application context outlives many requests)."""
    if _conflict_source is None or user is None or not user.is_authenticated:
        return None
    if not user.role_names & _GUARDED_ROLES:
        return None
    if not has_request_context():
        return _conflict_source(user, now)
    cache = request.__dict__.setdefault("_qe_conflicts", {})
    if (user.id, now) not in cache:
        cache[user.id, now] = _conflict_source(user, now)
    return cache[user.id, now]


def conflict(
    user, *, question_id=None, bank_id=None, exam_id=None, results_of=None, image=None, grading=False, now=None
) -> str | None:
    """Why the rule of conflicts of interest keeps the target from `user` now, or None. Targets: a question (its
    pages, versions, edits), a whole bank (its exports), an exam (everything of it but the candidate's own
    attempt: definition, sample, keys, attempts, item analysis, and any exam that can draw a question of their
    paper; `grading`: the grading pages, which a grader who sat the exam may use once it has closed), the results
    of an exam (others' attempts, rankings, statistics, slips, histories and archives: only the exam they sit) or
    a question image. `now`: the moment to judge (the request's, when None)."""
    found = conflicts(user, now)
    if found is None:
        return None
    covered = (
        (question_id is not None and found.covers_question(question_id))
        or (bank_id is not None and found.covers_bank(bank_id))
        or (exam_id is not None and found.covers_exam(exam_id, grading))
        or (results_of is not None and results_of in found.exam_ids)
        or (image is not None and found.covers_image(image))
    )
    return found.reason() if covered else None


def refuse_conflict(user=None, **target) -> None:
    """403 with the reason page when `conflict` keeps the target from the (current) user."""
    user = current_user if user is None else user
    reason = conflict(user, **target)
    if reason:
        raise DomainError(reason, code="conflict_of_interest", status=403)


def require_image(name: str, user=None) -> None:
    """A question image is shown to a candidate whose paper holds it (during the attempt and its review), and to
    those who read the banks unless it shows only in questions a conflict of interest keeps from them."""
    user = current_user if user is None else user
    if _candidate_image is not None and _candidate_image(user, name):
        return
    require("bank.view", user=user)
    refuse_conflict(user, image=name)


#: Audit events whose detail holds keys, points or scores (key corrections, regrades, manual grades).
_RESULT_AUDIT_ACTIONS = frozenset({"exam.key_corrected", "exam.regraded", "answer.graded", "answer.marked",
                                   "answer.to_arbitration", "answer.sample_marked"})  # fmt: skip


def audit_detail_hidden(user, action: str) -> bool:
    """Is the detail of an audit event of `action` kept from `user`? Keys and points are results: while the user is
    a candidate in a conflict-of-interest window, the audit page shows such events without their detail."""
    return action in _RESULT_AUDIT_ACTIONS and conflicts(user) is not None


def conflict_free(user, question_id_column):
    """SQL condition: the question (by its id column) is not kept from the user by a conflict of interest; for
    lists and searches, which leave such questions out."""
    found = conflicts(user)
    return true() if found is None else question_id_column.not_in(found.question_ids())


# ---------------------------------------------------------------- proctors' places
#
# A proctor acts only in the sessions and rooms they are assigned to; the district everywhere. Which places those are
# is the sitting package's business: it registers `places(user, session_id, room_id)` at import.

_proctor_places = None


def register_proctoring(places) -> None:
    """Called by the sitting package: `places(user, session_id, room_id)` says whether the user is assigned to the
    room of the session (room_id None: to the whole session, or to any of its rooms)."""
    global _proctor_places
    _proctor_places = places


def may_proctor(user, session_id: int, room_id: int | None = None) -> bool:
    """May `user` run the day (check-in, the console and its actions, incidents) in that session's room (or, room
    None, in the session as a whole)?"""
    if not can(user, "sitting.proctor"):
        return False
    if has_district_scope(user):
        return True
    return _proctor_places is not None and bool(_proctor_places(user, session_id, room_id))


def require_proctor(session_id: int, room_id: int | None = None, user=None) -> None:
    """Abort with 403 unless the (current) user may proctor there."""
    user = current_user if user is None else user
    if not may_proctor(user, session_id, room_id):
        abort(403)


# ---------------------------------------------------------------- the score lifecycle's own results
#
# Who sat an exam is the exam package's business; results registers `sat(user, exam_id)` at import.

_sat_exam = None


def register_candidacy(sat) -> None:
    """Called by the results package: `sat(user, exam_id)` says whether the user is a candidate of the exam."""
    global _sat_exam
    _sat_exam = sat


def refuse_own_results(user, exam_id: int) -> None:
    """403 when the user is a candidate of the exam: nobody checks, approves or publishes their own results,
    whatever roles they hold."""
    if _sat_exam is not None and user is not None and user.is_authenticated and _sat_exam(user, exam_id):
        raise DomainError(_l("You are a candidate of this exam: you take no part in deciding its results."),
                          code="own_results", status=403)  # fmt: skip


def may_see_notice(user, notice) -> bool:
    """May `user` read a published notice? Those who manage results (not of an exam they sat: they see it as its
    scope says), and its scope: "candidates" the people it lists, "units" everyone whose own unit is one of
    theirs, "district" everyone signed in. `notice` offers `scope`, `exam_id`, `audience_user_ids` and
    `audience_unit_paths`."""
    if user is None or not user.is_authenticated:
        return False
    if notice.scope == "district" or user.id in notice.audience_user_ids:
        return True
    if notice.scope == "units" and user.unit_path in notice.audience_unit_paths:
        return True
    return can(user, "results.manage") and not (_sat_exam is not None and _sat_exam(user, notice.exam_id))


# ---------------------------------------------------------------- marking at scale (issue 22, part 1)
#
# With a marking plan (exam/marking.py), an exam's written answers go to the graders assigned to their question: as
# markers (one or two marks each, blind), as arbitrators (the final mark when two marks disagree), and to the exam's
# chief grader (samples re-marked blind, consistency). Nobody marks, arbitrates or re-marks their own answer, whatever
# their roles (an admin who sat the exam included). The exam package registers `roles(user, exam_id, version_id)`,
# answering the set of "marker", "arbitrator" and "chief" the user holds there (version None: anywhere in the exam).

_marking_roles = None


def register_marking(roles) -> None:
    """Called by the exam package: `roles(user, exam_id, version_id)` -> set of "marker", "arbitrator", "chief"."""
    global _marking_roles
    _marking_roles = roles


def _marking_roles_of(user, exam_id: int, version_id: int | None) -> set:
    if _marking_roles is None or user is None or not user.is_authenticated:
        return set()
    return set(_marking_roles(user, exam_id, version_id))


def may_mark(user, exam_id: int, version_id: int, candidate_id: int | None) -> bool:
    """May `user` give a first or second mark to an answer of that question, sat by `candidate_id`? Graders (and
    district admins) assigned as markers of the question, never to their own answer."""
    if not can(user, "exam.grade") or candidate_id == user.id:
        return False
    return "marker" in _marking_roles_of(user, exam_id, version_id)


def may_arbitrate(user, exam_id: int, version_id: int, candidate_id: int | None, marker_ids=()) -> bool:
    """May `user` set the final mark of a disputed answer of that question? Its arbitrators, who neither sat it nor
    gave one of its two marks."""
    if not can(user, "exam.arbitrate") or candidate_id == user.id or user.id in set(marker_ids):
        return False
    return "arbitrator" in _marking_roles_of(user, exam_id, version_id)


def may_review_marking(user, exam_id: int) -> bool:
    """May `user` read an exam's marking progress, consistency figures and samples? District admins, and the exam's
    chief grader."""
    if not can(user, "exam.review_marking") or (_sat_exam is not None and _sat_exam(user, exam_id)):
        return False  # a candidate reads no one's marks, whatever their roles
    return has_district_scope(user) or "chief" in _marking_roles_of(user, exam_id, None)


def may_sample(user, exam_id: int, candidate_id: int | None = None, marker_ids=()) -> bool:
    """May `user` draw samples of the exam (candidate None) or re-mark one (an answer sat by `candidate_id`, marked
    by `marker_ids`)? The chief grader only, never on an answer of their own or one they marked."""
    if not can(user, "exam.review_marking") or candidate_id == user.id or user.id in set(marker_ids):
        return False
    if _sat_exam is not None and _sat_exam(user, exam_id):
        return False  # a candidate re-marks no one's answers
    return "chief" in _marking_roles_of(user, exam_id, None)


def login_required(view):
    """Like Flask-Login's, but kept here so every access rule has one home."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return view(*args, **kwargs)

    return wrapped


# ---------------------------------------------------------------- other systems' tokens (the admin API)
#
# A system account (an account for the personnel system, never a person) holds an organisation-department or a
# unit admin's role, which bounds what it reaches as it bounds a person; each of its tokens carries scopes, which
# bound it further. A request to the admin API must bring such a token (`g.token_scopes`, set by the token's
# loader), carry the operation's scope, and pass the operation's action here as any request does.

#: scope -> what it allows, as the CLI and the token page say it.
API_SCOPES: dict[str, object] = {
    "units:read": _l("Read the unit tree"),
    "units:write": _l("Create and change units"),
    "cadres:read": _l("Read cadres' profiles (ID and phone numbers masked)"),
    "cadres:write": _l("Create and change cadres' profiles"),
    "personal:read": _l("Read cadres' ID and phone numbers in full (each read audited)"),
    "exams:read": _l("Read the exams"),
    "results:read": _l("Read exam results"),
    "archives:read": _l("Read learning archives and qualifications"),
}
#: The roles a system account may hold: it administers the district or some units, and nothing else.
SYSTEM_ROLES = frozenset({Role.ORG_ADMIN, Role.UNIT_ADMIN})


def token_scopes() -> frozenset[str] | None:
    """The scopes of the system token the request brings; None without one (a session, a person's token)."""
    from flask import g

    return g.get("token_scopes") if has_request_context() else None


def scope_required(scope: str, action: str):
    """Admin API view decorator: 401 without a valid token; 403 system_token_required for a person (session or
    personal token); 403 insufficient_scope without `scope`; then the `action` (403) as for any request."""
    if scope not in API_SCOPES:
        raise KeyError(f"unknown scope {scope!r}")

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            scopes = token_scopes()
            if scopes is None:
                raise DomainError(_l("This API is for other systems: send a system account's token."),
                                  code="system_token_required", status=403)  # fmt: skip
            if scope not in scopes:
                raise DomainError(_l("This token lacks the scope %(scope)s.", scope=scope),
                                  code="insufficient_scope", status=403)  # fmt: skip
            require(action)
            return view(*args, **kwargs)

        return wrapped

    return decorator
