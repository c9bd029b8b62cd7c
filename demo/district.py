"""A small, made-up district for demonstrations and manual testing: units, one account per role, ~40 cadres."""

import random
from datetime import date, timedelta

from sqlalchemy import func, select

from accounts import services, system
from accounts.models import CadreStatus, Education, Gender, PoliticalStatus, Rank, RoleAssignment, UnitKind, User
from core.extensions import db
from core.models import local_today
from core.policy import Role
from demo import archives, questions, sitting
from demo import practice as demo_practice
from demo import results as demo_results
from exam import publishing
from exam.models import Exam, ExamSection, SectionRule
from question_bank import services as qb
from question_bank.models import Bank
from question_bank.richtext import from_text
from question_bank.types import Content

#: Every demo account shares this password and is not asked to change it (demo only).
DEMO_PASSWORD = "demo2026qe"

# (code, name, kind, parent code)
UNITS = (
    ("ZZB", "区委组织部", UnitKind.PARTY_COMMITTEE, None),
    ("QWB", "区委办公室", UnitKind.PARTY_COMMITTEE, "ZZB"),
    ("FGJ", "区发展和改革局", UnitKind.DEPARTMENT, "ZZB"),
    ("CZJ", "区财政局", UnitKind.DEPARTMENT, "ZZB"),
    ("JYJ", "区教育局", UnitKind.DEPARTMENT, "ZZB"),
    ("SWJ", "区商务局", UnitKind.DEPARTMENT, "ZZB"),
    ("CGJD", "城关街道", UnitKind.STREET, "ZZB"),
    ("CGJD-SQ", "城关街道社区服务中心", UnitKind.OTHER, "CGJD"),
    ("DHJD", "东湖街道", UnitKind.STREET, "ZZB"),
    ("QSZ", "青山镇", UnitKind.TOWN, "ZZB"),
    ("QSZ-NY", "青山镇农业综合服务中心", UnitKind.OTHER, "QSZ"),
    ("QSZ-DZB", "青山镇党政综合办公室", UnitKind.OTHER, "QSZ"),
    ("LHZ", "柳河镇", UnitKind.TOWN, "ZZB"),
)

# (username, name, roles, unit code of their profile or None, unit administered)
ROLE_ACCOUNTS = (
    ("admin", "系统管理员", (Role.SYSTEM_ADMIN,), None, None),
    ("zzb001", "周建平", (Role.ORG_ADMIN, Role.CADRE), "ZZB", None),
    ("qsz001", "林晓燕", (Role.UNIT_ADMIN, Role.CADRE), "QSZ", "QSZ"),
    ("author01", "陈思远", (Role.AUTHOR, Role.CADRE), "ZZB", None),
    ("grader01", "赵雅琴", (Role.GRADER, Role.CADRE), "ZZB", None),
    ("cadre01", "王浩然", (Role.CADRE,), "QSZ-NY", None),
    ("proctor01", "孙立新", (Role.PROCTOR, Role.CADRE), "ZZB", None),
    ("grader02", "刘思琪", (Role.GRADER, Role.CADRE), "ZZB", None),
)
#: Accounts added after the first release's: their data comes from a generator of their own, so that the rest of
#: the district (drawn from one seeded sequence) stays the same person for person.
_LATER_ACCOUNTS = frozenset({"proctor01", "grader02"})
#: Accounts over 35: they sit none of the demo's exams, so no conflict of interest keeps an exam from them (grader02
#: reviews the appeal against grader01's mark).
_SENIOR_ACCOUNTS = frozenset({"grader02"})

