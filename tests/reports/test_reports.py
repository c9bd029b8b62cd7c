"""Rankings, statistics and item analysis: the ranking rules (property-based), figures checked against values
computed here independently, a hand-worked item analysis, scope, exports, and what candidates may see."""

import io
import itertools
import math
import random
import statistics as stats
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select

from core.extensions import db as _db
from core.models import LOCAL_ZONE
from core.policy import Role
from exam import answers, grading, publishing
from exam.attempts import start_attempt, submit
from exam.models import Attempt, AttemptStatus, Paper
from reports import history, items, ranking, statistics
from reports.ranking import Filters
from tests.exam.test_engine import T0, make_exam
from tests.factories import make_bank, make_cadre, make_question, make_unit, make_user, make_user_with_role

ADMIN_ROLES = (Role.ORG_ADMIN,)


def sit(exam, cadre, pattern, start_minute, minutes, now_offset=None):
    """The cadre sits the exam: for question i (its stem ends with "#i"), `pattern[i]` is the shown option chosen
    (None: unanswered). Starts at T0 + start_minute and submits `minutes` later."""
    start = T0 + timedelta(minutes=start_minute)
    attempt = start_attempt(exam, cadre.user, start)
    for item in attempt.paper.items:
        index = int(item.version.stem.rsplit("#", 1)[1].split("<")[0])
        choice = pattern[index]
        if choice is not None:
            answers.save_answer(attempt, item.position, item.option_order.index(choice), 1, start)
    submit(attempt, start + timedelta(minutes=minutes))
    return attempt


def exam_of(k=3, pass_mark=2, code="R1", options=("甲", "乙", "丙", "丁"), **kwargs):
    """A published exam of k single-choice questions (key: option 0), 1 point each, every paper the same set."""
    bank = make_bank()
    for i in range(k):
        make_question(bank=bank, qtype="single", status="active", stem=f"题目#{i}", options=list(options), answer=[0])
    exam = make_exam(bank, sections=(("single", k, 1.0),), code=code, pass_mark=pass_mark, shuffle_questions=False,
                     shuffle_options=False, **kwargs)  # fmt: skip
    publishing.publish(make_user(roles=ADMIN_ROLES), exam, T0 - timedelta(days=1))
    return exam


# ---------------------------------------------------------------- item analysis, worked by hand


def test_item_analysis_on_a_hand_worked_example(app, db):
    """Four candidates, three questions (key A). Right (1) or wrong:
         q0 q1 q2  total
    C1    1  1  1    3
    C2    1  1  0    2      C2 chose C on q2
    C3    1  0  0    1      C3 chose B on q1, B on q2
    C4    0  0  0    0      C4 chose B on q0, D on q1, q2 left blank
    Top and bottom groups: ceil(0.27 * 4) = 2 candidates each: {C1, C2} and {C3, C4}.
    q0: facility 3/4; rest scores (total - item) 2, 1, 0, 0: r = 0.1875 / sqrt(0.1875 * 0.6875) = 0.52223;
        upper-lower = 2/2 - 1/2 = 0.5.
    q1: facility 1/2; rest 2, 1, 1, 0: r = 0.25 / sqrt(0.25 * 0.5) = 0.70711; upper-lower = 1 - 0 = 1.
    q2: facility 1/4; rest 2, 2, 1, 0: r = 0.1875 / sqrt(0.1875 * 0.6875) = 0.52223; upper-lower = 0.5 - 0 = 0.5.
    Alpha: item variances 0.1875 + 0.25 + 0.1875 = 0.625; totals 3, 2, 1, 0 have variance 1.25;
        alpha = 3/2 * (1 - 0.625 / 1.25) = 0.75.
    """
    exam = exam_of()
    unit = make_unit()
    patterns = [(0, 0, 0), (0, 0, 2), (0, 1, 1), (1, 3, None)]
    for i, pattern in enumerate(patterns):
        sit(exam, make_cadre(unit=unit), pattern, start_minute=i, minutes=10)
    data = items.compute(exam)
    assert data["n"] == 4
    q = {int(i["stem"].rsplit("#", 1)[1]): i for i in data["items"]}
    assert [q[k]["facility"] for k in range(3)] == [0.75, 0.5, 0.25]
    assert [round(q[k]["point_biserial"], 5) for k in range(3)] == [0.52223, 0.70711, 0.52223]
    assert [q[k]["discrimination_index"] for k in range(3)] == [0.5, 1.0, 0.5]
    assert math.isclose(data["reliability"]["alpha"], 0.75)
    assert data["reliability"]["kr20"] is True
    # Options chosen (A is the key): everyone / top group / bottom group.
    chosen = {k: [(o["all"], o["upper"], o["lower"]) for o in q[k]["options"]] for k in range(3)}
    assert chosen[0] == [(3, 2, 1), (1, 0, 1), (0, 0, 0), (0, 0, 0)]
    assert chosen[1] == [(2, 2, 0), (1, 0, 1), (0, 0, 0), (1, 0, 1)]
    assert chosen[2] == [(1, 1, 0), (1, 0, 1), (1, 1, 0), (0, 0, 0)]
    assert q[2]["omitted"] == [1, 0, 1]
    assert [o["key"] for o in q[0]["options"]] == [True, False, False, False]
    # Sections: mean points per candidate 1.5 of 3.
    assert data["sections"][0]["mean"] == 1.5 and data["sections"][0]["rate"] == 0.5


