"""The admin API for the personnel system: system accounts and scoped tokens, units and cadres upserted
idempotently, exams, results, archives and qualifications read, all scoped as the pages are, with personal data
masked unless the token may read it (and then audited)."""

from datetime import date, timedelta

from sqlalchemy import func, select

from accounts import personal, system
from accounts.models import ApiToken, Cadre, Unit, User
from archive.models import ArchiveEntry, Qualification
from core.audit import AuditEvent
from core.errors import DomainError
from core.models import now_utc
from tests.factories import PASSWORD, make_cadre, make_open_exam, make_user
from tests.integration.conftest import cadre_body

ID_NUMBER = "11010519491231002X"


def _events(db, action):
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


# ---------------------------------------------------------------- tokens and who they reach


def test_a_system_token_reaches_the_admin_api_and_nothing_else(systems, client):
    headers = systems.token()
    assert client.get("/api/v1/admin/units", headers=headers).status_code == 200
    assert client.get("/api/v1/exams", headers=headers).status_code == 401  # the candidate API
    page = client.get("/admin/cadres", headers=headers)  # a page an org admin may read
    assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_people_are_refused_even_with_every_role(systems, client, auth, db):
    # The operator is an organisation-department admin and a cadre: the pages are theirs, the admin API is not.
    from accounts.services import create_api_token

    token = create_api_token(systems.operator, "mine", now_utc())
    db.session.commit()
    response = client.get("/api/v1/admin/units", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "system_token_required"
    assert auth.login(systems.operator.username).status_code == 302
    response = client.get("/api/v1/admin/cadres")
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "system_token_required"
    assert client.get("/api/v1/admin/units", headers={"Authorization": "Bearer qe_nonsense"}).status_code == 401


def test_each_operation_needs_its_scope(systems, client):
    headers = systems.token(["units:read"])
    response = client.get("/api/v1/admin/cadres", headers=headers)
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "insufficient_scope"
    assert "cadres:read" in response.get_json()["error"]["message"]
    assert client.put("/api/v1/admin/units/X1", headers=headers, json={"name": "x", "kind": "other"}).status_code == 403
    assert client.get("/api/v1/admin/units", headers=headers).status_code == 200


def test_a_revoked_token_stops_at_once_and_revocation_is_audited(systems, client, db):
    headers = systems.token(["units:read"])
    assert client.get("/api/v1/admin/units", headers=headers).status_code == 200
    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == systems.district.id))
    system.revoke_token(systems.operator, row.id, now_utc())
    db.session.commit()
    assert client.get("/api/v1/admin/units", headers=headers).status_code == 401
    (event,) = _events(db, "token.revoked")
    assert event.actor_id == systems.operator.id and event.detail["reason"] == "system"


def test_a_disabled_system_account_or_a_removed_role_stops_its_tokens(systems, client, db):
    headers = systems.token(["units:read"])
    assert client.get("/api/v1/admin/units", headers=headers).status_code == 200
    systems.district.roles.clear()
    db.session.commit()
    assert client.get("/api/v1/admin/units", headers=headers).status_code == 403  # the role bounds the token
    systems.district.active = False
    db.session.commit()
    assert client.get("/api/v1/admin/units", headers=headers).status_code == 401


def test_minting_is_audited_with_the_scopes_and_scopes_are_checked(systems, db):
    systems.token(["cadres:read", "units:read"])
    (event,) = _events(db, "token.created_system")
    assert event.actor_id == systems.operator.id and event.target == f"user:{systems.district.id}"
    assert event.detail["scopes"] == ["units:read", "cadres:read"]  # in the document's order
    for bad in ([], ["cadres:delete"], ["units:read", "everything"]):
        try:
            system.mint_token(systems.operator, systems.district, "x", bad, now_utc())
        except DomainError as exc:
            assert exc.code == "bad_scope"
        else:
            raise AssertionError(bad)


