"""Factories: plain functions with keyword overrides. They add and flush; the test commits when a request must see
the rows."""

import re
from datetime import date
from functools import cache
from itertools import count

from werkzeug.security import generate_password_hash

from accounts.models import Cadre, RoleAssignment, Unit, User
from accounts.services import create_unit
from core.extensions import db
from core.policy import Role

PASSWORD = "Lantern-58-test"  # strong enough for the password policy (zxcvbn score 4)
_seq = count(1)


@cache
def _password_hash() -> str:
    # scrypt is slow on purpose; hash the shared test password once per run.
    return generate_password_hash(PASSWORD)


def make_unit(name=None, parent=None, code=None, kind="department") -> Unit:
    n = next(_seq)
    return create_unit(code or f"U{n}", name or f"单位{n}", kind, parent)


def make_user(username=None, name=None, roles=(), must_change_password=False, active=True, unit=None) -> User:
    n = next(_seq)
    user = User(
        username=username or f"u{n:05d}",
        name=name or f"用户{n}",
        password_hash=_password_hash(),
        must_change_password=must_change_password,
        active=active,
    )
    for role in roles:
        user.roles.append(RoleAssignment(role=role, unit=unit if role == Role.UNIT_ADMIN else None))
    db.session.add(user)
    db.session.flush()
    return user


def make_cadre(unit=None, birth_date=date(1995, 6, 1), rank="staff", user=None, **user_kwargs) -> Cadre:
    unit = unit or make_unit()
    user = user or make_user(roles=user_kwargs.pop("roles", (Role.CADRE,)), **user_kwargs)
    cadre = Cadre(
        user=user,
        unit=unit,
        gender="female",
        birth_date=birth_date,
        rank=rank,
        position="科员",
        education="bachelor",
        political_status="cpc_member",
        phone="13900000000",
    )
    db.session.add(cadre)
    db.session.flush()
    return cadre


def make_user_with_role(role, unit=None, **kwargs) -> User:
    """A user holding `role`; a unit admin administers `unit` (a new one unless given)."""
    role = Role(role)
    if role == Role.UNIT_ADMIN:
        unit = unit or make_unit()
        user = make_user(roles=(role,), unit=unit, **kwargs)
        make_cadre(unit=unit, user=user)
        return user
    if role == Role.CADRE:
        return make_cadre(unit=unit, **kwargs).user
    return make_user(roles=(role,), **kwargs)


def make_bank(code=None, owner_unit=None, actor=None, subject="政治理论"):
    from core.models import now_utc
    from question_bank.services import create_bank

    n = next(_seq)
    actor = actor or make_user(roles=(Role.SYSTEM_ADMIN,))
    return create_bank(actor, code or f"B{n}", f"题库{n}", subject, owner_unit or make_unit(), "", now_utc())


def content(qtype="single", **overrides):
    from question_bank.richtext import from_text
    from question_bank.types import Content

    base = {
        "single": dict(
            stem="我国的根本政治制度是______。",
            options=["人民代表大会制度", "民族区域自治制度", "基层群众自治制度"],
            answer=[0],
        ),
        "multiple": dict(
            stem="下列属于纪律处分种类的有",
            options=["警告", "严重警告", "罚款", "开除党籍"],
            answer=[0, 1, 3],
            points=2,
        ),
        "truefalse": dict(stem="公务员年度考核结果分为四个等次。", answer=True),
        "fill": dict(
            stem="党的最高领导机关是党的______和它所产生的______。", answer=[["全国代表大会"], ["中央委员会"]]
        ),
        "essay": dict(
            stem="简述请示与报告的区别。",
            answer={"reference": "行文目的不同……", "scoring_points": ["目的", "时机"]},
            points=10,
        ),
    }[qtype]
    data = {**base, **overrides}
    data["stem"] = from_text(data["stem"])
    data["options"] = [from_text(o) for o in data.get("options", [])]
    return Content(**data)


def make_category(bank, name=None, parent=None):
    from question_bank.services import create_category

    return create_category(bank, name or f"分类{next(_seq)}", parent)


