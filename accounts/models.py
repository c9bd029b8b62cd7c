"""Users and their roles, login sessions and attempts, the unit tree and cadre profiles."""

from datetime import date, datetime
from enum import StrEnum

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from core.crypto import EncryptedBlob, EncryptedText
from core.extensions import db
from core.models import UTCDateTime, enum_check, now_utc
from core.policy import Role


class Gender(StrEnum):
    MALE = "male"
    FEMALE = "female"


class Rank(StrEnum):
    """Cadre ranks of a district, highest first."""

    SECTION_CHIEF = "section_chief"
    DEPUTY_SECTION_CHIEF = "deputy_section_chief"
    STOCK_LEVEL = "stock_level"
    STAFF = "staff"


#: Leading cadres (领导干部) of a district: their archives are kept by the organisation department.
LEADING_RANKS = (Rank.SECTION_CHIEF, Rank.DEPUTY_SECTION_CHIEF)


class Education(StrEnum):
    DOCTORATE = "doctorate"
    MASTER = "master"
    BACHELOR = "bachelor"
    COLLEGE = "college"
    SECONDARY = "secondary"


#: Levels of education from the lowest up (a profile keeps the highest).
EDUCATION_ORDER = (Education.SECONDARY, Education.COLLEGE, Education.BACHELOR, Education.MASTER, Education.DOCTORATE)


class PoliticalStatus(StrEnum):
    CPC_MEMBER = "cpc_member"
    CPC_PROBATIONARY = "cpc_probationary"
    CYL_MEMBER = "cyl_member"
    DEMOCRATIC_PARTY = "democratic_party"
    MASSES = "masses"


class CadreStatus(StrEnum):
    SERVING = "serving"
    RETIRED = "retired"
    TRANSFERRED = "transferred"


class UnitKind(StrEnum):
    PARTY_COMMITTEE = "party_committee"
    DEPARTMENT = "department"
    TOWN = "town"
    STREET = "street"
    OTHER = "other"


LABELS = {
    Gender.MALE: _l("Male"),
    Gender.FEMALE: _l("Female"),
    Rank.SECTION_CHIEF: _l("Section chief"),
    Rank.DEPUTY_SECTION_CHIEF: _l("Deputy section chief"),
    Rank.STOCK_LEVEL: _l("Stock-level"),
    Rank.STAFF: _l("Staff member"),
    Education.DOCTORATE: _l("Doctorate"),
    Education.MASTER: _l("Master's degree"),
    Education.BACHELOR: _l("Bachelor's degree"),
    Education.COLLEGE: _l("Junior college"),
    Education.SECONDARY: _l("Secondary school or below"),
    PoliticalStatus.CPC_MEMBER: _l("CPC member"),
    PoliticalStatus.CPC_PROBATIONARY: _l("CPC probationary member"),
    PoliticalStatus.CYL_MEMBER: _l("Communist Youth League member"),
    PoliticalStatus.DEMOCRATIC_PARTY: _l("Democratic party member"),
    PoliticalStatus.MASSES: _l("No party affiliation"),
    CadreStatus.SERVING: _l("Serving"),
    CadreStatus.RETIRED: _l("Retired"),
    CadreStatus.TRANSFERRED: _l("Transferred out"),
    UnitKind.PARTY_COMMITTEE: _l("Party committee organ"),
    UnitKind.DEPARTMENT: _l("District department"),
    UnitKind.TOWN: _l("Town"),
    UnitKind.STREET: _l("Sub-district"),
    UnitKind.OTHER: _l("Other"),
}


def label(value) -> str:
    """The translated label of an enum value (or the value itself when it has none)."""
    return str(LABELS.get(value, value or ""))


