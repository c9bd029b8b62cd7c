"""Read queries over cadres and units, always limited to the viewer's scope."""

from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, false, or_, select
from sqlalchemy.orm import aliased

from accounts.models import ApiToken, Cadre, CadreStatus, Unit, User
from core.audit import AuditEvent, AuditFilter
from core.extensions import db
from core.models import LOCAL_ZONE
from core.policy import scope_filter

#: Age bands offered by the cadre list: (key, lowest age, highest age), ages inclusive.
AGE_BANDS = {
    "under35": (None, 34),
    "35to44": (35, 44),
    "45to54": (45, 54),
    "55plus": (55, None),
}


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a non-leap year
        return day.replace(year=day.year - years, day=28)


def age_condition(min_age: int | None, max_age: int | None, today: date):
    """Birth-date condition for min_age <= age <= max_age on `today` (either end open when None)."""
    conditions = []
    if min_age is not None:
        conditions.append(Cadre.birth_date <= years_before(today, min_age))
    if max_age is not None:
        conditions.append(Cadre.birth_date > years_before(today, max_age + 1))
    return conditions


def profile_conditions(rules: dict, age_on: date | None, *, units_inline: bool = False) -> list:
    """SQL conditions over Cadre/User/Unit for rules over profiles (who may sit an exam, who joins a class):
    {"unit_ids": [...] (with their sub-units), "ranks": [...], "political_statuses": [...], "max_age": N (under N
    on `age_on`)}; an empty rule means any. Only serving cadres with an active account match.

    The rule's units are read first (one query) and matched as literal prefixes, which suits a query over many
    people; `units_inline` matches them by subqueries instead, so that a question about one person is one
    statement (a unit's path holds only digits and slashes: no LIKE wildcard to escape)."""
    conditions = [User.active.is_(True), Cadre.status == CadreStatus.SERVING]
    unit_ids = rules.get("unit_ids") or []
    if unit_ids and units_inline:
        ruled = aliased(Unit)
        conditions.append(
            or_(
                *(Unit.path.startswith(select(ruled.path).where(ruled.id == uid).scalar_subquery()) for uid in unit_ids)
            )
        )
    elif unit_ids:
        paths = list(db.session.scalars(select(Unit.path).where(Unit.id.in_(unit_ids))))
        conditions.append(or_(*(Unit.path.startswith(p, autoescape=True) for p in paths)) if paths else false())
    if rules.get("ranks"):
        conditions.append(Cadre.rank.in_(rules["ranks"]))
    if rules.get("political_statuses"):
        conditions.append(Cadre.political_status.in_(rules["political_statuses"]))
    if rules.get("max_age") and age_on:
        # "Under N on the reference date": born after the day N years before it.
        conditions.append(Cadre.birth_date > years_before(age_on, int(rules["max_age"])))
    return conditions


def cadres_query(
    viewer,
    *,
    today: date,
    q: str = "",
    unit: Unit | None = None,
    rank: str = "",
    age_band: str = "",
    include_inactive: bool = False,
) -> Select:
    """Cadres the viewer may see, filtered; `unit` includes its sub-units."""
    stmt = select(Cadre).join(Cadre.user).join(Cadre.unit).where(scope_filter(viewer, Unit.path))
    if q:
        q = q.strip()  # matched literally: "%" and "_" are no wildcards
        stmt = stmt.where(or_(User.name.icontains(q, autoescape=True), User.username.icontains(q, autoescape=True),
                              Cadre.position.icontains(q, autoescape=True)))  # fmt: skip
    if unit is not None:
        stmt = stmt.where(Unit.path.startswith(unit.path, autoescape=True))
    if rank:
        stmt = stmt.where(Cadre.rank == rank)
    if age_band in AGE_BANDS:
        stmt = stmt.where(*age_condition(*AGE_BANDS[age_band], today))
    if not include_inactive:
        stmt = stmt.where(User.active.is_(True))
    return stmt.order_by(Unit.path, User.username)


def api_tokens(user) -> list[ApiToken]:
    return list(
        db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc()))
    )


def users_query(q: str = "") -> Select:
    """All accounts (for district admins), optionally matching a name or username."""
    stmt = select(User).order_by(User.username)
    q = q.strip()
    if q:
        stmt = stmt.where(or_(User.username.icontains(q, autoescape=True), User.name.icontains(q, autoescape=True)))
    return stmt


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=LOCAL_ZONE)


def audit_events(filters: AuditFilter):
    """The audit events matching `filters`, newest first, each with its actor (or None): a query of (AuditEvent,
    User). Here, not in core.audit: the log is core's, the people who act are accounts'."""
    query = select(AuditEvent, User).outerjoin(User, User.id == AuditEvent.actor_id)
    if filters.actor:
        actor = filters.actor
        query = query.where(
            or_(User.username.icontains(actor, autoescape=True), User.name.icontains(actor, autoescape=True))
        )
    if filters.action:
        action = filters.action
        query = query.where(
            or_(AuditEvent.action == action, AuditEvent.action.startswith(action + ".", autoescape=True))
        )
    if filters.target:
        query = query.where(AuditEvent.target.icontains(filters.target, autoescape=True))
    if filters.ip:
        query = query.where(AuditEvent.ip.startswith(filters.ip, autoescape=True))
    if filters.since:
        query = query.where(AuditEvent.at >= _local_midnight(filters.since))
    if filters.until:
        query = query.where(AuditEvent.at < _local_midnight(filters.until + timedelta(days=1)))
    return query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