def make_question(bank=None, qtype="single", actor=None, status="draft", category=None, difficulty=3, **overrides):
    from core.models import now_utc
    from question_bank.services import create_question

    bank = bank or make_bank()
    actor = actor or make_user(roles=(Role.SYSTEM_ADMIN,))
    return create_question(actor, bank, qtype, content(qtype, **overrides), now_utc(), status=status,
                           category=category, difficulty=difficulty)  # fmt: skip


#: The explanation of every question of make_open_exam: it must never reach a candidate early.
SECRET = "不能提前看到的解析"


def make_open_exam(*, release="immediate", review="explanations", code="T1", qtypes=("single", "truefalse", "essay")):
    """A published exam, open now, with one active question per type (each explanation is SECRET) drawn into a
    section each, and one candidate (who is returned with it)."""
    from datetime import timedelta

    from core.models import now_utc
    from exam import publishing
    from exam.models import Exam, ExamSection, SectionRule
    from question_bank import services as qb

    now = now_utc()
    bank = make_bank()
    admin = make_user(roles=(Role.SYSTEM_ADMIN,))
    for qtype in qtypes:
        qb.create_question(admin, bank, qtype, content(qtype, explanation=SECRET), now, status="active")
    unit = make_unit()
    cadre = make_cadre(unit=unit)
    exam = Exam(code=code, title="页面测试考试", subject="政治理论", duration_minutes=60,
                opens_at=now - timedelta(hours=1), closes_at=now + timedelta(hours=2), pass_mark=1,
                eligibility={"unit_ids": [unit.id]}, release_policy=release, review_policy=review,
                instructions="请独立作答。")  # fmt: skip
    for i, qtype in enumerate(qtypes, start=1):
        section = ExamSection(position=i, title=f"第{i}部分", qtype=qtype, points_per_question=2)
        section.rules.append(SectionRule(bank=bank, count=1))
        exam.sections.append(section)
    db.session.add(exam)
    db.session.flush()
    publishing.publish(admin, exam, now)
    db.session.commit()
    return exam, cadre.user


def workbook_bytes(headers, rows) -> bytes:
    """An .xlsx of one sheet: a header row, then the rows (what people upload)."""
    import io

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(list(headers))
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def confirmation(preview_html: str) -> dict:
    """The fields an import preview's confirmation button sends (the stored upload's token; the questions' status)."""
    return dict(re.findall(r'<input type="hidden" name="(upload|status)" value="([^"]*)">', preview_html))


def make_sitting(exam, *, rooms=1, capacity=30, actor=None, requires_checkin=False, place=True):
    """A session of `exam` (started ten minutes ago, check-in open until five minutes from now) using `rooms` new
    rooms of a new unit, every candidate given a ticket and, when `place`, seated room after room (those beyond
    the seats stay unplaced). Returns (session, [rooms])."""
    from datetime import timedelta

    from core.models import now_utc
    from sitting import services as sitting

    now = now_utc()
    actor = actor or make_user(roles=(Role.SYSTEM_ADMIN,))
    unit = make_unit()
    made = [sitting.create_room(unit, f"第{i}考场", capacity, actor=actor, now=now, address=f"综合楼{i}0{i}室",
                                computers=capacity) for i in range(1, rooms + 1)]  # fmt: skip
    start = max(now - timedelta(minutes=10), exam.opens_at)
    session = sitting.create_session(exam, "第一场", start, min(start + timedelta(minutes=110), exam.closes_at),
                                     actor=actor, now=now, checkin_opens_at=start - timedelta(minutes=30),
                                     checkin_closes_at=now + timedelta(minutes=5))  # fmt: skip
    sitting.set_session_rooms(session, made, actor=actor, now=now)
    sitting.settings_of(exam).requires_checkin = requires_checkin
    sitting.ensure_seats(exam, now)
    if place:
        from sqlalchemy import select

        from sitting.models import Seat

        seats = db.session.scalars(select(Seat).where(Seat.exam_id == exam.id).order_by(Seat.ticket_no)).all()
        for i, seat in enumerate(seats[: capacity * len(made)]):  # the rest stay unplaced
            room = made[i // capacity]
            sitting.move_seat(seat, session, room, i % capacity + 1, actor=actor, reason="", now=now)
    db.session.flush()
    return session, made