# The role accounts' rank and position: their stories need them (the organisation-department admin and the grader
# sit none of the section-level exams they run; the author sits ZZLL2026, a conflict of interest to decide).
_ROLE_POSTS = {
    "zzb001": (Rank.STOCK_LEVEL, "干部股股长"),
    "qsz001": (Rank.STAFF, "组织干事"),
    "author01": (Rank.SECTION_CHIEF, "干部监督室主任"),
    "grader01": (Rank.STAFF, "科员"),
    "cadre01": (Rank.STAFF, "综合岗"),
    "proctor01": (Rank.STAFF, "考务专干"),
    "grader02": (Rank.STAFF, "科员"),
}

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
# Given names by sex, so a cadre's name and sex agree; the role accounts' given names are among them.
# fmt: off
_GIVEN = {
    Gender.MALE: (
        "文博", "俊杰", "浩宇", "志强", "明辉", "晓东", "建国", "伟", "磊", "勇", "军", "杰", "国庆", "立新",
        "振华", "宇航", "宏伟", "鹏飞", "子轩", "天宇", "建平", "浩然", "思远",
    ),
    Gender.FEMALE: (
        "思琪", "雨欣", "佳怡", "海燕", "丽娟", "秀英", "静", "敏", "艳", "娜", "春梅", "红霞", "晓丽", "欣怡",
        "婷婷", "慧敏", "梦瑶", "嘉欣", "晓燕", "雅琴",
    ),
}
# fmt: on


def _gender_of(name: str) -> Gender:
    """The sex a demo name's given name is drawn for (the surname is one character)."""
    return next(gender for gender, names in _GIVEN.items() if name[1:] in names)


# Positions by rank and by the kind of unit (a town has a 镇长, a bureau a 局长).
_POSITIONS = {
    Rank.SECTION_CHIEF: {
        UnitKind.TOWN: ("镇长", "党委书记"),
        UnitKind.STREET: ("街道办事处主任", "党工委书记"),
        UnitKind.DEPARTMENT: ("局长",),
        None: ("主任",),
    },
    Rank.DEPUTY_SECTION_CHIEF: {
        UnitKind.TOWN: ("副镇长", "党委副书记"),
        UnitKind.STREET: ("街道办事处副主任",),
        UnitKind.DEPARTMENT: ("副局长",),
        None: ("副主任", "副部长"),
    },
    Rank.STOCK_LEVEL: {UnitKind.DEPARTMENT: ("股长",), None: ("办公室主任", "站长")},
    Rank.STAFF: {None: ("科员", "办事员", "综合岗")},
}


def database_is_empty() -> bool:
    return not db.session.scalar(select(func.count(User.id)))


def demo_accounts_in_use() -> list[tuple[str, str, str]]:
    """(username, password, roles) of the demo role accounts that still exist with the demo password."""
    users = {
        u.username: u for u in db.session.scalars(select(User).where(User.username.in_([a[0] for a in ROLE_ACCOUNTS])))
    }
    return [
        (username, DEMO_PASSWORD, ", ".join(r.value for r in roles))
        for username, _name, roles, _unit, _administers in ROLE_ACCOUNTS
        if username in users and users[username].active and users[username].check_password(DEMO_PASSWORD)
    ]


