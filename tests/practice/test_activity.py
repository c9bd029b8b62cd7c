"""The units' practice activity: per unit of the viewer's scope, cadres who practised, answers and the share right;
the weakest knowledge points; counts only, and only the viewer's units."""

from datetime import timedelta

from core.extensions import db as _db
from core.models import now_utc
from core.policy import Role
from practice import activity, services
from practice.models import Mode
from question_bank import services as qb
from tests.factories import make_bank, make_cadre, make_question, make_unit, make_user, make_user_with_role


def _world():
    admin = make_user(roles=(Role.SYSTEM_ADMIN,))
    bank = make_bank(actor=admin)
    for _ in range(25):
        q = make_question(bank, actor=admin, status="active")
        q.tags = qb.get_tags(["党章"])
    qb.open_for_practice(admin, bank, True, now_utc())
    town = make_unit("青山镇")
    village = make_unit("青山村", parent=town)
    other = make_unit("绿水镇")
    return bank, town, village, other


def _practise(user, bank, right: int, wrong: int, when):
    session = services.start(user, when, mode=Mode.CATEGORY, bank=bank)
    for i in range(right + wrong):
        services.answer(session, i, 0 if i < right else 1, when)


def test_a_unit_admin_sees_the_counts_of_their_units_only(db):
    bank, town, village, other = _world()
    now = now_utc()
    a, b = make_cadre(unit=town).user, make_cadre(unit=village).user
    make_cadre(unit=village)  # serving, not practising
    far = make_cadre(unit=other).user
    _practise(a, bank, right=3, wrong=1, when=now)
    _practise(b, bank, right=1, wrong=1, when=now - timedelta(days=2))
    _practise(far, bank, right=5, wrong=0, when=now)
    old = make_cadre(unit=town).user
    _practise(old, bank, right=0, wrong=4, when=now - timedelta(days=activity.WINDOW_DAYS + 1))  # out of the window
    viewer = make_user_with_role("unit_admin", unit=town)
    _db.session.commit()
    rows = {r.unit.name: r for r in activity.by_unit(viewer, now)}
    assert set(rows) == {"青山镇", "青山村"}
    assert (rows["青山镇"].cadres, rows["青山镇"].practising, rows["青山镇"].answers) == (3, 1, 4)  # the viewer too
    assert rows["青山镇"].share == 0.75
    assert (rows["青山村"].cadres, rows["青山村"].practising, rows["青山村"].answers) == (2, 1, 2)
    district = make_user(roles=(Role.ORG_ADMIN,))
    assert {r.unit.name for r in activity.by_unit(district, now)} >= {"青山镇", "青山村", "绿水镇"}


def test_the_weak_knowledge_points_need_enough_answers(db):
    bank, town, _village, _other = _world()
    now = now_utc()
    cadre = make_cadre(unit=town).user
    _practise(cadre, bank, right=5, wrong=activity.MIN_ANSWERS - 6, when=now)  # one answer short
    viewer = make_user_with_role("unit_admin", unit=town)
    _db.session.commit()
    assert activity.weak_points(viewer, now) == []
    _practise(make_cadre(unit=town).user, bank, right=0, wrong=1, when=now)
    (weak,) = activity.weak_points(viewer, now)
    assert weak.tag == "党章" and weak.answers == activity.MIN_ANSWERS and weak.practising == 2
    assert weak.share == 5 / activity.MIN_ANSWERS


def test_the_page_shows_counts_and_no_names(client, auth, db):
    bank, town, _village, _other = _world()
    cadre = make_cadre(unit=town).user
    _practise(cadre, bank, right=2, wrong=1, when=now_utc())
    _db.session.commit()
    auth.login_as("unit_admin", unit=town)
    html = client.get("/practice/activity").get_data(as_text=True)
    assert 'data-practising="1" data-answers="3"' in html and cadre.name not in html