def test_flags_name_the_likely_bad_items():
    base = {"n": 40, "facility": 0.6, "point_biserial": 0.4, "options": None}
    assert items.flags(base) == []
    assert items.flags({**base, "point_biserial": -0.2}) == ["negative_discrimination"]
    assert items.flags({**base, "point_biserial": 0.05}) == ["low_discrimination"]
    assert items.flags({**base, "facility": 0.97}) == ["too_easy"]
    assert items.flags({**base, "facility": 0.1}) == ["too_hard"]
    options = [{"key": True, "upper": 3}, {"key": False, "upper": 5}]
    assert items.flags({**base, "options": options}) == ["distractor"]
    assert items.flags({**base, "n": 9, "facility": 0.99}) == []  # too few answers to judge


def test_a_key_correction_feeds_back_into_the_figures(app, db):
    exam = exam_of(k=2, pass_mark=1)
    unit = make_unit()
    for i, pattern in enumerate([(0, 1), (0, 1), (1, 1), (1, 0)]):
        sit(exam, make_cadre(unit=unit), pattern, start_minute=i, minutes=10)
    admin = make_user(roles=ADMIN_ROLES)
    before, _stale = items.current(exam, T0 + timedelta(hours=4))
    q1 = next(i for i in before.data["items"] if i["stem"].endswith("#1"))
    assert q1["facility"] == 0.25
    version = next(v for v, _t, _n in grading.used_versions(exam) if v.id == q1["version_id"])
    grading.correct_key(admin, exam, version, "B", "选项B才是正确答案", T0 + timedelta(hours=4))
    after, stale = items.current(exam, T0 + timedelta(hours=5))
    assert not stale
    q1 = next(i for i in after.data["items"] if i["stem"].endswith("#1"))
    assert q1["facility"] == 0.75 and q1["key_corrected"]
    assert [o["key"] for o in q1["options"]] == [False, True, False, False]
    assert statistics.summary(exam, admin)["mean"] == 1.25  # scores 2, 2, 1, 0 after the correction


# ---------------------------------------------------------------- ranking rules


_EXAMPLES = itertools.count(1)


def _direct_exam():
    exam = exam_of(k=1, pass_mark=1, code=f"P{next(_EXAMPLES)}")
    return exam, make_unit()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 2)), min_size=1, max_size=12))