def test_system_accounts_are_no_people(systems, client, db):
    from accounts import services

    account = systems.district
    # No web login whatever is typed, not even after an attempt to give it a password.
    for password in (PASSWORD, ""):
        response = client.post_form("/login", {"username": account.username, "password": password})
        assert response.status_code == 200
    account.set_password(PASSWORD)
    db.session.commit()
    assert client.post_form("/login", {"username": account.username, "password": PASSWORD}).status_code == 200
    admin = make_user(roles=("system_admin",))
    for call in (
        lambda: services.reset_password(admin, account, now_utc()),
        lambda: services.create_api_token(account, "personal", now_utc()),  # a person's token would open the pages
        lambda: services.create_api_only_token(admin, account, "script", now_utc()),
        lambda: services.grant_role(admin, account, "author"),
    ):
        try:
            call()
        except DomainError:
            pass
        else:
            raise AssertionError("a system account was treated as a person")
    # A plain cadre or a unit admin manages no system account; a person gets no scoped token.
    cadre = make_cadre().user
    for actor in (cadre, make_user(roles=("grader", "author"))):
        try:
            system.create_account(actor, "sneaky", "", [], now_utc())
        except DomainError as exc:
            assert exc.status == 403
        else:
            raise AssertionError(actor)
    try:
        system.mint_token(systems.operator, cadre, "x", ["units:read"], now_utc())
    except DomainError as exc:
        assert exc.code == "not_system"
    else:
        raise AssertionError("a person got a scoped token")


