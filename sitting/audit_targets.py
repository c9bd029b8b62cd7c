"""Audit targets of the sitting ("room:ID") named for the audit page, and its details' codes in words."""

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import select

from core.audit_labels import TargetView, int_keys, register_detail_value, register_targets
from core.extensions import db
from sitting.forms import STRATEGY_LABELS
from sitting.models import Room


@register_targets("room")
def _audit_rooms(keys):
    """Audit targets "room:ID": the room's name (and address), linking to its page."""
    rows = db.session.execute(select(Room.id, Room.name, Room.address).where(Room.id.in_(int_keys(keys))))
    return {
        str(r.id): TargetView(f"{r.name}（{r.address}）" if r.address else r.name,
                              url_for("sitting.room_edit", room_id=r.id))
        for r in rows
    }  # fmt: skip


@register_detail_value("sitting.seats_assigned", "strategy")
def _audit_strategy(value):
    label = STRATEGY_LABELS.get(value)
    return str(label) if label is not None else str(value)


@register_detail_value("sitting.seats_assigned", "everyone")
@register_detail_value("room.updated", "is_active")
def _audit_yes_no(value):
    return _("Yes") if value else _("No")