def test_rank_is_one_plus_the_number_strictly_better(app, db, rows):
    """Score (higher first), then seconds used (fewer first), then submission time (earlier first); ties share
    a rank. Generated with few distinct values so that ties are common."""
    exam, unit = _direct_exam()  # an exam of its own per example: finalized attempts are never deleted
    paper = Paper(exam_id=exam.id, user_id=make_user().id, seed=1, created_at=T0)
    _db.session.add(paper)
    _db.session.flush()
    keys = []
    for score, used, late in rows:
        cadre = make_cadre(unit=unit)
        submitted = T0 + timedelta(minutes=30 + late)
        _db.session.add(Attempt(exam_id=exam.id, user_id=cadre.user_id, number=1, paper_id=paper.id,
                                status=AttemptStatus.SUBMITTED, started_at=submitted - timedelta(seconds=60 * used),
                                deadline_at=T0 + timedelta(hours=2), ended_at=submitted, score=score,
                                fully_graded=True, passed=score >= 1))  # fmt: skip
        keys.append((-score, 60 * used, late))
    _db.session.flush()
    admin = make_user(roles=ADMIN_ROLES)
    got = _db.session.execute(ranking.ranking_query(exam, admin, Filters())).all()
    assert len(got) == len(rows)
    by_key = {}
    for r in got:
        key = (-r.score, r.seconds, (r.submitted - int((T0 + timedelta(minutes=30)).timestamp())) // 60)
        by_key.setdefault(key, set()).add(r.rank)
        assert r.rank == 1 + sum(1 for k in keys if k < key)
        assert r.tied == sum(1 for k in keys if k == key)
        own = ranking.standing(exam, _db.session.get(ranking.User, r.user_id))  # counted live, not from the kept rows
        assert (own["rank"], own["tied"], own["ranked"]) == (r.rank, r.tied, len(rows))
    assert [r.rank for r in got] == sorted(r.rank for r in got)
    assert all(len(ranks) == 1 for ranks in by_key.values())


def test_the_best_attempt_counts_when_retakes_are_allowed(app, db):
    exam = exam_of(k=2, pass_mark=1, attempts_allowed=2)
    cadre = make_cadre()
    first = sit(exam, cadre, (1, 1), start_minute=0, minutes=5)
    second = sit(exam, cadre, (0, 0), start_minute=10, minutes=5)
    rows = _db.session.execute(ranking.ranking_query(exam, make_user(roles=ADMIN_ROLES), Filters())).all()
    assert [(r.attempt_id, r.score) for r in rows] == [(second.id, 2)]
    assert first.score == 0


# ---------------------------------------------------------------- statistics, checked independently


def test_statistics_match_an_independent_computation(app, db):
    rng = random.Random(7)
    exam = exam_of(k=6, pass_mark=4, code="S1")
    units = [make_unit("一局"), make_unit("二局"), make_unit("三局")]
    by_unit = {u.id: [] for u in units}
    for i in range(23):
        unit = units[i % 3]
        attempt = sit(exam, make_cadre(unit=unit), tuple(rng.choice((0, 0, 1, None)) for _ in range(6)),
                      start_minute=i, minutes=rng.randint(5, 50))  # fmt: skip
        by_unit[unit.id].append(float(attempt.score))
    make_cadre(unit=units[0])  # may sit it, never started
    admin = make_user(roles=ADMIN_ROLES)
    scores = [s for v in by_unit.values() for s in v]
    s = statistics.summary(exam, admin)
    assert s["n"] == 23
    assert math.isclose(s["mean"], stats.mean(scores))
    assert math.isclose(s["median"], stats.median(scores))
    assert math.isclose(s["sd"], stats.pstdev(scores), rel_tol=1e-9)
    assert (s["high"], s["low"]) == (max(scores), min(scores))
    assert math.isclose(s["pass_rate"], sum(1 for x in scores if x >= 4) / 23)
    dist = statistics.distribution(exam, admin)
    assert [d["count"] for d in dist] == [sum(1 for x in scores if min(int(x * 10 / 6), 9) == b) for b in range(10)]
    rows = {r["unit_id"]: r for r in statistics.units(exam, admin)}
    for unit in units:
        values = by_unit[unit.id]
        assert rows[unit.id]["ranked"] == len(values)
        assert math.isclose(rows[unit.id]["mean"], stats.mean(values))
        assert math.isclose(rows[unit.id]["median"], stats.median(values))
    assert rows[units[0].id]["eligible"] == len(by_unit[units[0].id]) + 1
    assert rows[units[0].id]["participation"] == len(by_unit[units[0].id]) / (len(by_unit[units[0].id]) + 1)
    places = sorted((r["place"], -r["mean"]) for r in rows.values())
    assert places == sorted(places, key=lambda p: p[1])
    counts = ranking.counts(exam, admin, Filters())
    assert counts == {"eligible": 24, "started": 23, "submitted": 23, "ranked": 23, "not_started": 1, "waiting": 0}
    year = statistics.year_units(2026, admin)
    assert math.isclose(next(r for r in year["rows"] if r["unit_id"] == units[1].id)["median"],
                        stats.median([100 * x / 6 for x in by_unit[units[1].id]]))  # fmt: skip


# ---------------------------------------------------------------- scope


def test_a_unit_admin_sees_only_their_subtree(app, db, client, auth):
    exam = exam_of(k=2, pass_mark=1)
    town = make_unit("青山镇")
    office = make_unit("青山镇党政办", parent=town)
    other = make_unit("柳河镇")
    inside = [make_cadre(unit=town, name="镇内甲"), make_cadre(unit=office, name="镇内乙")]
    outside = make_cadre(unit=other, name="镇外丙")
    for i, c in enumerate([*inside, outside]):
        sit(exam, c, (0, 0), start_minute=i, minutes=5)
    admin = auth.login_as("unit_admin", unit=town)
    rows = _db.session.execute(ranking.ranking_query(exam, admin, Filters())).all()
    assert {r.name for r in rows} == {"镇内甲", "镇内乙"}
    assert ranking.counts(exam, admin, Filters())["eligible"] == 3  # the unit admin is a cadre of the town too
    assert {r["unit_id"] for r in statistics.units(exam, admin)} == {town.id, office.id}
    _db.session.commit()  # the kept ranking the calls above wrote (the pages would write it otherwise)
    page = client.get(f"/reports/exams/{exam.code}/ranking").get_data(as_text=True)
    assert "镇内甲" in page and "镇外丙" not in page
    book = load_workbook(io.BytesIO(client.get(f"/reports/exams/{exam.code}/ranking.xlsx").data))
    assert {row[3] for row in book.active.iter_rows(min_row=2, values_only=True)} == {"镇内甲", "镇内乙"}
    assert client.get(f"/reports/exams/{exam.code}/ranking?unit={other.id}").status_code == 404
    assert client.get(f"/reports/attempts/{_attempt_of(exam, outside).id}/slip.pdf").status_code == 404
    assert client.get(f"/reports/people/{outside.employee_number}/history").status_code == 404  # as for nobody
    assert client.get("/reports/people/nobody/history").status_code == 404
    exam.publish_ranking = True
    _db.session.commit()
    listing = client.get(f"/reports/exams/{exam.code}/list").get_data(as_text=True)
    assert "镇内甲" in listing and "镇外丙" not in listing  # the published list too, for a unit admin
    home = client.get("/reports/").get_data(as_text=True)
    assert f"<td>{exam.code}</td><td>" in home and ">2</td>" in home  # graded attempts in scope: 2, not 3
    assert client.get(f"/reports/exams/{exam.code}/items").status_code == 403  # item analysis is the district's


def _attempt_of(exam, cadre):
    return _db.session.scalar(select(Attempt).where(Attempt.exam_id == exam.id, Attempt.user_id == cadre.user_id))


# ---------------------------------------------------------------- exports


def _pdf_text(data: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).replace("\x00", "")


def test_exports_reopen_with_numbers_as_numbers_and_chinese_text(app, db, client, auth):
    exam = exam_of(k=3, pass_mark=2)
    unit = make_unit("区财政局")
    names = ["张明远", "李思齐", "王一帆"]
    for i, (name, pattern) in enumerate(zip(names, [(0, 0, 0), (0, 0, 1), (0, 1, 1)], strict=True)):
        sit(exam, make_cadre(unit=unit, name=name), pattern, start_minute=i, minutes=10 + i)
    _db.session.commit()
    auth.login_as("org_admin")
    response = client.get(f"/reports/exams/{exam.code}/ranking.xlsx")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    sheet = load_workbook(io.BytesIO(response.data)).active
    header = [c.value for c in sheet[1]]
    assert header[:4] == ["名次", "并列", "所列人员中的名次", "姓名"] and sheet.freeze_panes == "A2"
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[3], r[7]) for r in rows] == [(1, "张明远", 3), (2, "李思齐", 2), (3, "王一帆", 1)]
    assert isinstance(rows[0][8], int | float) and rows[0][8] == 10  # minutes, as a number
    assert sheet.column_dimensions["F"].width >= 20
    units = load_workbook(io.BytesIO(client.get(f"/reports/exams/{exam.code}/units.xlsx").data)).active
    assert units.cell(row=2, column=2).value == "区财政局" and units.cell(row=2, column=8).value == 2 / 3
    assert units.cell(row=2, column=8).number_format == "0.0%"
    analysis = load_workbook(io.BytesIO(client.get(f"/reports/exams/{exam.code}/items.xlsx").data))
    item_rows = list(analysis["题目分析"].iter_rows(min_row=2, values_only=True))
    assert sorted(r[7] for r in item_rows) == [0.333, 0.667, 1.0]  # facility, as numbers
    report = client.get(f"/reports/exams/{exam.code}/report.pdf")
    assert report.status_code == 200 and report.mimetype == "application/pdf"
    text = _pdf_text(report.data)
    assert "成绩报告" in text and "区财政局" in text and "分数分布" in text
    slip = client.get(f"/reports/attempts/{_attempt_of(exam, _cadre_named('李思齐')).id}/slip.pdf")
    text = _pdf_text(slip.data)
    assert "李思齐" in text and "第 2 名" in text and "2 / 3" in text


