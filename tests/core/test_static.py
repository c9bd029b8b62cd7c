"""Static files: fingerprinted names with a year's cache lifetime; plain and stale names revalidated."""

import hashlib
from pathlib import Path

from flask import url_for

ROOT = Path(__file__).resolve().parents[2]


def fetch(client, url):
    """A static response, read whole and closed (it streams a file)."""
    response = client.get(url)
    response.get_data()
    response.close()
    return response


def test_templates_link_fingerprinted_names_cached_for_a_year(app, client):
    digest = hashlib.sha256((ROOT / "static/js/exam.js").read_bytes()).hexdigest()[:12]
    with app.test_request_context():
        url = url_for("static", filename="js/exam.js")
    assert url == f"/static/js/exam.{digest}.js"
    response = fetch(client, url)
    assert response.status_code == 200 and response.data == (ROOT / "static/js/exam.js").read_bytes()
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    page = client.get("/login").get_data(as_text=True)
    assert "/static/css/app." in page and 'href="/static/css/app.css"' not in page


def test_plain_and_stale_names_are_revalidated_and_unknown_ones_missing(client):
    plain = fetch(client, "/static/js/exam.js")
    assert plain.status_code == 200 and plain.headers["Cache-Control"] == "no-cache" and plain.headers["ETag"]
    stale = fetch(client, "/static/js/exam.000000000000.js")  # a page from before a release
    assert stale.status_code == 200 and stale.headers["Cache-Control"] == "no-cache"
    assert stale.data == plain.data
    assert fetch(client, "/static/js/nothing.000000000000.js").status_code == 404
    assert fetch(client, "/static/../config.py").status_code == 404
    assert fetch(client, "/static/../config.000000000000.py").status_code == 404


def test_no_file_outside_static_is_read_or_fingerprinted(app):
    with app.test_request_context():
        assert url_for("static", filename="../config.py") == "/static/../config.py"  # not hashed: not read
