"""Two app nodes (two gunicorns on different ports, as on two machines: instance folders of their own, one
SECRET_KEY) over one PostgreSQL, with rate limits counted in Redis.

What is shared, and where: answers, attempts, login sessions (a signed cookie naming a session row, so a logout
on one node ends it on every node) and login throttling live in PostgreSQL; rate limits of public pages are counted
in Redis (QE_RATELIMIT_STORAGE_URI), since each process's memory would let every node grant the limit again."""

import http.cookiejar
import re
import secrets
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
import redis

from tests.factories import PASSWORD
from tests.faults.conftest import Candidate, Node, app_env, exam_database, free_port, stored_answers
from tests.question_bank.test_formats import row, xlsx

pytestmark = pytest.mark.faults

CODE = "TWO"


class RedisServer:
    """A Redis of the test's own (Debian's redis-server, on a free port, keeping nothing on disk): the test may stop
    it, and leaves no keys in anybody else's."""

    def __init__(self, root):
        self.port = free_port()
        self.root = root
        self.proc = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        self.proc = subprocess.Popen(  # noqa: S603
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.root)],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while True:
            try:
                if redis.Redis.from_url(self.url, socket_timeout=1).ping():
                    return self
            except redis.RedisError:
                assert time.monotonic() < deadline and self.proc.poll() is None, "redis-server did not start"
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def nodes(pg_cluster, tmp_path):
    name, url, tokens, usernames = exam_database(
        pg_cluster, tmp_path / "seed", CODE, 2, qtypes=("single", "essay", "essay")
    )
    store = RedisServer(tmp_path).start()
    extra = {"QE_RATELIMIT_STORAGE_URI": store.url}
    a = Node(app_env(url, tmp_path / "a", **extra), tmp_path / "a.log")
    b = Node(app_env(url, tmp_path / "b", **extra), tmp_path / "b.log")
    try:
        a.start()
        b.start()
        yield {"db": name, "tokens": tokens, "users": usernames, "a": a, "b": b, "redis": store}
    finally:
        a.stop()
        b.stop()
        store.stop()