def _cadre_named(name):
    from accounts.models import Cadre, User

    return _db.session.scalar(select(Cadre).join(User).where(User.name == name))


# ---------------------------------------------------------------- candidates


@pytest.mark.usefixtures("clock_before_t0")
def test_a_candidate_sees_their_own_standing_and_a_published_list_only(app, db, client, auth, monkeypatch):
    exam = exam_of(k=2, pass_mark=1, release_policy="immediate")
    unit = make_unit()
    cadres = [make_cadre(unit=unit, name=n) for n in ("赵一", "钱二", "孙三")]
    attempts = [
        sit(exam, c, p, start_minute=i, minutes=5)
        for i, (c, p) in enumerate(zip(cadres, [(0, 0), (0, 1), (1, 1)], strict=True))
    ]
    _db.session.commit()
    auth.login(cadres[1].employee_number)
    exam.publish_ranking = True
    _db.session.commit()
    with monkeypatch.context() as m:  # while the exam is open, the published list waits (others are sitting)
        m.setattr("reports.views.now_utc", lambda: exam.closes_at - timedelta(minutes=1))
        assert client.get(f"/reports/exams/{exam.code}/list").status_code == 404
    exam.publish_ranking = False
    _db.session.commit()
    page = client.get(f"/my/attempts/{attempts[1].id}/result").get_data(as_text=True)
    assert "第 2 名（共 3 人）" in page and "超过 33.3% 的考生" in page
    place = ranking.standing(exam, cadres[1].user)
    assert place == {"rank": 2, "ranked": 3, "tied": 1, "attempt_id": attempts[1].id, "behind_percent": 33.3}
    assert "赵一" not in page
    assert client.get(f"/reports/exams/{exam.code}/list").status_code == 404  # the exam publishes no list
    assert client.get(f"/reports/exams/{exam.code}/ranking").status_code == 403
    assert client.get(f"/reports/attempts/{attempts[1].id}/slip.pdf").status_code == 200
    assert client.get(f"/reports/attempts/{attempts[0].id}/slip.pdf").status_code == 404  # someone else's
    exam.publish_ranking = True
    _db.session.commit()
    listing = client.get(f"/reports/exams/{exam.code}/list").get_data(as_text=True)
    assert "赵一" in listing and "孙三" in listing
    history = client.get("/reports/my/history", follow_redirects=True).get_data(as_text=True)
    assert exam.title in history


