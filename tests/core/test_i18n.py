"""Every visible string has a Chinese translation; the language choice is remembered; times show in Beijing time."""

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.pofile import read_po
from sqlalchemy import select

from accounts.models import User
from core.i18n import localtime
from tests.factories import PASSWORD, make_user

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"


def extract_messages(pot: Path) -> list:
    """Every message the code and templates ask for, extracted as `make extract-messages` does."""
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "_l",
         "-k", "lazy_gettext", "-k", "lazy_pgettext:1c,2", "-k", "pgettext:1c,2", "-k", "npgettext:1c,2,3",
         # Not babel's default ("_*" too), which skips templates/_macros/ and its pager.
         "--ignore-dirs", ".* __pycache__", "--no-location", "-o", str(pot), "."],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    with pot.open("rb") as fh:
        return [m for m in read_po(fh) if m.id]


def test_every_msgid_has_a_chinese_translation(tmp_path):
    wanted = {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in extract_messages(tmp_path / "m.pot")}
    with CATALOGUE.open("rb") as fh:
        catalogue = read_po(fh)
    translated = {
        (m.context, m.id if isinstance(m.id, str) else m.id[0])
        for m in catalogue
        if m.id and m.string and "fuzzy" not in m.flags
    }
    missing = sorted(str(m) for m in wanted - translated)
    assert not missing, f"untranslated msgids (run `make extract-messages` and translate): {missing}"


def test_language_switch_is_remembered_per_user(client, auth, db, app):
    user = make_user(username="L1001")
    db.session.commit()
    auth.login("L1001")
    assert "首页" in client.get("/").get_data(as_text=True)
    client.post_form("/language", {"locale": "en", "next": "/"})
    html = client.get("/").get_data(as_text=True)
    assert "Home" in html and 'lang="en"' in html
    assert db.session.scalar(select(User.locale).where(User.id == user.id)) == "en"
    # A new browser session of the same user speaks English straight after login.
    other = app.test_client()
    other.post_form("/login", {"username": "L1001", "password": PASSWORD})
    assert "Home" in other.get("/").get_data(as_text=True)


def test_language_switch_before_login(client):
    client.post_form("/language", {"locale": "en"})
    assert "Log in to QualExam" in client.get("/login").get_data(as_text=True)


def test_unknown_language_is_refused(client):
    response = client.post_form("/language", {"locale": "xx"})
    assert response.status_code == 400


def test_a_list_of_names_is_joined_in_the_page_language(app):
    from flask_babel import force_locale

    from accounts.models import label
    from core.i18n import join_list, series

    with app.test_request_context():
        names = [label("section_chief"), label("deputy_section_chief")]
        assert join_list(names) == "正科级、副科级"
        assert series(["<b>", "乙"]) == "&lt;b&gt;、乙"
        with force_locale("en"):
            assert join_list([label("section_chief"), label("deputy_section_chief")]) == (
                "Section chief, Deputy section chief"
            )


def test_times_are_shown_in_beijing_time(app):
    with app.test_request_context():
        assert localtime(datetime(2026, 1, 1, 16, 30, tzinfo=UTC)) == "2026-01-02 00:30"