def test_saves_alternating_between_nodes_make_one_consistent_attempt(pg_cluster, nodes):
    a, b = nodes["a"], nodes["b"]
    # Both nodes asked to start at the same moment: one attempt, the same on both.
    starters = [Candidate(nodes["tokens"][0], [a.host]), Candidate(nodes["tokens"][0], [b.host])]
    papers = [None, None]
    threads = [threading.Thread(target=lambda i=i: papers.__setitem__(i, starters[i].start(CODE))) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert papers[0]["id"] == papers[1]["id"]
    candidate = Candidate(nodes["tokens"][0], [a.host, b.host])  # every request goes to the other node
    candidate.start(CODE)
    essays = [i["position"] for i in papers[0]["items"] if i["type"] == "essay"]
    for seq in range(1, 61):
        candidate.save(essays[seq % 2], f"第{seq}稿", seq)
    # Two saves of one answer racing on the two nodes, the older sent last: the newer one stays.
    candidate.save(essays[0], "第100稿", 100)
    late = Candidate(nodes["tokens"][0], [b.host], attempt_id=candidate.attempt_id)
    late.save(essays[0], "第99稿", 99)
    assert not late.acked and not candidate.refused  # the older save was answered "not accepted"
    stored = stored_answers(pg_cluster, nodes["db"])
    assert stored["attempts_per_user"] == {next(iter(stored["attempts_per_user"])): 1}
    assert stored["answers"][(candidate.attempt_id, essays[0])] == (100, "第100稿")
    assert stored["answers"][(candidate.attempt_id, essays[1])] == (59, "第59稿")
    assert candidate.outcomes == {"200": 62}  # the start, 60 saves and the last one: all served, by both nodes


class WebUser:
    """A browser's cookie jar (cookies are per host, not per port: both nodes see them) and its forms."""

    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect)

    def get(self, node, path):
        try:
            resp = self.opener.open(f"http://127.0.0.1:{node.port}{path}", timeout=10)
            return resp.status, resp.read().decode(), dict(resp.headers)
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode(), dict(err.headers)

    def post(self, node, path, fields, token_from=None):
        token = self.csrf(token_from or node)
        data = urllib.parse.urlencode({**fields, "csrf_token": token}).encode()
        try:
            resp = self.opener.open(
                urllib.request.Request(f"http://127.0.0.1:{node.port}{path}", data=data), timeout=10
            )
            return resp.status, resp.read().decode(), dict(resp.headers)
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode(), dict(err.headers)

    def post_file(self, node, path, fields, filename, data: bytes):
        """A multipart form with one file, as a browser sends an upload."""
        boundary = f"----qualexam{secrets.token_hex(8)}"
        parts = []
        for name, value in {**fields, "csrf_token": self.csrf(node)}.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        parts.append(head.encode() + b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        req = urllib.request.Request(f"http://127.0.0.1:{node.port}{path}", data=body, headers=headers)
        try:
            resp = self.opener.open(req, timeout=30)
            return resp.status, resp.read().decode(), dict(resp.headers)
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode(), dict(err.headers)

    def csrf(self, node) -> str:
        status, html, _ = self.get(node, "/login")
        if status == 302:  # logged in: any page of the app carries the token
            status, html, _ = self.get(node, "/")
        return re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_a_session_from_one_node_works_on_the_other_and_ends_on_both(nodes):
    a, b = nodes["a"], nodes["b"]
    user = WebUser()
    status, _, headers = user.post(a, "/login", {"username": nodes["users"][0], "password": PASSWORD})
    assert status == 302, "login on node A failed"
    status, html, _ = user.get(b, "/")
    assert status == 200 and nodes["users"][0] in html  # node B knows the session node A began
    old_cookies = list(user.jar)
    status, _, _ = user.post(b, "/logout", {}, token_from=b)  # the form's token from B, as a browser would
    assert status == 302
    for cookie in old_cookies:  # the cookie from before the logout, replayed on node A
        user.jar.set_cookie(cookie)
    assert user.get(a, "/")[0] == 302  # sent to log in: the session ended everywhere


def test_login_throttling_counts_failures_on_every_node(nodes):
    a, b = nodes["a"], nodes["b"]
    attacker = WebUser()
    username = nodes["users"][1]
    for i in range(5):  # LOGIN_MAX_FAILURES_PER_ACCOUNT, spread over both nodes
        status, _, _ = attacker.post((a, b)[i % 2], "/login", {"username": username, "password": f"guess{i}"})
        assert status == 200
    status, html, _ = attacker.post(a, "/login", {"username": username, "password": PASSWORD})
    assert status == 429, "node A let a guess through after failures counted on node B"


def test_rate_limits_are_counted_across_nodes(nodes):
    a, b = nodes["a"], nodes["b"]
    visitor = WebUser()
    codes = []
    for i in range(40):  # VERIFY_RATE_LIMIT is 30 a minute per address, half the requests on each node
        codes.append(visitor.get((a, b)[i % 2], "/verify/ABCD-EFGH-JKLM-NPQR")[0])
    assert codes[:30] == [404] * 30  # not found, but answered
    assert codes[30:] == [429] * 10, codes  # each node alone has seen only 20: the limit is shared


def test_with_redis_gone_the_limited_page_still_answers(nodes):
    """Redis stopped: each process counts in its own memory meanwhile (Flask-Limiter's fallback), and the page
    still answers, never a 500."""
    a, b = nodes["a"], nodes["b"]
    nodes["redis"].stop()
    visitor = WebUser()
    codes = [visitor.get((a, b)[i % 2], "/verify/ABCD-EFGH-JKLM-NPQR")[0] for i in range(10)]
    assert codes == [404] * 10  # answered (not found)


def _seed_importer(database_url: str, instance) -> str:
    """A district admin and an empty question bank: (the admin's username)."""
    from app import create_app
    from config import TestConfig
    from core.extensions import db
    from tests.factories import make_bank, make_user

    app = create_app(type("FaultConfig", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": database_url}))
    app.instance_path = str(instance)
    with app.app_context():
        make_user(username="importer", roles=("org_admin",))
        make_bank(code="NODES")
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return "importer"


def test_an_import_previewed_on_one_node_is_confirmed_on_the_other(pg_cluster, nodes, tmp_path):
    """No shared instance folder: the preview's file waits in the database, so the node that gets the confirmation
    (another machine) imports it; a second confirmation, on the first node, finds it taken."""
    a, b = nodes["a"], nodes["b"]
    username = _seed_importer(pg_cluster.url(nodes["db"]), tmp_path / "seed")
    user = WebUser()
    assert user.post(a, "/login", {"username": username, "password": PASSWORD})[0] == 302
    data = xlsx([row(stem="第一题______"), row(stem="第二题______", answer="B")])
    status, html, _ = user.post_file(a, "/banks/NODES/import", {"status": "draft"}, "q.xlsx", data)
    assert status == 200 and "/banks/NODES/import/commit" in html, html[-2000:]
    fields = dict(re.findall(r'<input type="hidden" name="(upload|status)" value="([^"]*)">', html))
    assert set(fields) == {"upload", "status"}
    status, _, headers = user.post(b, "/banks/NODES/import/commit", fields, token_from=b)
    assert status == 302 and headers["Location"].endswith("/banks/NODES/"), headers
    assert _imported(pg_cluster, nodes["db"]) == (2, 0)  # both questions; the upload went with the import
    status, _, headers = user.post(a, "/banks/NODES/import/commit", fields)  # the double click, on node A
    assert status == 302 and headers["Location"].endswith("/banks/NODES/import")
    assert _imported(pg_cluster, nodes["db"]) == (2, 0)
    for instance in (tmp_path / "a", tmp_path / "b"):
        assert not (instance / "imports").exists()


def _imported(pg_cluster, database: str) -> tuple[int, int]:
    """(questions in the bank NODES, stored files left)."""
    with pg_cluster.connect(database) as conn:
        query = "SELECT count(*) FROM questions q JOIN banks b ON b.id = q.bank_id WHERE b.code = 'NODES'"
        return conn.execute(query).fetchone()[0], conn.execute("SELECT count(*) FROM stored_files").fetchone()[0]
