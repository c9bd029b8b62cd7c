"""The candidate's place on their result page, read from the kept ranking (reports.standing): correct after a
regrade, a voiding and an appeal's new mark once the job has ranked the exam again; meanwhile never the old rank
for a candidate whose own score moved ("being computed"); and the result reads send no aggregate over the exam."""

import re
from datetime import timedelta

from sqlalchemy import func, select

from core.extensions import db as _db
from core.models import now_utc
from exam import adjustments
from jobs import engine
from jobs.models import Job, JobState
from reports import ranking
from reports.jobs import RANKING
from reports.models import RankSet
from tests.exam.test_hot_paths import statements
from tests.factories import make_cadre, make_unit, make_user
from tests.reports.test_jobs import _correct_q1
from tests.reports.test_reports import exam_of, sit


def _shown(client, attempt) -> tuple:
    """(state, rank, ranked) of the standing on the result page: ("kept", 2, 3), ("pending", None, None), or None."""
    html = client.get(f"/my/attempts/{attempt.id}/result").get_data(as_text=True)
    found = re.search(r'id="standing" data-standing="(\w+)"(?: data-rank="(\d+)" data-ranked="(\d+)")?', html)
    if found is None:
        return None
    state, rank, ranked = found.groups()
    return state, rank and int(rank), ranked and int(ranked)


def _as(auth, user) -> None:
    auth.logout()
    assert auth.login(user.username).status_code == 302


def _live(exam, attempt) -> tuple:
    """The standing computed live over every attempt (ranking.standing): the oracle."""
    _db.session.expire_all()
    place = ranking.standing(exam, attempt.user)
    return "kept", place["rank"], place["ranked"]


def _waiting_jobs() -> int:
    return _db.session.scalar(
        select(func.count(Job.id)).where(Job.kind == RANKING, Job.state.in_((JobState.QUEUED, JobState.RETRYING)))
    )


def _ranked_world():
    """Three candidates: 3, 1 and 0 points (q0 q1 q2 right; q0; none). Correcting q1's key to B gives 2, 2, 1."""
    exam = exam_of(k=3, pass_mark=1, release_policy="immediate", code="S1")
    unit = make_unit()
    patterns = [(0, 0, 0), (0, 1, 1), (1, 1, 1)]
    attempts = [sit(exam, make_cadre(unit=unit), p, start_minute=i, minutes=5) for i, p in enumerate(patterns)]
    _db.session.commit()
    return exam, attempts


def test_the_first_view_asks_for_the_ranking_and_the_next_shows_it(app, db, client, auth, queued_jobs):
    exam, attempts = _ranked_world()
    _as(auth, attempts[1].user)
    assert _shown(client, attempts[1]) == ("pending", None, None)  # nothing kept yet: never a rank made up
    assert _shown(client, attempts[1]) == ("pending", None, None)
    assert _waiting_jobs() == 1  # one job for every reader who found the ranking out of date
    assert engine.run_pending() == 1
    assert _shown(client, attempts[1]) == _live(exam, attempts[1]) == ("kept", 2, 3)
    assert _waiting_jobs() == 0


def test_a_regrade_shows_being_computed_then_the_new_rank(app, db, client, auth, queued_jobs):
    exam, attempts = _ranked_world()
    ranking.kept_ranks(exam, exam.opens_at + timedelta(hours=3))  # kept after every attempt ended
    _db.session.commit()
    _as(auth, attempts[2].user)
    assert _shown(client, attempts[2]) == ("kept", 3, 3)
    _correct_q1(exam)  # 3, 1, 0 -> 2, 2, 1: every score moves
    assert _waiting_jobs() == 1  # asked by the regrade itself, once for the three attempts
    for attempt in attempts:  # each one's own score is newer than the kept ranking: not its old rank
        _as(auth, attempt.user)
        assert _shown(client, attempt) == ("pending", None, None)
    assert _waiting_jobs() == 1
    engine.run_pending()
    for attempt in attempts:
        _as(auth, attempt.user)
        assert _shown(client, attempt) == _live(exam, attempt)
    assert [_live(exam, a)[1:] for a in attempts] == [(1, 3), (2, 3), (3, 3)]  # 2, 2 (the earlier first), 1


def test_a_voiding_moves_the_others_up_once_ranked_again(app, db, client, auth, queued_jobs):
    exam, attempts = _ranked_world()
    ranking.kept_ranks(exam, exam.opens_at + timedelta(hours=3))
    _db.session.commit()
    _as(auth, attempts[2].user)
    assert _shown(client, attempts[2]) == ("kept", 3, 3)
    adjustments.void(attempts[0], make_user(), "替考", exam.opens_at + timedelta(hours=4))
    _db.session.commit()
    assert _waiting_jobs() == 1  # the voiding asked for it
    # Meanwhile the kept rank, labelled with the time it was ranked: this candidate's own score has not moved.
    assert _shown(client, attempts[2]) == ("kept", 3, 3)
    _as(auth, attempts[0].user)
    assert _shown(client, attempts[0]) is None  # voided: not ranked
    # Ranked again (as the job would, at a time after the attempts ended: the tests' sittings are dated ahead).
    ranking.kept_ranks(exam, exam.opens_at + timedelta(hours=4, minutes=30))
    _db.session.commit()
    _as(auth, attempts[2].user)
    assert _shown(client, attempts[2]) == _live(exam, attempts[2]) == ("kept", 2, 2)
    adjustments.restore(attempts[0], make_user(), "复查", exam.opens_at + timedelta(hours=5))
    _db.session.commit()
    assert _waiting_jobs() == 1  # the first job waits still: the restoring asks for no other
    engine.run_pending()
    assert _shown(client, attempts[2]) == _live(exam, attempts[2]) == ("kept", 3, 3)