class Unit(db.Model):
    """A node of the organisation tree; `path` ("/1/4/9/") makes subtree queries one indexed prefix match."""

    __tablename__ = "units"
    __table_args__ = (enum_check("kind", UnitKind, "kind_valid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32), default=UnitKind.OTHER)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), index=True)
    #: Materialised path of ids from the root, e.g. "/1/4/"; a unit's subtree is every path starting with it.
    path: Mapped[str] = mapped_column(String(255), index=True, default="")
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    parent: Mapped["Unit | None"] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list["Unit"]] = relationship(back_populates="parent", order_by="Unit.sort_order, Unit.id")

    @property
    def depth(self) -> int:
        return self.path.count("/") - 2

    @property
    def unit_path(self) -> str:
        return self.path

    def __repr__(self) -> str:
        return f"<Unit {self.code} {self.name}>"


class User(UserMixin, db.Model):
    """An account. The username is the employee number (工号), unique whatever its letter case."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    #: Set for imported and reset accounts: the user must choose a password before anything else.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The chosen interface language; null means the default (Simplified Chinese).
    locale: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: An account for another system (the personnel system): it never logs in on the web, has no password anyone
    #: knows and no cadre profile; its roles (organisation-department or unit admin) bound what its scoped tokens
    #: may reach, and its tokens' scopes bound it further (`flask accounts system-token`).
    system: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    roles: Mapped[list["RoleAssignment"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )
    cadre: Mapped["Cadre | None"] = relationship(back_populates="user", uselist=False)

    #: The login session this object was loaded for (set by the user loader); Flask-Login stores it as the id.
    session_key = None

    def set_password(self, password: str, *, one_time: bool = False) -> None:
        """Hash and keep `password`; `one_time`: a random password QualExam drew (config.ONE_TIME_PASSWORD_HASH_METHOD),
        which the person must change at the first login."""
        key = "ONE_TIME_PASSWORD_HASH_METHOD" if one_time else "PASSWORD_HASH_METHOD"
        method = current_app.config[key] if has_app_context() else "scrypt"
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str | None:
        return self.session_key

    @property
    def role_names(self) -> frozenset[Role]:
        return frozenset(Role(r.role) for r in self.roles)

    @property
    def account_roles(self) -> frozenset[Role]:
        return self.role_names

    @property
    def unit_scope_paths(self) -> tuple[str, ...]:
        return tuple(r.unit.path for r in self.roles if r.role == Role.UNIT_ADMIN and r.unit is not None)

    @property
    def unit_path(self) -> str | None:
        """The user's own unit (as a cadre), so a user can be the target of scoped actions."""
        return self.cadre.unit.path if self.cadre else None

    def __repr__(self) -> str:
        return f"<User {self.username}>"


# Usernames are compared without letter case (login, duplicates); the database makes that a guarantee.
Index("uq_users_username_lower", func.lower(User.username), unique=True)


class RoleAssignment(db.Model):
    """One role held by a user; a unit admin's assignment names the unit whose subtree they administer."""

    __tablename__ = "role_assignments"
    __table_args__ = (
        UniqueConstraint("user_id", "role", "unit_id", name="uq_role_assignments_user_role_unit"),
        enum_check("role", Role, "role_valid"),
        CheckConstraint("(role = 'unit_admin') = (unit_id IS NOT NULL)", name="unit_iff_unit_admin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))

    user: Mapped[User] = relationship(back_populates="roles")
    unit: Mapped[Unit | None] = relationship(lazy="joined")


class Cadre(db.Model):
    """A cadre's profile (干部信息), one per user account that belongs to a cadre."""

    __tablename__ = "cadres"
    __table_args__ = (
        enum_check("gender", Gender, "gender_valid"),
        enum_check("rank", Rank, "rank_valid"),
        enum_check("education", Education, "education_valid"),
        enum_check("political_status", PoliticalStatus, "political_status_valid"),
        enum_check("status", CadreStatus, "status_valid"),
        Index("ix_cadres_unit_rank", "unit_id", "rank"),
        # Unit figures over every serving cadre (the archive's overview, the home page's completion by unit) read
        # this index alone, unit by unit, never the table (migration 0015).
        Index("ix_cadres_unit_status_user", "unit_id", "status", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), index=True)
    gender: Mapped[str] = mapped_column(String(16))
    birth_date: Mapped[date] = mapped_column(Date, index=True)
    rank: Mapped[str] = mapped_column(String(32))
    position: Mapped[str] = mapped_column(String(100), default="")
    education: Mapped[str] = mapped_column(String(32))
    political_status: Mapped[str] = mapped_column(String(32))
    #: Encrypted at rest (core.crypto); shown masked (accounts.personal), in full to its keepers, audited.
    phone: Mapped[str] = mapped_column(EncryptedText, default="")
    #: The resident ID number (居民身份证号码), encrypted at rest; `id_number_index` finds it (accounts.personal).
    id_number: Mapped[str | None] = mapped_column(EncryptedText)
    id_number_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=CadreStatus.SERVING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    #: Indexed: the reports stamp their cached figures with the newest change to any profile (reports.ranking).
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, onupdate=now_utc, index=True)

    user: Mapped[User] = relationship(back_populates="cadre", lazy="joined")
    unit: Mapped[Unit] = relationship(lazy="joined")

    @property
    def unit_path(self) -> str:
        return self.unit.path

    @property
    def account_roles(self) -> frozenset[Role]:
        return self.user.role_names

    @property
    def managed_by_district(self) -> bool:
        """Leading cadres (section chiefs and their deputies) are managed by the organisation department itself,
        so their learning archives are kept by it; a unit keeps the archives of its other cadres."""
        return self.rank in LEADING_RANKS

    @property
    def name(self) -> str:
        return self.user.name

    @property
    def employee_number(self) -> str:
        return self.user.username

    def age_on(self, day: date) -> int:
        years = day.year - self.birth_date.year
        return years - ((day.month, day.day) < (self.birth_date.month, self.birth_date.day))


class CadrePhoto(db.Model):
    """A cadre's profile photo (a small JPEG or PNG), shown on the admission ticket and at the check-in."""

    __tablename__ = "cadre_photos"

    cadre_id: Mapped[int] = mapped_column(ForeignKey("cadres.id", ondelete="CASCADE"), primary_key=True)
    mimetype: Mapped[str] = mapped_column(String(32))
    #: Encrypted at rest, as the ID and phone numbers are: a face that identifies the person.
    data: Mapped[bytes] = mapped_column(EncryptedBlob)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)


class LoginSession(db.Model):
    """A server-side login session. The cookie holds only its random key, which is new at every login."""

    __tablename__ = "login_sessions"

    #: SHA-256 (hex) of the 256-bit random key that the session cookie carries; the key itself is never stored.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Updated at most once a minute; a session idle for longer than SESSION_IDLE_MINUTES ends.
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))

    user: Mapped[User] = relationship(lazy="joined")