def test_a_candidate_sees_no_standing_before_the_release(app, db, client, auth):
    exam = exam_of(k=2, pass_mark=1, release_policy="manual")
    exam.publish_ranking = True
    cadre = make_cadre()
    attempt = sit(exam, cadre, (0, 0), start_minute=0, minutes=5)
    _db.session.commit()
    auth.login(cadre.employee_number)
    assert client.get(f"/reports/exams/{exam.code}/list").status_code == 404
    assert client.get(f"/reports/attempts/{attempt.id}/slip.pdf").status_code == 404


def test_qualification_progress_counts_each_standing(app, db):
    from archive.qualifications import refresh

    unit = make_unit()
    political = exam_of(k=1, pass_mark=1, code="ZZ", qualification_part="political_theory", qualification_cycle="2026")
    job = exam_of(k=1, pass_mark=1, code="GW", qualification_part="job_knowledge", qualification_cycle="2026")
    both, one, none_, absent = (make_cadre(unit=unit) for _ in range(4))
    sit(political, both, (0,), 0, 5)
    sit(job, both, (0,), 20, 5)
    sit(political, one, (0,), 1, 5)
    sit(job, one, (1,), 21, 5)
    sit(political, none_, (1,), 2, 5)
    refresh(both.user_id, "2026", T0 + timedelta(hours=1))
    data = history.progress("2026", make_user(roles=ADMIN_ROLES), date(2026, 12, 31))
    status = {r["user_id"]: r["status"] for r in data["rows"]}
    assert status[both.user_id] == "qualified"
    assert status[one.user_id] == "political_theory"
    assert status[none_.user_id] == "none"
    # Who never sat one of the cycle's exams has not failed both parts: they have not taken part yet.
    assert status[absent.user_id] == "not_sat"
    assert data["counts"] == {"qualified": 1, "lapsed": 0, "political_theory": 1, "job_knowledge": 0, "none": 1,
                              "not_sat": 1}  # fmt: skip
    assert data["total"] == sum(data["counts"].values())