def load(now) -> list[tuple[str, str, str]]:
    """Create the demo district in an empty database; returns (username, password, roles) of the role accounts."""
    units = {}
    for code, name, kind, parent in UNITS:
        units[code] = services.create_unit(code, name, kind, units.get(parent), sort_order=len(units))

    rng = random.Random(2026)
    accounts = []
    admin = None
    for username, name, roles, unit_code, administers in ROLE_ACCOUNTS:
        if unit_code is None:
            user = services.create_admin(username, DEMO_PASSWORD, name, now)
            admin = user
        else:
            own = random.Random(username) if username in _LATER_ACCOUNTS else rng
            data = _cadre_data(own, username, name, _gender_of(name), units[unit_code], young=True)
            data.rank, data.position = _ROLE_POSTS[username]
            if username in _SENIOR_ACCOUNTS:
                data.birth_date = data.birth_date.replace(year=1979)
            cadre, _ = services.create_cadre(admin, data, now)
            user = cadre.user
            for role in roles:
                if role != Role.CADRE:
                    user.roles.append(RoleAssignment(role=role, unit=units[administers] if administers else None))
        user.set_password(DEMO_PASSWORD)
        user.must_change_password = False
        accounts.append((username, DEMO_PASSWORD, ", ".join(r.value for r in roles)))

    _load_banks(units["ZZB"], {a[0]: a for a in ROLE_ACCOUNTS}, now)
    demo_practice.open_older_questions(admin, _most_drawn(), now)
    cadre_units = [u for code, u in units.items() if code != "ZZB"]
    for i in range(40):
        gender = rng.choice(list(Gender))
        name = _SURNAMES[i % len(_SURNAMES)] + _GIVEN[gender][(i * 7) % len(_GIVEN[gender])]
        unit = cadre_units[i % len(cadre_units)]
        data = _cadre_data(rng, f"QE{1001 + i}", name, gender, unit, young=i % 2 == 0)
        if i in (37, 39):
            data.status = CadreStatus.RETIRED
        services.create_cadre(admin, data, now)
    db.session.flush()
    archives.load(units["ZZB"], now)
    _load_exams(units["ZZB"], now)
    _load_proctoring(now)
    archives.load_reading_exam(units["ZZB"], now)
    sitting.load(now)
    demo_results.load(now)
    demo_practice.load_history(now)
    # The department's personnel system, as the admin API's caller: an account (its tokens are made by whoever
    # tries the API: `flask accounts system-token hr-system --scope cadres:read`, or the system accounts page).
    system.create_account(admin, "hr-system", "区干部管理系统", [], now)
    return accounts


def _most_drawn() -> dict[tuple[str, str], int]:
    """(bank code, question type) -> the most any exam of the demo draws (last year's draw no more than these)."""
    most: dict[tuple[str, str], int] = {}
    for _code, _title, _subject, bank_code, _ranks, sections, *_rest in EXAMS:
        for _section, qtype, count, _points in sections:
            most[bank_code, qtype] = max(most.get((bank_code, qtype), 0), count)
    return most


def _load_banks(owner_unit, role_accounts, now) -> None:
    """The two demo banks, written by the demo author and approved by the organisation-department admin."""
    author = db.session.scalar(select(User).where(User.username == "author01"))
    reviewer = db.session.scalar(select(User).where(User.username == "zzb001"))
    banks = {
        b["code"]: qb.create_bank(reviewer, b["code"], b["name"], b["subject"], owner_unit, b["description"], now)
        for b in questions.BANKS
    }
    for i, item in enumerate(questions.QUESTIONS):
        bank = banks[item["bank"]]
        answer = item["answer"]
        if item["type"] == "essay":
            answer = {"reference": from_text(answer["reference"]), "scoring_points": answer["scoring_points"]}
        content = Content(
            stem=from_text(item["stem"]),
            options=[from_text(o) for o in item.get("options", [])],
            answer=answer,
            points=item.get("points")
            or (10.0 if item["type"] == "essay" else 2.0 if item["type"] == "multiple" else 1.0),
            explanation=from_text(item.get("explanation", "")),
            reference=item.get("reference", ""),
        )
        question = qb.create_question(
            author,
            bank,
            item["type"],
            content,
            now,
            category=qb.ensure_category_path(bank, item.get("category", "")),
            tags=item.get("tags", []),
            difficulty=item.get("difficulty", 3),
        )
        # Most are through review and active; a few stay in the workflow so every state can be seen.
        if i % 40 == 7:
            continue
        qb.submit_for_review(author, question, now)
        if i % 40 == 13:
            continue
        qb.approve(reviewer, question, now)
        if i % 80 == 21:
            qb.retire(reviewer, question, now)


