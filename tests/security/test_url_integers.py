"""Integers in URLs and arguments past what a column holds (or past what a date holds) answer 400, 403 or 404,
never a 500: every URL rule with an integer part, and every integer argument the views read, swept with 0, -1,
2**31 and beyond, as a district admin who is also a cadre, as a plain cadre and as nobody."""

import re

import pytest
from werkzeug.routing import IntegerConverter

from core.extensions import limiter
from core.models import MAX_INT
from core.policy import Role
from tests.archive.test_access import _archive
from tests.factories import PASSWORD, make_bank, make_cadre, make_open_exam, make_unit, make_user

#: What goes into an integer part: the issue's values, the largest a column holds, and a few that do not parse.
VALUES = ["0", "-1", str(MAX_INT), str(2**31), str(2**63), str(10**30), "0000", "99999", "٣", "1" * 5000]

#: Integer query and form arguments the views read, each with the page it goes to (filled in per world).
ARGS = [
    ("GET", "/admin/audit?page={v}"),
    ("GET", "/admin/cadres?page={v}"),
    ("GET", "/admin/users?page={v}"),
    ("GET", "/exams/{exam}/eligible?page={v}"),
    ("GET", "/exams/{exam}/attempts?page={v}"),
    ("GET", "/banks/{bank}/?page={v}"),
    ("GET", "/banks/review?page={v}"),
    ("GET", "/archive/overview?year={v}"),
    ("GET", "/archive/overview/cadres?year=2026&which=met&unit={v}"),
    ("GET", "/archive/overview/cadres?year=2026&which=met&page={v}"),
    ("GET", "/archive/reading?year={v}"),
    ("GET", "/exams/{exam}/paper?pick={v}"),
    ("GET", "/exams/{exam}/paper?pick={section}&bank={v}"),
    ("GET", "/banks/{bank}/?difficulty={v}&author={v}"),
    ("GET", "/reports/exams/{exam}/ranking?unit={v}"),
    ("GET", "/reports/exams/{exam}/ranking?page={v}"),
    ("GET", "/reports/exams/{exam}/ranking?show=absent&page={v}"),
    ("POST", "/account/tokens", {"revoke": "{v}"}),
    ("POST", "/banks/{bank}/categories/change", {"category_id": "{v}", "op": "delete"}),
    ("POST", "/archive/classes/K1/enrol", {"mode": "rules", "unit_ids": "{v}"}),
    ("POST", "/archive/classes/K1/enrol", {"mode": "rules", "max_age": "{v}"}),
    ("POST", "/exams/{exam}/candidates", {"username": "{me}", "include": "add", "extra_minutes": "{v}"}),
    ("POST", "/exams/{exam}/conflicts", {"user_id": "{v}", "decision": "remove"}),
]


def _world(db):
    """An exam with sections, a bank, a class K1 and an archive, so that the other parts of a URL name something
    real and the integer part is what the request turns on."""
    unit = make_unit("青山镇")
    ids = _archive(db, unit)
    exam, _candidate = make_open_exam(code="IX1")
    bank = make_bank(code="IXB")
    db.session.commit()
    return {"exam": exam.code, "section": exam.sections[0].id, "bank": bank.code, "owner": ids["username"]}


def _login(client, db, who):
    if who == "anonymous":
        return None
    if who == "district admin and cadre":
        roles = (Role.ORG_ADMIN, Role.SYSTEM_ADMIN, Role.CADRE, Role.AUTHOR, Role.GRADER)
        user = make_user(roles=roles)
        make_cadre(user=user)
    else:
        user = make_cadre().user
    db.session.commit()
    assert client.post_form("/login", {"username": user.username, "password": PASSWORD}).status_code == 302
    return user


def _integer_rules(app):
    for rule in app.url_map.iter_rules():
        if any(isinstance(c, IntegerConverter) for c in rule._converters.values()):
            yield rule


def _paths(rule, world, me):
    """The rule's path with each value in each integer part (the others real: the exam, class, own username)."""
    names = {name for name, c in rule._converters.items() if isinstance(c, IntegerConverter)}
    for value in VALUES:
        path = rule.rule
        for name in rule._converters:
            if name in names:
                filler = value
            elif rule.rule.startswith("/archive/classes/"):
                filler = "K1"
            elif name == "username":
                filler = me or world["owner"]
            else:
                filler = {"/banks": world["bank"]}.get(rule.rule[:6], world["exam"])
            path = re.sub(rf"<[^>]*\b{name}>", filler, path)
        yield value, path


def _ok(status, location, who, path):
    if status >= 500:
        return False
    if who == "anonymous":
        return status in (400, 401, 404) or status == 302 and "/login" in location
    return status in (400, 403, 404) or path.startswith("/api/") and status == 401


@pytest.mark.parametrize("who", ["district admin and cadre", "cadre", "anonymous"])
def test_every_integer_part_of_every_url_answers_400_403_or_404(app, client, db, who):
    world = _world(db)
    me = _login(client, db, who)
    csrf = client.csrf_token()
    rules = list(_integer_rules(app))
    assert len(rules) > 40  # the sweep reaches them all, API included
    wrong = []
    for rule in rules:
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for value, path in _paths(rule, world, me and me.username):
                limiter.reset()
                if path.startswith("/api/"):
                    response = client.open(path, method=method, json={}, headers={"X-CSRFToken": csrf})
                else:
                    response = client.open(path, method=method, data={"csrf_token": csrf} if method != "GET" else None)
                status, location = response.status_code, response.headers.get("Location", "")
                response.close()
                if not _ok(status, location, who, path):
                    wrong.append((method, rule.rule, value[:20], status))
    assert wrong == []


@pytest.mark.parametrize("who", ["district admin and cadre", "cadre"])
def test_integer_arguments_past_a_column_never_reach_the_database(app, client, db, who):
    """Past the range an argument is no number: the page answers as for a missing or bad one (200 with the default,
    a redirect with a message, or 400/403/404), never 500."""
    world = _world(db)
    me = _login(client, db, who)
    wrong = []
    for method, template, *form in ARGS:
        for value in VALUES:
            limiter.reset()
            fill = {**world, "v": value, "me": me.username}
            url = template.format(**fill)
            if method == "GET":
                response = client.get(url)
            else:
                response = client.post_form(url, {k: v.format(**fill) for k, v in form[0].items()})
            if response.status_code >= 500:
                wrong.append((template, value[:20], response.status_code))
    assert wrong == []


@pytest.mark.parametrize(
    "url", ["/reports/years/0/units", "/reports/years/0/units.xlsx", "/archive/entries/" + str(2**63)]
)
def test_the_reviews_examples(client, auth, url):
    auth.login_as("cadre")
    assert client.get(url).status_code == 404
