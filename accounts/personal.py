"""Personal identifiers of a cadre: the resident ID number (居民身份证号码) checked, kept encrypted, found by its
blind index, and shown masked (core.crypto holds the keys)."""

import re
from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import select

from accounts.models import Cadre, Gender
from core import audit
from core.crypto import keyring
from core.errors import DomainError
from core.extensions import db
from core.policy import can

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_ID18 = re.compile(r"^\d{17}[\dX]$")
_ID15 = re.compile(r"^\d{15}$")


def check_digit(first17: str) -> str:
    """GB 11643-1999's check character (ISO 7064 MOD 11-2) of the first 17 digits."""
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def normal_id_number(text: str) -> str:
    """The number as written, in its normal form: no spaces, upper-case X; a 15-digit number of the first generation
    (before 1999) widened to 18 digits the standard way (century 19, check character computed)."""
    value = re.sub(r"\s+", "", text or "").upper()
    if _ID15.match(value):
        first17 = value[:6] + "19" + value[6:]
        value = first17 + check_digit(first17)
    return value


def id_number_problem(value: str) -> str | None:
    """Why a normal-form ID number is not one (None: it is)."""
    if not _ID18.match(value):
        return _("An ID number has 18 characters: 17 digits and a digit or X.")
    if check_digit(value[:17]) != value[17]:
        return _("The ID number's check character is wrong (a digit was mistyped).")
    if id_birth_date(value) is None:
        return _("The ID number holds no valid birth date.")
    return None


def id_birth_date(value: str) -> date | None:
    try:
        return date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return None


def id_gender(value: str) -> str:
    """The 17th digit is odd for men, even for women."""
    return Gender.MALE if int(value[16]) % 2 else Gender.FEMALE


def mask_id_number(value: str | None) -> str:
    """3301**********1234: the region's first four and the last four characters."""
    if not value:
        return ""
    return value[:4] + "*" * max(len(value) - 8, 0) + value[-4:]


def mask_phone(value: str | None) -> str:
    """138****5678: a mobile number's first three and last four digits; a shorter number's first and last two."""
    digits = re.sub(r"\D", "", value or "")
    if len(digits) >= 11:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    if len(digits) >= 7:
        return digits[:2] + "*" * (len(digits) - 4) + digits[-2:]
    return "*" * len(digits)


def reindex_all() -> int:
    """Every ID number's blind index under the first index key (after a rotation); returns how many."""
    ring, done = keyring(), 0
    ids = list(db.session.scalars(select(Cadre.id).where(Cadre.id_number_index.is_not(None)).order_by(Cadre.id)))
    for start in range(0, len(ids), 500):
        for cadre in db.session.scalars(select(Cadre).where(Cadre.id.in_(ids[start : start + 500]))):
            cadre.id_number_index = ring.index(normal_id_number(cadre.id_number))
            done += 1
        db.session.flush()
    return done


def may_reveal(user, cadre: Cadre) -> bool:
    """Who sees a cadre's ID and phone numbers in full: those who keep the profile (cadre.manage on it), never
    anyone else whatever their roles. Everyone else sees them masked, where they see them at all."""
    return can(user, "cadre.manage", cadre)


def reveal(cadre: Cadre, *, actor, now: datetime) -> dict:
    """The numbers in full, for one who may see them; the view is audited (which fields, not their values)."""
    if not may_reveal(actor, cadre):
        raise DomainError(_("You may not see these numbers."), code="forbidden", status=403)
    shown = {"id_number": cadre.id_number or "", "phone": cadre.phone or ""}
    audit.record("cadre.personal_viewed", actor=actor, target=f"user:{cadre.user_id}",
                 detail={"fields": sorted(k for k, v in shown.items() if v)}, at=now)  # fmt: skip
    return shown


def find_by_id_number(value: str) -> Cadre | None:
    """The cadre with this ID number (normal form), under any configured index key."""
    return db.session.scalar(select(Cadre).where(Cadre.id_number_index.in_(keyring().indexes(value))))


def index_map() -> dict[str, int]:
    """{blind index: cadre id} of every cadre with an ID number (a batch import matches against it in memory)."""
    rows = db.session.execute(select(Cadre.id_number_index, Cadre.id).where(Cadre.id_number_index.is_not(None)))
    return dict(rows.all())


def set_id_number(cadre: Cadre, value: str | None, *, actor, now: datetime) -> bool:
    """Record (or clear) a cadre's ID number, checked and in normal form; audited without the number itself.
    Returns whether it changed. Another cadre holding the number is refused."""
    return bool(set_id_numbers([(cadre, value)], actor=actor, now=now))


def set_id_numbers(items, *, actor, now: datetime) -> int:
    """`set_id_number` for many cadres at once (a batch import), with one lookup per 500 numbers; all or none.
    Returns how many changed."""
    ring, wanted = keyring(), []
    for cadre, value in items:
        value = normal_id_number(value or "") or None
        if value is not None:
            problem = id_number_problem(value)
            if problem:
                raise DomainError(problem, code="bad_id_number", problems=(("id_number", problem),))
        if value != cadre.id_number:
            wanted.append((cadre, value))
    indexes = {}
    for cadre, value in wanted:
        for index in ring.indexes(value) if value else ():
            if index in indexes and indexes[index] != cadre.id:
                raise _duplicate()
            indexes[index] = cadre.id
    keys = list(indexes)
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        for index, cadre_id in db.session.execute(
            select(Cadre.id_number_index, Cadre.id).where(Cadre.id_number_index.in_(chunk))
        ):  # fmt: skip
            if cadre_id != indexes[index]:
                raise _duplicate()
    for cadre, value in wanted:
        old = mask_id_number(cadre.id_number) or None
        cadre.id_number = value
        cadre.id_number_index = ring.index(value) if value else None
        cadre.updated_at = now
        audit.record("cadre.id_number_set", actor=actor, target=f"user:{cadre.user_id}",
                     detail={"id_number": [old, mask_id_number(value) or None]}, at=now)  # fmt: skip
    db.session.flush()
    return len(wanted)


def _duplicate() -> DomainError:
    message = _("Another cadre already has this ID number.")
    return DomainError(message, code="duplicate_id_number", problems=(("id_number", message),))