# (code, title, subject, bank, ranks, sections: (title, type, count, points), pass mark, release, review, part)
EXAMS = (
    ("ZZLL2026", "2026年度科级干部政治理论水平任职资格考试", "政治理论", "ZZLL",
     ["section_chief", "deputy_section_chief"],
     (("一、单选题", "single", 10, 2), ("二、多选题", "multiple", 5, 4), ("三、判断题", "truefalse", 10, 1),
      ("四、填空题", "fill", 5, 2), ("五、论述题", "essay", 2, 20)), 60, "after_close", "score", "political_theory"),
    ("GWZS2026", "2026年度岗位知识水平任职资格考试（练习）", "岗位知识", "GWZS", [],
     (("一、单选题", "single", 10, 3), ("二、多选题", "multiple", 5, 4), ("三、判断题", "truefalse", 10, 2),
      ("四、填空题", "fill", 5, 2)), 60, "immediate", "explanations", None),
)  # fmt: skip


def _load_exams(top_unit, now) -> None:
    """Two published exams for cadres under 35, open for a month so the demo can be tried at once."""
    reviewer = db.session.scalar(select(User).where(User.username == "zzb001"))
    opens = now - timedelta(hours=1)
    for code, title, subject, bank_code, ranks, sections, pass_mark, release, review, part in EXAMS:
        bank = db.session.scalar(select(Bank).where(Bank.code == bank_code))
        exam = Exam(
            code=code, title=title, subject=subject, duration_minutes=90, opens_at=opens,
            closes_at=opens + timedelta(days=30), pass_mark=pass_mark, release_policy=release, review_policy=review,
            instructions="本场考试限时90分钟，答案随作答自动保存；时间到系统自动交卷。请独立作答。",
            eligibility={"unit_ids": [top_unit.id], "ranks": ranks, "max_age": 35,
                         "age_on": local_today(opens).isoformat()},
            created_by_id=reviewer.id, created_at=now, qualification_part=part,
            qualification_cycle="2026" if part else None,
        )  # fmt: skip
        for i, (section_title, qtype, count, points) in enumerate(sections, start=1):
            section = ExamSection(position=i, title=section_title, qtype=qtype, points_per_question=points)
            section.rules.append(SectionRule(bank=bank, count=count))
            exam.sections.append(section)
        db.session.add(exam)
        db.session.flush()
        publishing.publish(reviewer, exam, now)


def _load_proctoring(now) -> None:
    """GWZS2026 is sat from the cadres' own offices: watermarked, in full screen (five leaves submit it), with an
    inactivity warning after ten minutes and camera snapshots every five minutes with consent (a refusal is
    recorded, not refused), kept 90 days. ZZLL2026 is sat in rooms (demo/sitting.py) and watches nothing more."""
    from proctoring import services as proctoring

    exam = db.session.scalar(select(Exam).where(Exam.code == "GWZS2026"))
    reviewer = db.session.scalar(select(User).where(User.username == "zzb001"))
    proctoring.update_settings(
        exam, actor=reviewer, now=now, watermark=True, fullscreen=True, fullscreen_grace_seconds=3,
        fullscreen_exit_limit=5, inactivity_minutes=10, inactivity_warning_seconds=60, snapshots=True,
        snapshot_minutes=5, snapshot_retention_days=90,
    )  # fmt: skip


def _cadre_data(rng: random.Random, number: str, name: str, gender: Gender, unit, young: bool) -> services.CadreData:
    # Half the cadres are under 35 in 2026: the first qualification exams are for them.
    birth_year = rng.randint(1992, 2000) if young else rng.randint(1968, 1991)
    rank = rng.choices(list(Rank), weights=(1, 2, 3, 4) if young else (3, 3, 2, 2))[0]
    return services.CadreData(
        employee_number=number,
        name=name,
        gender=gender,
        birth_date=date(birth_year, rng.randint(1, 12), rng.randint(1, 28)),
        unit=unit,
        rank=rank,
        position=rng.choice(_POSITIONS[rank].get(unit.kind) or _POSITIONS[rank][None]),
        education=rng.choices(list(Education), weights=(1, 4, 8, 3, 1))[0],
        political_status=rng.choices(list(PoliticalStatus), weights=(12, 1, 2, 1, 2))[0],
        phone=f"139{rng.randint(10000000, 99999999)}",
    )
