"""Static files under fingerprinted names: `url_for('static', filename='js/exam.js')` gives `js/exam.<hash>.js`,
served with a year's cache lifetime (`immutable`), so browsers ask once per release; a changed file gets a new
name. The plain name still works and is revalidated on every use (ETag), for links from outside the templates."""

import hashlib
import re
from pathlib import Path
from stat import S_ISREG

from flask import Flask, abort, send_from_directory
from werkzeug.security import safe_join

YEAR = 365 * 24 * 3600
_NAME = re.compile(r"^(?P<stem>.+)\.(?P<digest>[0-9a-f]{12})(?P<ext>\.[A-Za-z0-9]+)$")


def init_app(app: Flask) -> None:
    folder = Path(app.static_folder)
    digests: dict[str, tuple[float, str]] = {}  # filename -> (mtime, digest), per process

    def digest(filename: str) -> str | None:
        joined = safe_join(str(folder), filename)  # never a file outside static/ (`..` in the URL)
        if joined is None:
            return None
        path = Path(joined)
        try:
            stat = path.stat()
        except OSError:
            return None
        if not S_ISREG(stat.st_mode):
            return None
        mtime = stat.st_mtime
        known = digests.get(filename)
        if known is None or known[0] != mtime:
            known = digests[filename] = (mtime, hashlib.sha256(path.read_bytes()).hexdigest()[:12])
        return known[1]

    @app.url_defaults
    def _fingerprint(endpoint, values):
        if endpoint == "static" and "filename" in values and not _NAME.match(values["filename"]):
            found = digest(values["filename"])
            if found is not None:
                stem, dot, ext = values["filename"].rpartition(".")
                values["filename"] = f"{stem}.{found}.{ext}" if dot else values["filename"]

    def static(filename: str):
        match = _NAME.match(filename)
        if match is not None:
            plain = match["stem"] + match["ext"]
            if digest(plain) == match["digest"]:
                response = send_from_directory(folder, plain, max_age=YEAR)
                response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
                return response
            if digest(plain) is None:
                abort(404)
            filename = plain  # a page from before a release asks for the old name: today's file, not kept
        response = send_from_directory(folder, filename, max_age=0)
        response.headers["Cache-Control"] = "no-cache"
        return response

    app.view_functions["static"] = static