def test_an_appeals_new_mark_shows_being_computed_then_the_new_rank(app, db, client, auth, queued_jobs):
    from core.policy import Role
    from results import appeals
    from tests.results.test_appeals import _in_notice
    from tests.results.world import essay

    exam, people, attempts, _registrar, _notice = _in_notice(db)
    grader = make_user(roles=(Role.GRADER,))
    ranking.kept_ranks(exam, now_utc())
    _db.session.commit()
    _as(auth, people[1])
    before = _shown(client, attempts[1])
    assert before == _live(exam, attempts[1]) and before[0] == "kept"
    before_at = _db.session.get(RankSet, exam.id).computed_at
    written = essay(db, attempts[1])
    appeal = appeals.file(people[1], exam, {written.position: "第二个要点已答到"}, "论述题评分偏低", now_utc())
    _db.session.commit()
    appeals.decide(grader, appeal.items[0], True, 2, "第二个要点应给分", now_utc())
    _db.session.commit()
    assert _waiting_jobs() == 1
    assert _shown(client, attempts[1]) == ("pending", None, None)
    engine.run_pending()
    assert _shown(client, attempts[1]) == _live(exam, attempts[1])
    assert _db.session.get(RankSet, exam.id).computed_at > before_at  # ranked again after the appeal


def test_a_job_that_no_worker_takes_is_not_waited_for(app, db, client, auth, queued_jobs):
    exam, attempts = _ranked_world()
    _as(auth, attempts[0].user)
    assert _shown(client, attempts[0]) == ("pending", None, None)
    app.config["REPORTS_RANKING_WAIT"] = -1  # the job has waited longer than that for a worker
    try:
        assert _shown(client, attempts[0]) == _live(exam, attempts[0]) == ("kept", 1, 3)
    finally:
        app.config["REPORTS_RANKING_WAIT"] = 60


AGGREGATE = re.compile(r"\b(count|sum|max|min|avg|rank|row_number)\s*\(", re.IGNORECASE)


def _result_reads(client, attempt, headers) -> tuple[list[str], list[str]]:
    page_url, api_url = f"/my/attempts/{attempt.id}/result", f"/api/v1/attempts/{attempt.id}"
    with statements() as sent:
        assert client.get(page_url).status_code == 200
    with statements() as api:
        response = client.get(api_url, headers=headers)
    assert response.status_code == 200 and response.get_json()["result"]["fully_graded"] is True
    return sent, api


def test_the_result_reads_send_no_aggregate_and_a_few_statements_whatever_the_exam_size(app, db, client, auth):
    """The result page and the API's attempt after the submit: no statement aggregates over the exam (a live
    standing would), and as many statements with 3 or 30 candidates ranked."""
    from accounts.identity import IdentityCache
    from accounts.services import create_api_token

    # The process's clock stands still: the auth epoch's once-a-second read never falls into a counted request.
    app.extensions["auth_identities"] = IdentityCache(clock=lambda: 0.0)
    exam, attempts = _ranked_world()
    unit = make_unit()
    counts = []
    for more in (0, 27):
        for i in range(more):
            sit(exam, make_cadre(unit=unit), (0, i % 2, 1), start_minute=10 + i, minutes=5)
        _db.session.commit()
        ranking.kept_ranks(exam, now_utc())
        _db.session.commit()
        attempt = attempts[1]
        _as(auth, attempt.user)
        headers = {"Authorization": f"Bearer {create_api_token(attempt.user, 'test', now_utc())}"}
        _db.session.commit()
        # Once read in this process (the exam's total, the attempt's kept facts), then counted.
        assert 'data-standing="kept"' in client.get(f"/my/attempts/{attempt.id}/result").get_data(as_text=True)
        assert client.get(f"/api/v1/attempts/{attempt.id}", headers=headers).status_code == 200  # the token known
        page, api = _result_reads(client, attempt, headers)
        for statement in page + api:
            assert not AGGREGATE.search(statement), statement
        assert not [s for s in page + api if "exam_ranks" in s and "attempts" in s.split("FROM", 1)[-1]], page
        counts.append((len(page), len(api)))
    assert counts[0] == counts[1], counts
    page_count, api_count = counts[0]
    # The page: the login's session and roles, the attempt, the exam, its lifecycle row, the answers (progress), the
    # kept standing, the cadre (a link). The API (its token known to the process): the attempt, the exam, its lifecycle.
    assert page_count <= 8 and api_count <= 5, "\n".join(page + ["--"] + api)
    assert _db.session.get(RankSet, exam.id).ranked == 30


def test_an_official_exams_result_page_sends_no_aggregate_either(app, db, client, auth):
    """Marked, not yet checked: the score waits for the notice, and the page's lifecycle state asks only whether an
    attempt still waits (results.lifecycle), with no count over the exam."""
    from results import lifecycle
    from results.models import State
    from tests.results.world import official_exam

    exam, people, attempts, _registrar = official_exam(db, n=3)
    assert lifecycle.state(exam, now_utc()) == State.MARKED
    _as(auth, people[1])
    url = f"/my/attempts/{attempts[1].id}/result"
    client.get(url)
    with statements() as sent:
        html = client.get(url).get_data(as_text=True)
    assert 'id="standing"' not in html  # no score before the notice, so no place
    assert not [s for s in sent if AGGREGATE.search(s)], sent