class LoginAttempt(db.Model):
    """Every login attempt, kept to throttle guessing per account and per address."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username_at", "username", "at"),
        Index("ix_login_attempts_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The username as typed (normalised), whether or not such an account exists.
    username: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    #: Refused because the account or address was locked; not counted as a failure.
    throttled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)


class ApiToken(db.Model):
    """A personal API token for scripts and integrations (sent as `Authorization: Bearer …`).

    Only its SHA-256 is stored; the token itself is shown once, when it is made.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    #: Noted in memory at most once every 5 minutes per process and written in batches by write requests
    #: (accounts.identity): it may lag the real last use by a few minutes, more if a process died before writing.
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Minted by an administrator with `flask accounts token --api-only` (audited): it reaches the JSON API, and
    #: nothing else, even while the account must still change its one-time password on the web.
    api_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    #: A system account's token: the scopes it carries, space-separated (core.policy.API_SCOPES). It reaches the
    #: admin API (/api/v1/admin/) only, and there only what its scopes and its account's roles both allow. Null: a
    #: person's token, which the admin API refuses.
    scopes: Mapped[str | None] = mapped_column(String(300))

    user: Mapped[User] = relationship(lazy="joined")


class AuthEpoch(db.Model):
    """One row: a number that every change ending or narrowing an API token's access bumps, in the transaction of
    the change (accounts.identity). Each process re-reads it at most once a second and forgets the identities it
    keeps when it moved: so a revocation takes effect everywhere within a second."""

    __tablename__ = "auth_epoch"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)