@pytest.fixture(autouse=True)
def _now_after_the_exams(monkeypatch):
    """Pages read the clock: make it after the test exams' window, as on the day results are read."""
    import reports.views

    later = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)
    monkeypatch.setattr(reports.views, "now_utc", lambda: later)
    monkeypatch.setattr("exam.candidate.now_utc", lambda: later)


@pytest.mark.usefixtures("clock_before_t0")
def test_cached_figures_follow_every_change_they_rest_on(app, db):
    """The cached counts and scores are keyed by what they come from: a new cadre, a deactivation, a new
    result and a unit move each give fresh figures."""
    from accounts.services import set_cadre_active, update_unit

    exam = exam_of(k=1, pass_mark=1)
    town, other = make_unit("甲镇"), make_unit("乙镇")
    first = make_cadre(unit=town)
    admin = make_user(roles=ADMIN_ROLES)
    assert ranking.counts(exam, admin, Filters())["eligible"] == 1
    second = make_cadre(unit=town)
    assert ranking.counts(exam, admin, Filters())["eligible"] == 2
    set_cadre_active(make_user(roles=(Role.SYSTEM_ADMIN,)), second, False, T0)
    assert ranking.counts(exam, admin, Filters())["eligible"] == 1
    sit(exam, first, (0,), 0, 5)
    assert ranking.counts(exam, admin, Filters())["ranked"] == 1
    assert statistics.summary(exam, admin)["n"] == 1
    in_town = Filters(unit=town)
    assert statistics.summary(exam, admin, in_town)["n"] == 1
    update_unit(town, name=town.name, kind=town.kind, parent=other, sort_order=0)  # 甲镇 moves under 乙镇
    assert statistics.summary(exam, admin, Filters(unit=other))["n"] == 1


def _placings(html: str, table: str) -> dict[str, list[str]]:
    """Name -> the texts of the cells before it (placing, and a rank among those shown where there is one)."""
    import re

    body = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    out = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for i, cell in enumerate(cells):
            if cell and not cell[0].isdigit():
                out[cell] = cells[:i]
                break
    return out


