"""Audit targets of this package ("kind:key") named for the audit page, in bulk (see core.audit_labels)."""

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import select

from accounts.models import Unit, User
from core.audit_labels import TargetView, int_keys, register_detail_value, register_targets
from core.extensions import db
from core.policy import ROLE_LABELS


@register_targets("user")
def _audit_users(keys):
    """Audit targets "user:ID": the person's name (and username), linking to their account page."""
    rows = db.session.execute(select(User.id, User.name, User.username).where(User.id.in_(int_keys(keys))))
    return {
        str(r.id): TargetView(f"{r.name}（{r.username}）", url_for("accounts.user_roles", user_id=r.id)) for r in rows
    }


@register_targets("unit")
def _audit_units(keys):
    """Audit targets "unit:ID": the unit's name (and code), linking to its page."""
    rows = db.session.execute(select(Unit.id, Unit.name, Unit.code).where(Unit.id.in_(int_keys(keys))))
    return {
        str(r.id): TargetView(
            _("%(name)s (%(code)s)", name=r.name, code=r.code), url_for("accounts.unit_form", unit_id=r.id)
        )
        for r in rows
    }


@register_detail_value("role.granted", "role")
@register_detail_value("role.revoked", "role")
def _audit_role(value):
    return str(ROLE_LABELS.get(value, value))


@register_detail_value("cadre.personal_viewed", "fields")
def _audit_personal_fields(value):
    names = {"id_number": _("ID number"), "phone": _("Phone")}
    return "、".join(names.get(v, str(v)) for v in (value if isinstance(value, list) else [value]))
