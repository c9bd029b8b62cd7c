"""The factory, configuration, migrations, error pages and CSRF."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app import create_app
from config import Config, load_secret_key
from tests.factories import PASSWORD, make_user


def test_secret_key_is_generated_once_into_instance(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = load_secret_key(str(tmp_path))
    assert len(first) >= 40
    assert load_secret_key(str(tmp_path)) == first
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    assert load_secret_key(str(tmp_path)) == "from-the-environment"


def test_database_url_selects_postgresql(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://qe@db.example/qualexam")
    values = Config.from_env(str(tmp_path))
    assert values["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://qe@db.example/qualexam"
    monkeypatch.delenv("DATABASE_URL")
    assert Config.from_env(str(tmp_path))["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert Config.from_env(str(tmp_path))["SESSION_COOKIE_SECURE"] is True  # secure unless told otherwise


def test_production_factory_builds_without_arguments(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/prod.db")
    app = create_app()
    assert not app.testing and app.config["SESSION_COOKIE_SECURE"]
    assert {"accounts", "question_bank", "exam", "archive", "reports"} <= set(app.blueprints)


# SQLite cannot reflect the expression index on lower(username); it is checked on PostgreSQL.
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_models_and_migrations_agree(app, db):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == [], "models changed without a migration: run `flask db migrate`"


def test_post_without_csrf_token_is_rejected(client, db):
    make_user(username="C1001")
    db.session.commit()
    response = client.post("/login", data={"username": "C1001", "password": PASSWORD})
    assert response.status_code == 400
    assert "安全校验失败" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_json_post_without_csrf_header_is_rejected(client, auth, db):
    auth.login_as("cadre")
    response = client.post("/language", json={"locale": "en"}, headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf"
    token = client.csrf_token()
    response = client.post("/language", data={"locale": "en"}, headers={"X-CSRFToken": token})
    assert response.status_code == 302  # the header is accepted in place of the form field


def test_404_page_is_html_and_translated(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404 and "页面不存在" in response.get_data(as_text=True)


@pytest.mark.fresh_app
def test_unexpected_errors_roll_back_and_show_500(app, client, db):
    from sqlalchemy import select

    from accounts.models import User
    from core.extensions import db as database

    @app.route("/boom")
    def boom():
        database.session.add(User(username="halfway", name="x", password_hash="x"))
        database.session.flush()
        raise RuntimeError("boom")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.get("/boom")
    assert response.status_code == 500
    assert db.session.scalar(select(User).where(User.username == "halfway")) is None


@pytest.mark.fresh_app
def test_refused_requests_commit_nothing(app, client, db):
    from sqlalchemy import select

    from accounts.models import User
    from core.errors import DomainError
    from core.extensions import db as database

    @app.route("/refuse")
    def refuse():
        database.session.add(User(username="refused", name="x", password_hash="x"))
        database.session.flush()
        raise DomainError("no")

    assert client.get("/refuse").status_code == 400
    assert db.session.scalar(select(User).where(User.username == "refused")) is None


def test_sqlite_enforces_foreign_keys(app, db):
    """The embedded database keeps the same integrity as PostgreSQL (ON DELETE CASCADE included)."""
    from sqlalchemy import text

    if db.engine.dialect.name != "sqlite":
        assert db.engine.dialect.name == "postgresql"
        return
    assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_passwords_are_hashed_with_scrypt_outside_the_tests():
    from config import Config, TestConfig

    assert Config.PASSWORD_HASH_METHOD == "scrypt" and TestConfig.PASSWORD_HASH_METHOD != Config.PASSWORD_HASH_METHOD