def test_a_published_rank_is_one_number_whoever_looks(app, db, client, auth):
    """A unit admin, a cadre, and a unit admin who sat the exam too see one rank per person in the published
    list; a unit admin's own ranking adds the rank within their units beside it, labelled."""
    exam = exam_of(k=2, pass_mark=1, release_policy="immediate")
    exam.publish_ranking = True
    town, other = make_unit("青山镇"), make_unit("柳河镇")
    sit(exam, make_cadre(unit=other, name="镇外甲"), (0, 0), start_minute=0, minutes=5)
    tied = [make_cadre(unit=town, name=n) for n in ("镇内乙", "镇内丙")]
    for cadre in tied:  # the same score, time used and submission time: one shared rank
        sit(exam, cadre, (0, 1), start_minute=1, minutes=5)
    admin = auth.login_as("unit_admin", unit=town, name="镇管理员")
    sit(exam, admin.cadre, (1, 1), start_minute=2, minutes=5)  # both: the unit admin sat it too
    _db.session.commit()
    auth.logout()
    seen = {}
    for viewer in ("cadre", "both", "unit admin"):
        if viewer == "cadre":
            auth.login(tied[0].employee_number)
        elif viewer == "both":
            auth.login(admin.username)
        else:
            auth.login_as("unit_admin", unit=town)
        html = client.get(f"/reports/exams/{exam.code}/list").get_data(as_text=True)
        seen[viewer] = _placings(html, "published")
        if viewer != "cadre":
            assert "本单位范围内名次" in html
            ranking_page = client.get(f"/reports/exams/{exam.code}/ranking").get_data(as_text=True)
            assert _placings(ranking_page, "ranking")["镇内乙"] == ["2 并列", "1"]
            book = load_workbook(io.BytesIO(client.get(f"/reports/exams/{exam.code}/ranking.xlsx").data))
            rows = {r[3]: r[:3] for r in book.active.iter_rows(min_row=2, values_only=True)}
            assert rows["镇内乙"] == (2, 2, 1) and rows["镇管理员"] == (4, None, 3)
        auth.logout()
    assert seen["cadre"]["镇内乙"] == ["2 并列"] and seen["cadre"]["镇管理员"] == ["4"]
    for viewer in ("both", "unit admin"):  # the published rank first, the rank within their units beside it
        assert seen[viewer]["镇内乙"] == ["2 并列", "1"] and seen[viewer]["镇内丙"] == ["2 并列", "1"]
        assert seen[viewer]["镇管理员"] == ["4", "3"] and "镇外甲" not in seen[viewer]


def test_a_units_place_is_its_place_in_the_district_whoever_looks(app, db, client, auth):
    """A unit admin's unit tables (the exam's and the year's) show each unit's place among the district's units,
    and their place among the admin's own units beside it, labelled; the district admin sees one place."""
    exam = exam_of(k=2, pass_mark=1, release_policy="immediate")
    town, other = make_unit("青山镇"), make_unit("柳河镇")
    office = make_unit("青山镇党政办", parent=town)
    sit(exam, make_cadre(unit=other, name="镇外甲"), (0, 0), start_minute=0, minutes=5)
    sit(exam, make_cadre(unit=town, name="镇内乙"), (0, 1), start_minute=1, minutes=5)
    sit(exam, make_cadre(unit=office, name="办内丙"), (1, 1), start_minute=2, minutes=5)
    admin = make_user_with_role(Role.UNIT_ADMIN, unit=town)
    _db.session.commit()
    district = {r["unit"]: r["place"] for r in statistics.units(exam, None)}
    assert district == {"柳河镇": 1, "青山镇": 2, "青山镇党政办": 3}
    scoped = {r["unit"]: (r["place"], r["scope_place"]) for r in statistics.units(exam, admin)}
    assert scoped == {"青山镇": (2, 1), "青山镇党政办": (3, 2)}
    year = exam.opens_at.astimezone(LOCAL_ZONE).year
    assert {r["unit"]: r["place"] for r in statistics.year_units(year, admin)["rows"]} == {
        "青山镇": 2,
        "青山镇党政办": 3,
    }
    _db.session.commit()  # the kept ranking the calls above wrote
    auth.login(admin.username)
    html = client.get(f"/reports/exams/{exam.code}/units").get_data(as_text=True)
    assert "本单位范围内名次" in html and '<td>2</td><td>1</td><th scope="row">青山镇</th>' in html
    assert '<td>2</td><td>1</td><th scope="row">青山镇</th>' in client.get(f"/reports/years/{year}/units").get_data(
        as_text=True
    )
