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


def _shown(action, page):
    """Whether the page lists an event of `action` (shown in words, with its code as the title)."""
    return f'class="audit-action" title="{action}">' in page


def _rows(client, **args):
    response = client.get("/admin/audit", query_string=args)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_page_searches_by_who_action_target_address_and_day(client, auth, db, history):
    auth.login_as("system_admin")
    assert "answer:7" in (page := _rows(client, actor="王老")) and "exam:QE1" not in page
    assert "exam:QE1" in (page := _rows(client, actor="ALICE")) and "answer:7" not in page  # any case
    page = _rows(client, action="exam")  # a prefix finds every exam action, and nothing else
    assert _shown("exam.published", page) and _shown("exam.key_corrected", page) and not _shown("answer.graded", page)
    page = _rows(client, action="exam.key_corrected")
    assert _shown("exam.key_corrected", page) and not _shown("exam.published", page)
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
    assert _shown("day.of", page)
    assert not _shown("day.before", page) and not _shown("day.after", page)
    for far in ("0001-01-01", "9999-12-31"):  # outside any plausible range: an error on the form, not a 500
        assert _rows(client, since=far, until=far).count('title="day.of"') == 1


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
    """Past the ORM too: a statement of the app's own connection cannot rewrite or delete history (nor, on
    PostgreSQL, truncate it)."""
    from sqlalchemy.exc import DatabaseError

    statements = ["UPDATE audit_events SET action = 'nothing.happened'", "DELETE FROM audit_events"]
    if db.engine.dialect.name == "postgresql":
        statements.append("TRUNCATE audit_events")
    for statement in statements:
        with pytest.raises(DatabaseError, match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()
    assert "nothing.happened" not in db.session.scalars(select(audit.AuditEvent.action)).all()
    assert len(db.session.scalars(select(audit.AuditEvent)).all()) == 4


def test_there_is_no_route_that_writes_the_log(app):
    rules = [r for r in app.url_map.iter_rules() if "audit" in r.rule]
    assert [(r.rule, sorted(r.methods - {"HEAD", "OPTIONS"})) for r in rules] == [("/admin/audit", ["GET"])]


def test_the_page_names_actions_targets_and_people_in_words(client, auth, db):
    from exam.attempts import start_attempt
    from tests.factories import make_bank, make_open_exam

    exam, candidate = make_open_exam(code="GW1")
    attempt = start_attempt(exam, candidate, now_utc())
    bank = make_bank(code="DJ1")
    grader = make_user(username="grader9", name="赵阅卷", roles=(Role.GRADER,))
    audit.record("answer.graded", actor=grader, target=f"attempt:{attempt.id}", detail={"points": 2})
    audit.record("role.granted", actor=grader, target=f"user:{candidate.id}", detail={"role": "grader"})
    audit.record("brand.new_action", target="exam:NOPE")
    audit.record("login.failed", target="typed-name")
    db.session.commit()
    auth.login_as("org_admin")
    page = _rows(client)
    assert "发布考试" in page and "批阅答案" in page and "授予角色" in page and "登录成功" in page
    assert ">exam.published<" not in page and ">login.succeeded<" not in page
    assert f'<a href="/exams/GW1/" title="exam:GW1">{exam.title}</a>' in page
    assert (
        f'<a href="/admin/users/{candidate.id}" title="user:{candidate.id}">{candidate.name}（{candidate.username}）'
        in page
    )
    assert f'href="/exams/GW1/attempts/{attempt.id}"' in page and f"{candidate.name} 的第 1 次作答" in page
    assert f'<a href="/banks/DJ1/" title="bank:DJ1">{bank.name}</a>' in page
    assert "赵阅卷" in page
    # What has no label or no name stays as it was recorded.
    assert 'title="brand.new_action">brand.new_action<' in page and ">exam:NOPE<" in page and ">typed-name<" in page
    # The search offers the actions in words too.
    assert '<option value="exam.published">发布考试</option>' in page
    assert '<option value="exam">全部考试操作</option>' in page
    assert '<option value="brand.new_action">brand.new_action</option>' in page


def _count_queries(db, fn):
    from sqlalchemy import event

    statements = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(statements)


def test_targets_are_named_in_bulk(client, auth, db):
    """The page's queries do not grow with the number of people, banks and exams it names (no N+1)."""
    from tests.factories import make_bank

    auth.login_as("org_admin")

    def add(n):
        for _i in range(n):
            user, bank = make_user(), make_bank()
            audit.record("role.granted", actor=user, target=f"user:{user.id}")
            audit.record("questions.imported", actor=user, target=f"bank:{bank.code}")
        db.session.commit()

    add(2)
    few = _count_queries(db, lambda: _rows(client))
    add(10)
    assert _count_queries(db, lambda: _rows(client)) == few


def test_the_page_shows_the_chain_state_and_head(client, auth, db, history, runner):
    from core import audit_chain
    from tests.core.test_audit_chain import _superuser

    auth.login_as("org_admin")
    head = audit_chain.head(db.session)
    page = _rows(client)
    assert "完好" in page and head.hash in page and f"第 {head.seq} 条" in page
    assert "尚未进行全量校验" in page
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    page = _rows(client)
    assert "最近一次全量校验" in page and "尚未进行全量校验" not in page
    assert runner.invoke(args=["audit", "verify", "--anchor", "f" * 64]).exit_code == 1
    assert "留存的链头已不在链中" in _rows(client)
    with _superuser(db) as conn:  # an event altered behind the app's back
        conn.execute(text("UPDATE audit_events SET target = 'exam:QE2' WHERE seq = 2"))
    page = _rows(client)
    assert "断裂于第 2 条事件" in page and "内容在记录后被改动" in page
    assert runner.invoke(args=["audit", "verify"]).exit_code == 1
    assert "全量校验（" in (page := _rows(client)) and "哈希链断裂于第 2 条事件。" in page
