"""`flask accounts token`: the warning for an account that must change its password, and --api-only tokens."""

from sqlalchemy import select

from accounts import services
from accounts.models import ApiToken
from core.audit import AuditEvent
from core.models import now_utc
from core.policy import Role
from tests.factories import PASSWORD, make_user


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_for_an_imported_cadre_warns_on_stderr_and_is_refused(runner, client, db):
    make_user(username="root", roles=(Role.SYSTEM_ADMIN,))
    make_user(username="new01", roles=(Role.CADRE,), must_change_password=True)
    db.session.commit()
    result = runner.invoke(args=["accounts", "token", "new01"])
    assert result.exit_code == 0
    token = result.stdout.strip()
    assert token.startswith("qe_") and "\n" not in token  # stdout stays the token alone, for scripts
    assert "password_change_required" in result.stderr and "--api-only" in result.stderr
    response = client.get("/api/v1/exams", headers=bearer(token))
    assert response.status_code == 403 and response.json["error"]["code"] == "password_change_required"


def test_no_warning_for_an_account_with_its_own_password(runner, db):
    make_user(username="script", roles=(Role.CADRE,))
    db.session.commit()
    result = runner.invoke(args=["accounts", "token", "script"])
    assert result.exit_code == 0 and result.stderr == ""


def test_an_api_only_token_works_at_once_on_the_api_only_and_is_audited(runner, client, db):
    root = make_user(username="root", roles=(Role.SYSTEM_ADMIN,))
    cadre = make_user(username="new01", roles=(Role.CADRE,), must_change_password=True)
    db.session.commit()
    result = runner.invoke(args=["accounts", "token", "new01", "--api-only", "--name", "sync"])
    assert result.exit_code == 0 and "/api/v1/" in result.stderr
    token = result.stdout.strip()
    assert client.get("/api/v1/exams", headers=bearer(token)).status_code == 200
    # the web pages are not the API: there the token is no credential at all
    assert client.get("/", headers={**bearer(token), "Accept": "application/json"}).status_code == 401
    (event,) = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "token.created_api_only"))
    assert event.actor_id == root.id and event.target == f"user:{cadre.id}"
    assert event.detail == {"name": "sync", "must_change_password": True}
    # changing the password revokes it with the others
    services.change_password(cadre, PASSWORD, "Granite-63-owl", now_utc())
    db.session.commit()
    assert client.get("/api/v1/exams", headers=bearer(token)).status_code == 401


def test_an_ordinary_token_of_a_cadre_with_combined_roles_is_not_api_only(runner, client, db):
    make_user(username="both", roles=(Role.CADRE, Role.GRADER))
    db.session.commit()
    token = runner.invoke(args=["accounts", "token", "both"]).stdout.strip()
    assert not db.session.scalar(select(ApiToken.api_only))
    assert client.get("/api/v1/exams", headers=bearer(token)).status_code == 200


def test_api_only_needs_a_system_administrator_to_answer_for_it(runner, db):
    make_user(username="new01", roles=(Role.CADRE,), must_change_password=True)
    db.session.commit()
    result = runner.invoke(args=["accounts", "token", "new01", "--api-only"])
    assert result.exit_code == 1 and "create-admin" in result.output
    assert db.session.scalar(select(ApiToken.id)) is None


def test_a_token_for_a_disabled_account_says_it_will_not_work_yet(runner, db):
    make_user(username="gone", roles=(Role.CADRE,), active=False)
    db.session.commit()
    result = runner.invoke(args=["accounts", "token", "gone"])
    assert result.exit_code == 0 and "disabled" in result.stderr and result.stdout.startswith("qe_")