def test_the_cli_makes_accounts_and_tokens_lists_and_revokes(app, db, runner):
    make_user(username="root", roles=("system_admin",))
    db.session.commit()
    result = runner.invoke(args=["accounts", "system-account", "hr2", "--name", "人事系统"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["accounts", "system-token", "hr2", "--scope", "units:read cadres:read"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("qe_")
    client = app.test_client()
    assert client.get("/api/v1/admin/units", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    listing = runner.invoke(args=["accounts", "system-tokens"])
    assert "hr2" in listing.output and "units:read cadres:read" in listing.output and token not in listing.output
    token_id = db.session.scalar(select(ApiToken.id).join(User).where(User.username == "hr2"))
    assert runner.invoke(args=["accounts", "revoke-system-token", str(token_id)]).exit_code == 0
    assert client.get("/api/v1/admin/units", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    bad = runner.invoke(args=["accounts", "system-token", "hr2", "--scope", "root"])
    assert bad.exit_code == 1 and "root" in bad.output and "units:read" in bad.output
    assert runner.invoke(args=["accounts", "system-token", "root", "--scope", "units:read"]).exit_code == 1
    personal = runner.invoke(args=["accounts", "token", "hr2"])  # a person's token would open the web pages
    assert personal.exit_code == 1 and "system-token" in personal.output
    result = runner.invoke(args=["accounts", "system-token", "hr2", "--scope", "units:read"])
    token = result.stdout.strip().splitlines()[-1]
    assert runner.invoke(args=["accounts", "disable-system-account", "hr2"]).exit_code == 0
    assert client.get("/api/v1/admin/units", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert "(disabled)" in runner.invoke(args=["accounts", "system-tokens"]).output
    assert runner.invoke(args=["accounts", "enable-system-account", "hr2"]).exit_code == 0
    assert client.get("/api/v1/admin/units", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert runner.invoke(args=["accounts", "disable-system-account", "root"]).exit_code == 1  # a person
    kinds = db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("system.account_%")))
    assert sorted(kinds) == ["system.account_activated", "system.account_created", "system.account_deactivated"]


# ---------------------------------------------------------------- units


def test_units_are_listed_in_scope(systems, client):
    district = client.get("/api/v1/admin/units", headers=systems.token()).get_json()
    assert [u["code"] for u in district] == ["QW", "QSZ", "LSZ"]
    assert district[1] == {"code": "QSZ", "name": "青山镇", "kind": "town", "parent": "QW", "sort_order": 0,
                           "active": True}  # fmt: skip
    town = client.get("/api/v1/admin/units", headers=systems.token(account=systems.town_account)).get_json()
    assert [u["code"] for u in town] == ["QSZ"]


def test_a_unit_is_upserted_by_its_code(systems, client, db):
    headers = systems.token()
    body = {"name": "青山镇党政办", "kind": "department", "parent": "QSZ"}
    first = client.put("/api/v1/admin/units/QSZ-DZB", headers=headers, json=body)
    assert first.status_code == 201 and first.get_json()["created"] is True
    again = client.put("/api/v1/admin/units/QSZ-DZB", headers=headers, json=body)
    assert again.status_code == 200 and again.get_json() == {**first.get_json(), "created": False, "changed": False}
    moved = client.put("/api/v1/admin/units/QSZ-DZB", headers=headers, json={**body, "parent": "LSZ"})
    assert moved.status_code == 200 and moved.get_json()["changed"] is True
    unit = db.session.scalar(select(Unit).where(Unit.code == "QSZ-DZB"))
    assert unit.path.startswith(systems.other_town.path)
    assert [e.actor_id for e in _events(db, "unit.created")] == [systems.district.id]
    (updated,) = _events(db, "unit.updated")
    assert updated.detail == {"parent": ["QSZ", "LSZ"]} and updated.actor_id == systems.district.id
    # Refusals say why, and change nothing.
    cycle = client.put("/api/v1/admin/units/QW", headers=headers, json={"name": "区委", "kind": "party_committee",
                                                                         "parent": "QSZ"})  # fmt: skip
    assert cycle.status_code == 400 and cycle.get_json()["error"]["code"] == "unit_cycle"
    unknown = client.put("/api/v1/admin/units/X9", headers=headers, json={**body, "parent": "NOPE"})
    assert unknown.status_code == 400 and "NOPE" in unknown.get_json()["error"]["message"]
    typo = client.put("/api/v1/admin/units/X9", headers=headers, json={**body, "nmae": "x"})
    assert typo.status_code == 400 and typo.get_json()["error"]["code"] == "bad_request"
    assert db.session.scalar(select(func.count(Unit.id)).where(Unit.code == "X9")) == 0


def test_a_town_account_may_not_write_units(systems, client):
    headers = systems.token(account=systems.town_account)
    response = client.put("/api/v1/admin/units/QSZ-X", headers=headers, json={"name": "x", "kind": "other",
                                                                               "parent": "QSZ"})  # fmt: skip
    assert response.status_code == 403


# ---------------------------------------------------------------- cadres


def test_a_cadre_is_created_once_and_updated_idempotently(systems, client, db):
    headers = systems.token()
    first = client.put("/api/v1/admin/cadres/QS1001", headers=headers, json=cadre_body(id_number=ID_NUMBER))
    assert first.status_code == 201, first.get_json()
    data = first.get_json()
    assert data["created"] is True and len(data["initial_password"]) >= 8
    assert first.headers["Cache-Control"] == "no-store"
    user = db.session.scalar(select(User).where(User.username == "QS1001"))
    assert user.must_change_password and user.check_password(data["initial_password"])
    assert user.cadre.id_number == ID_NUMBER
    again = client.put("/api/v1/admin/cadres/QS1001", headers=headers, json=cadre_body(id_number=ID_NUMBER))
    assert again.status_code == 200
    assert again.get_json()["created"] is False and again.get_json()["changed"] is False
    assert "initial_password" not in again.get_json()
    assert len(_events(db, "cadre.updated")) == 0
    # A change: audited as the system account's, with what changed.
    promoted = client.put("/api/v1/admin/cadres/QS1001", headers=headers,
                          json=cadre_body(rank="deputy_section_chief", position="副科长"))  # fmt: skip
    assert promoted.get_json()["changed"] is True
    (event,) = _events(db, "cadre.updated")
    assert event.actor_id == systems.district.id
    assert event.detail["rank"] == ["staff", "deputy_section_chief"]
    # Left out: kept. Empty: removed. Deactivated: no login.
    db.session.expire_all()
    assert user.cadre.id_number == ID_NUMBER and user.cadre.phone == ""
    client.put("/api/v1/admin/cadres/QS1001", headers=headers,
               json=cadre_body(rank="deputy_section_chief", position="副科长", phone="13812345678"))  # fmt: skip
    gone = client.put(
        "/api/v1/admin/cadres/QS1001",
        headers=headers,
        json=cadre_body(rank="deputy_section_chief", position="副科长", id_number="", active=False),
    )
    assert gone.status_code == 200 and gone.get_json()["changed"] is True
    db.session.expire_all()
    cadre = db.session.scalar(select(Cadre).where(Cadre.user_id == user.id))
    assert cadre.id_number is None and cadre.phone == "13812345678" and not cadre.user.active
    assert _events(db, "cadre.deactivated")[0].actor_id == systems.district.id
    # A phone number changed within its mask (138****5678 both) is a change, audited (a review found it hidden).
    body = cadre_body(rank="deputy_section_chief", position="副科长", phone="13899995678")
    within = client.put("/api/v1/admin/cadres/QS1001", headers=headers, json=body)
    assert within.get_json()["changed"] is True
    assert _events(db, "cadre.updated")[-1].detail == {"phone": ["138****5678", "138****5678"]}


def test_bad_cadre_bodies_are_refused_with_the_field(systems, client, db):
    headers = systems.token()
    cases = [
        (cadre_body(birth_date="1992-13-40"), "birth_date"),
        (cadre_body(rank="general"), "rank"),
        (cadre_body(unit="NOPE"), "NOPE"),
        (cadre_body(id_number="110105194912310021"), ""),  # a wrong check character
        ({k: v for k, v in cadre_body().items() if k != "name"}, "name"),
        (cadre_body(nickname="x"), "nickname"),
    ]
    for body, word in cases:
        response = client.put("/api/v1/admin/cadres/QS2001", headers=headers, json=body)
        assert response.status_code == 400, (body, response.get_json())
        assert word in response.get_json()["error"]["message"], response.get_json()
    assert client.put("/api/v1/admin/cadres/a%20b", headers=headers, json=cadre_body()).status_code == 400
    # A trailing newline is no employee number (it once created "QS2001" and then refused its own repeat).
    assert client.put("/api/v1/admin/cadres/QS2001%0A", headers=headers, json=cadre_body()).status_code == 400
    assert db.session.scalar(select(func.count(User.id)).where(User.username == "QS2001")) == 0


def test_cadres_outside_the_accounts_scope(systems, client, db):
    outsider = make_cadre(unit=systems.other_town, username="LS1")
    admin_only = make_user(username="chief", roles=("org_admin",))
    db.session.commit()
    town = systems.token(account=systems.town_account)
    assert client.get("/api/v1/admin/cadres/LS1", headers=town).status_code == 404
    assert client.get("/api/v1/admin/cadres/LS1/archive", headers=town).status_code == 404
    moved = client.put("/api/v1/admin/cadres/LS1", headers=town, json=cadre_body())
    assert moved.status_code == 409  # another unit's cadre cannot be taken over by writing them into one's own
    into_other = client.put("/api/v1/admin/cadres/QS3001", headers=town, json=cadre_body(unit="LSZ"))
    assert into_other.status_code == 403
    assert client.put("/api/v1/admin/cadres/chief", headers=systems.token(), json=cadre_body()).status_code == 409
    db.session.expire_all()
    assert db.session.get(Cadre, outsider.id).unit_id == systems.other_town.id and admin_only.cadre is None


def test_the_list_pages_filters_and_stays_in_scope(systems, client, db):
    for n in range(5):
        make_cadre(unit=systems.town, username=f"QS5{n}")
    make_cadre(unit=systems.other_town, username="LS50")
    db.session.commit()
    district = systems.token()
    listing = client.get("/api/v1/admin/cadres?per_page=2&page=2", headers=district).get_json()
    assert listing["total"] == 7 and listing["page"] == 2 and len(listing["items"]) == 2  # the operator too
    town = client.get("/api/v1/admin/cadres?per_page=500", headers=systems.token(account=systems.town_account))
    assert [c["employee_number"] for c in town.get_json()["items"]] == [f"QS5{n}" for n in range(5)]
    only = client.get("/api/v1/admin/cadres?unit=LSZ", headers=district).get_json()
    assert [c["employee_number"] for c in only["items"]] == ["LS50"]
    later = (now_utc() + timedelta(minutes=1)).isoformat()
    assert client.get("/api/v1/admin/cadres", headers=district, query_string={"updated_since": later}
                      ).get_json()["total"] == 0  # fmt: skip
    bad_args = (
        {"page": "0"},
        {"per_page": "501"},
        {"unit": "NOPE"},
        {"updated_since": "2026-12-01"},
        {"updated_since": "0001-01-01T00:00:00+01:00"},
        {"updated_since": "9999-12-31T23:59:59-01:00"},
    )
    for bad in bad_args:  # the last two: past year 1 or 9999 in UTC (a 500 once)
        assert client.get("/api/v1/admin/cadres", headers=district, query_string=bad).status_code == 400, bad
    # A unit outside a town account's scope is "no such unit", as for a code nobody has.
    response = client.get("/api/v1/admin/cadres?unit=LSZ", headers=systems.token(account=systems.town_account))
    assert response.status_code == 400


def test_numbers_are_masked_unless_the_token_may_read_them_and_each_read_is_audited(systems, client, db):
    cadre = make_cadre(unit=systems.town, username="QS7")
    personal.set_id_number(cadre, ID_NUMBER, actor=None, now=now_utc())
    db.session.commit()
    masked = client.get("/api/v1/admin/cadres/QS7", headers=systems.token(["cadres:read"])).get_json()
    assert masked["id_number"] == "1101**********002X" and masked["phone"] == "139****0000"
    assert masked["numbers_masked"] is True
    listing = client.get("/api/v1/admin/cadres", headers=systems.token(["cadres:read"])).get_data(as_text=True)
    assert ID_NUMBER not in listing and "13900000000" not in listing
    assert _events(db, "cadre.personal_viewed") == []
    full = client.get("/api/v1/admin/cadres/QS7", headers=systems.token(["cadres:read", "personal:read"])).get_json()
    assert full["id_number"] == ID_NUMBER and full["phone"] == "13900000000" and full["numbers_masked"] is False
    (event,) = _events(db, "cadre.personal_viewed")
    assert event.actor_id == systems.district.id and event.detail["users"] == [cadre.user_id]
    assert event.detail["via"] == "api" and ID_NUMBER not in str(event.detail)
    # The operator's own profile: an org admin's peer, which the district account does not keep, stays masked.
    rows = client.get("/api/v1/admin/cadres", headers=systems.token(["cadres:read", "personal:read"])).get_json()
    operator = next(c for c in rows["items"] if c["employee_number"] == systems.operator.username)
    assert operator["numbers_masked"] is True and operator["phone"] == "139****0000"


# ---------------------------------------------------------------- exams, results, archives, qualifications


def _sit(client, exam, candidate, db):
    from accounts.services import create_api_token

    token = {"Authorization": f"Bearer {create_api_token(candidate, 'sit', now_utc())}"}
    db.session.commit()
    attempt = client.post(f"/api/v1/exams/{exam.code}/attempts", headers=token, json={}).get_json()
    for item in attempt["items"]:
        if item["type"] == "essay":  # a written answer waits for a grader (a blank one would not)
            url = f"/api/v1/attempts/{attempt['id']}/answers/{item['position']}"
            assert client.put(url, headers=token, json={"value": "我的作答", "seq": 1}).status_code == 200
    submitted = client.post(f"/api/v1/attempts/{attempt['id']}/submit", headers=token)
    assert submitted.status_code == 200, submitted.get_json()
    return attempt["id"]


def test_exams_and_results_read_in_scope_with_no_provisional_score(systems, client, db):
    exam, candidate = make_open_exam(code="API1", qtypes=("single", "essay"))
    unit = db.session.get(Cadre, candidate.cadre.id).unit
    unit.parent = systems.town  # the candidate's unit sits under the town
    unit.path = systems.town.path + f"{unit.id}/"
    db.session.commit()
    _sit(client, exam, candidate, db)
    listed = client.get("/api/v1/admin/exams", headers=systems.token(["exams:read"])).get_json()
    assert [e["code"] for e in listed] == ["API1"] and listed[0]["official_state"] is None
    results = client.get("/api/v1/admin/exams/API1/results", headers=systems.token(["results:read"])).get_json()
    (row,) = results["items"]
    assert row["employee_number"] == candidate.username and row["final"] is False  # the essay waits for a grader
    assert row["score"] is None and row["passed"] is None
    town = client.get("/api/v1/admin/exams/API1/results", headers=systems.token(["results:read"], systems.town_account))
    assert town.get_json()["total"] == 1
    other = systems.token(["results:read"], system.create_account(systems.operator, "lsz-hr", "", [systems.other_town],
                                                                  now_utc()))  # fmt: skip
    assert client.get("/api/v1/admin/exams/API1/results", headers=other).get_json()["total"] == 0
    assert client.get("/api/v1/admin/exams/NOPE/results", headers=systems.token(["results:read"])).status_code == 404


def test_a_final_result_carries_its_score(systems, client, db):
    exam, candidate = make_open_exam(code="API2", qtypes=("single", "truefalse"))
    _sit(client, exam, candidate, db)
    (row,) = client.get("/api/v1/admin/exams/API2/results", headers=systems.token(["results:read"])
                        ).get_json()["items"]  # fmt: skip
    assert row["final"] is True and row["score"] is not None and row["passed"] in (True, False)
    archive = client.get(f"/api/v1/admin/cadres/{candidate.username}/archive",
                         headers=systems.token(["archives:read"])).get_json()  # fmt: skip
    assert [r["exam"] for r in archive["results"]] == ["API2"] and archive["results"][0]["score"] == row["score"]


def test_archive_summary_and_qualifications(systems, client, db):
    cadre = make_cadre(unit=systems.town, username="QS9")
    db.session.add(ArchiveEntry(user_id=cadre.user_id, kind="degree", year=2015, title="某大学 法学 本科",
                                starts_on=date(2011, 9, 1), ends_on=date(2015, 7, 1), hours=0, details={},
                                created_at=now_utc()))  # fmt: skip
    db.session.add(
        Qualification(
            user_id=cadre.user_id,
            cycle="2026",
            code="ABCD-EFGH-JKMN-PQRS",
            granted_on=date(2026, 5, 1),
            valid_until=date(2029, 5, 1),
            created_at=now_utc(),
        )
    )
    db.session.commit()
    headers = systems.token(["archives:read"])
    archive = client.get("/api/v1/admin/cadres/QS9/archive", headers=headers).get_json()
    assert archive["degrees"] == [{"title": "某大学 法学 本科", "starts_on": "2011-09-01", "ends_on": "2015-07-01"}]
    assert archive["years"][0]["year"] >= 2026 and "required_hours" in archive["years"][0]
    (qual,) = client.get("/api/v1/admin/cadres/QS9/qualifications", headers=headers).get_json()
    assert qual["code"] == "ABCD-EFGH-JKMN-PQRS" and qual["revoked"] is False and qual["valid_until"] == "2029-05-01"
    assert client.get("/api/v1/admin/cadres/NOPE/qualifications", headers=headers).status_code == 404
    assert client.get("/api/v1/admin/cadres/QS9", headers=headers).status_code == 403  # no cadres:read


def test_the_document_describes_the_admin_operations(client):
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/api/v1/admin/cadres/{number}"]["put"]
    assert operation["security"] == [{"bearer": []}] and "cadres:write" in operation["description"]
    assert {"200", "201", "400", "401", "403", "404", "409", "413"} <= set(operation["responses"])
    assert "additionalProperties" in operation["requestBody"]["content"]["application/json"]["schema"]
