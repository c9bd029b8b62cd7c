"""The audit log: admin changes are recorded with who, what, when and from where; the page searches them; nothing
in the app can change or remove an event."""

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from core import audit
from core.models import now_utc
from core.policy import Role
from tests.factories import make_cadre, make_unit, make_user


def _events(db, action):
    return db.session.scalars(select(audit.AuditEvent).where(audit.AuditEvent.action == action)).all()


def test_an_admin_change_records_who_what_when_and_from_where(client, auth, db):
    unit = make_unit()
    cadre = make_cadre(unit=unit, name="张三")
    admin = auth.login_as("org_admin")
    before = now_utc()
    response = client.post_form(
        f"/admin/users/{cadre.user_id}", {"role": "grader", "unit_id": "0"}, environ_base={"REMOTE_ADDR": "10.1.2.3"}
    )
    assert response.status_code == 302
    (event,) = _events(db, "role.granted")
    assert event.actor_id == admin.id
    assert event.target == f"user:{cadre.user_id}"
    assert event.ip == "10.1.2.3"
    assert before - timedelta(seconds=1) <= event.at <= now_utc()
    assert event.detail["role"] == "grader"


def _log(db, actor, action, target, ip, at):
    db.session.add(audit.AuditEvent(actor_id=actor.id if actor else None, action=action, target=target, ip=ip, at=at))


@pytest.fixture
def history(db):
    alice = make_user(username="alice", name="李主任", roles=(Role.ORG_ADMIN,))
    bob = make_user(username="bob", name="王老师", roles=(Role.GRADER,))
    now = now_utc()
    _log(db, alice, "exam.published", "exam:QE1", "10.0.0.1", now - timedelta(days=3))
    _log(db, alice, "exam.key_corrected", "exam:QE1", "10.0.0.1", now - timedelta(days=1))
    _log(db, bob, "answer.graded", "answer:7", "192.168.1.9", now)
    _log(db, None, "login.failed", "<script>alert(1)</script>", "172.16.0.5", now)
    db.session.commit()
    return now


def _rows(client, **args):
    response = client.get("/admin/audit", query_string=args)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_page_searches_by_who_action_target_address_and_day(client, auth, db, history):
    auth.login_as("system_admin")
    assert "answer:7" in (page := _rows(client, actor="王老")) and "exam:QE1" not in page
    assert "exam:QE1" in (page := _rows(client, actor="ALICE")) and "answer:7" not in page  # any case
    page = _rows(client, action="exam")  # a prefix finds every exam action, and nothing else
    assert (
        "<code>exam.published</code>" in page
        and "<code>exam.key_corrected</code>" in page
        and "<code>answer.graded</code>" not in page
    )
    assert (
        "exam.key_corrected" in (page := _rows(client, action="exam.key_corrected"))
        and "<code>exam.published</code>" not in page
    )
    assert "answer:7" in (page := _rows(client, ip="192.168.")) and "exam:QE1" not in page
    assert "answer:7" in (page := _rows(client, target="answer")) and "exam:QE1" not in page


def test_days_are_local_days(client, auth, db):
    """Shanghai's midnight is 16:00 UTC: an event a minute either side of it falls on different days."""
    from datetime import UTC, datetime

    _log(db, None, "day.before", None, None, datetime(2026, 11, 19, 15, 59, tzinfo=UTC))  # 23:59 on the 19th
    _log(db, None, "day.of", None, None, datetime(2026, 11, 19, 16, 1, tzinfo=UTC))  # 00:01 on the 20th
    _log(db, None, "day.after", None, None, datetime(2026, 11, 20, 16, 1, tzinfo=UTC))  # 00:01 on the 21st
    db.session.commit()
    auth.login_as("org_admin")
    page = _rows(client, since="2026-11-20", until="2026-11-20")
    assert "<code>day.of</code>" in page
    assert "<code>day.before</code>" not in page and "<code>day.after</code>" not in page
    for far in ("0001-01-01", "9999-12-31"):  # outside any plausible range: an error on the form, not a 500
        assert _rows(client, since=far, until=far).count("<code>day.of</code>") == 1


def test_the_page_escapes_what_it_shows_and_shuns_sql_in_its_filters(client, auth, db, history):
    auth.login_as("org_admin")
    page = _rows(client)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    for hostile in ("' OR '1'='1", "%", "_", "exam'; DROP TABLE audit_events; --"):
        page = _rows(client, actor=hostile, target=hostile)
        assert "answer:7" not in page and "exam:QE1" not in page, hostile
    assert db.session.scalar(select(audit.AuditEvent.id).limit(1)) is not None
    assert _rows(client, since="not-a-date").count("answer:7") == 1  # a bad date is an error, not a 500


@pytest.mark.parametrize("role", ["unit_admin", "author", "grader", "cadre"])
def test_only_the_district_reads_the_log(client, auth, db, history, role):
    auth.login_as(role)
    assert client.get("/admin/audit").status_code == 403


def test_bulk_statements_cannot_change_or_remove_events_either(app, db, history):
    from sqlalchemy import delete, update

    for statement in (update(audit.AuditEvent).values(action="nothing.happened"), delete(audit.AuditEvent)):
        with pytest.raises(audit.AuditLogIsAppendOnly):
            db.session.execute(statement)
        db.session.rollback()
    assert len(db.session.scalars(select(audit.AuditEvent)).all()) == 4


def test_the_app_cannot_change_or_remove_an_event(app, db, history):
    event = db.session.scalars(select(audit.AuditEvent)).first()
    event.action = "nothing.happened"
    with pytest.raises(audit.AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.scalars(select(audit.AuditEvent)).first())
    with pytest.raises(audit.AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()


def test_the_database_refuses_a_hand_written_update(app, db, history):
    """Past the ORM too: a statement of the app's own connection cannot rewrite (on PostgreSQL, delete) history."""
    from sqlalchemy.exc import DatabaseError

    with pytest.raises(DatabaseError, match="append-only"):
        db.session.execute(text("UPDATE audit_events SET action = 'nothing.happened'"))
    db.session.rollback()
    if db.engine.dialect.name == "postgresql":
        with pytest.raises(DatabaseError, match="append-only"):
            db.session.execute(text("DELETE FROM audit_events"))
        db.session.rollback()
    assert "nothing.happened" not in db.session.scalars(select(audit.AuditEvent.action)).all()
    assert len(db.session.scalars(select(audit.AuditEvent)).all()) == 4


def test_there_is_no_route_that_writes_the_log(app):
    rules = [r for r in app.url_map.iter_rules() if "audit" in r.rule]
    assert [(r.rule, sorted(r.methods - {"HEAD", "OPTIONS"})) for r in rules] == [("/admin/audit", ["GET"])]
