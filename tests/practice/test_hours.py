"""Practice time counted as self-study: the stated rule (time since the previous answer, at most five minutes; a
mock its time), half hours within the district's yearly cap, entries the cadre confirms and a keeper reviews."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from archive import records
from archive.models import ArchiveEntry, EntryKind, EntryStatus
from core.errors import DomainError
from core.extensions import db as _db
from core.models import local_today, now_utc
from core.policy import Role
from practice import hours, services
from practice.models import Mode
from tests.factories import make_user


def _practise(cadre, bank, now, gaps):
    """Answer one question after each gap (in seconds), from a session started at `now`."""
    session = services.start(cadre, now, mode=Mode.CATEGORY, bank=bank)
    when = now
    for i, gap in enumerate(gaps):
        when = when + timedelta(seconds=gap)
        services.answer(session, i, ANY_ANSWER[services.current(session, when).question.type], when)
    return when


#: An answer of each type's shape (right or wrong does not matter to the time).
ANY_ANSWER = {"single": 0, "multiple": [0], "truefalse": True, "fill": ["甲", "乙"], "essay": "略"}


def test_practice_time_follows_the_rule(opened):
    bank, _chapter, _questions, cadre, _admin = opened
    now = now_utc() - timedelta(hours=2)
    _practise(cadre, bank, now, [60, 120, 3600, 30])  # the hour's gap counts five minutes
    seconds, answers = hours.practised_seconds(cadre.id, local_today(now).year)
    assert (seconds, answers) == (60 + 120 + 300 + 30, 4)


def test_hours_are_offered_in_half_hours_within_the_cap_and_claimed_once(opened):
    bank, _chapter, _questions, cadre, admin = opened
    now = now_utc()
    year = records.local_today(now).year
    assert hours.offer(cadre, now) is None  # the district has set no cap: practice does not count
    records.set_required_hours(admin, year, 40, now, practice_cap=1)
    start = now - timedelta(hours=3)
    _practise(cadre, bank, start, [300] * 5)  # 25 minutes
    found = hours.offer(cadre, now)
    assert found.offered == 0 and found.cap == 1
    with pytest.raises(DomainError):
        hours.claim(cadre, now)
    # Another five answers in another session: 50 minutes in all, so half an hour on offer.
    _practise(cadre, bank, start + timedelta(hours=1), [300] * 5)
    found = hours.offer(cadre, now)
    assert found.offered == 0.5
    entry = hours.claim(cadre, now)
    assert (entry.kind, entry.status, float(entry.hours)) == (EntryKind.SELF_STUDY, EntryStatus.PENDING, 0.5)
    assert hours.offer(cadre, now).offered == 0  # claimed once
    # Turned down by the keeper: the hours are on offer again.
    records.review_entry(admin, entry, cadre.cadre, False, "请补充说明", now)
    assert hours.offer(cadre, now).offered == 0.5


def test_the_cap_bounds_the_hours(opened):
    bank, _chapter, _questions, cadre, admin = opened
    now = now_utc()
    records.set_required_hours(admin, records.local_today(now).year, 40, now, practice_cap=0.5)
    first = now - timedelta(hours=6)
    for n in range(3):  # 75 minutes in all
        _practise(cadre, bank, first + timedelta(hours=n), [300] * 5)
    assert hours.offer(cadre, now).offered == 0.5  # an hour's worth, capped at half an hour


def test_the_page_adds_the_hours_and_the_district_sets_the_cap(client, auth, opened):
    bank, _chapter, _questions, cadre, admin = opened
    now = now_utc()
    records.set_required_hours(admin, records.local_today(now).year, 40, now, practice_cap=2)
    start = now - timedelta(hours=2)
    for n in range(2):  # 50 minutes
        _practise(cadre, bank, start + timedelta(minutes=30 * n), [300] * 5)
    _db.session.commit()
    auth.login(cadre.username)
    html = client.get("/practice/").get_data(as_text=True)
    assert 'data-offered="0.5"' in html
    assert client.post_form("/practice/hours").status_code == 302
    entry = _db.session.scalar(select(ArchiveEntry).where(ArchiveEntry.user_id == cadre.id))
    assert entry.kind == EntryKind.SELF_STUDY and float(entry.hours) == 0.5
    auth.logout()
    district = make_user(roles=(Role.ORG_ADMIN,))
    _db.session.commit()
    auth.login(district.username)
    year = records.local_today(now).year
    client.post_form("/archive/years", {"year": str(year), "required_hours": "40", "practice_hours_cap": "8"})
    _db.session.expire_all()
    assert float(records.archive_year(year).practice_hours_cap) == 8
