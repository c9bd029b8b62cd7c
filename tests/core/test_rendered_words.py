"""Every page, rendered in Chinese from the demo district, shows no English interface words.

The detector is the catalogue itself: any English msgid whose Chinese differs from it (a phrase of two or more
words, or one capitalised word such as "Next") that appears verbatim in a Chinese page's text is a string that
missed translation (a template outside the extractor's reach, a label shown as its code, a join of English names).
"""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select

from accounts.models import RoleAssignment, Unit, User
from archive.models import ArchiveEntry, ArchiveYear, Qualification, ReadingBook, TrainingClass
from core.extensions import db as _db
from core.models import now_utc
from core.policy import Role
from core.web import YearConverter
from demo import district
from exam.attempts import start_attempt
from exam.models import Attempt, Exam, PaperItem
from jobs.models import Job
from practice.models import PracticeSession
from question_bank.models import Bank, Question
from results.appeal_models import AppealItem
from results.models import Notice
from sitting.models import Incident, Room, Seat, Session
from tests.core.test_i18n import extract_messages
from tests.exam.test_grading import essay_answer, sat

CATALOGUE = Path(__file__).resolve().parents[2] / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"

#: English that is data or a proper name, not an interface word (each with why).
ALLOWED = {
    "QualExam",  # the product's name in the footer of the language switch
    "PDF",  # a file format, the same in Chinese
}
#: Pages that are not HTML for people (files, JSON), or that need what a walk by sample ids cannot give.
NOT_PAGES = re.compile(
    r"\.(pdf|xlsx|json|css|js|png|jpe?g|svg|txt|<fmt>)$|/template$|/export$|^/static/|^/api/|^/jobs/.*/(status|files/.*)$"
)
#: Pages the walk does not read: redirects (the archive's home, the login page once signed in, "my history") and
#: an uploaded image.
UNWALKED = {"archive.home", "accounts.login", "reports.my_history", "question_bank.image", "accounts.cadre_photo",
            "accounts.own_photo", "sitting.seat_photo", "proctoring.profile_photo",
            # the snapshot timeline: none for these walkers (each sits the demo exams): tests/proctoring read it
            "proctoring.timeline",
            # a check of .lrmx forms: none in the demo; tests/personnel read it in Chinese
            "personnel.lrmx_preview"}  # fmt: skip
#: Texts of these tags are not read by people as words of the page.
_SKIPPED_TAGS = {"script", "style", "code", "pre", "textarea"}
_READ_ATTRIBUTES = ("placeholder", "title", "aria-label", "alt")


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in _SKIPPED_TAGS:
            self._skip += 1
        for name, value in attrs:
            if name in _READ_ATTRIBUTES and value:
                self.parts.append(value)
        if tag == "input" and dict(attrs).get("type") in ("submit", "button") and dict(attrs).get("value"):
            self.parts.append(dict(attrs)["value"])

    def handle_endtag(self, tag):
        if tag in _SKIPPED_TAGS and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def page_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return "\n".join(parser.parts)


def english_words(tmp_path) -> list[re.Pattern]:
    """Patterns for the English of every msgid the code asks for (placeholders split it), but those the Chinese
    catalogue keeps as they are (a format name)."""
    with CATALOGUE.open("rb") as fh:
        kept = {(m.context, m.id) for m in read_po(fh) if m.id and m.string == m.id}
    phrases = set()
    for message in extract_messages(tmp_path / "words.pot"):
        if (message.context, message.id) in kept:
            continue
        for msgid in [message.id] if isinstance(message.id, str) else message.id:
            for chunk in re.split(r"%\(\w+\)[sdgf]|%[sdgf]|[.:;,!?()“”\"'…]", msgid):
                chunk = chunk.strip(" -–·/")
                words = re.findall(r"[A-Za-z][A-Za-z'’-]*", chunk)
                if not words or chunk in ALLOWED:
                    continue
                if len(words) >= 2 or (chunk == msgid.strip(".:") and chunk[:1].isupper() and len(chunk) > 2):
                    phrases.add(chunk)
    return [re.compile(r"(?<![A-Za-z])" + re.escape(p) + r"(?![A-Za-z])") for p in sorted(phrases, key=len)]


def untranslated(text: str, patterns: list[re.Pattern]) -> list[str]:
    return sorted({m.group(0) for p in patterns for m in [p.search(text)] if m})


def test_the_detector_finds_english_and_passes_chinese(tmp_path):
    patterns = english_words(tmp_path)
    assert untranslated("第 1 页，共 5 页 下一页", patterns) == []
    assert untranslated("Page 1 of 5 Next", patterns) == ["Next"]
    assert "Deputy section chief" in untranslated("Deputy section chief、Section chief", patterns)
    assert untranslated("周建平 zzb001 ZZB-2026-01 admin@example.org", patterns) == []


@pytest.fixture
def demo(runner, db, monkeypatch):
    """The demo district, where zzb001 holds every role (and a cadre's profile), every exam publishes its ranking
    list, cadre01 is sitting the open exam, and one more exam has a written answer to grade."""
    monkeypatch.setenv("QE_ALLOW_DEMO", "1")
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).filter_by(username="zzb001"))
    top = db.session.scalar(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id))
    held = {r.role for r in user.roles}
    for role in Role:
        if role.value not in held and role != Role.CADRE:
            user.roles.append(RoleAssignment(role=role.value, unit=top if role == Role.UNIT_ADMIN else None))
    for exam in db.session.scalars(select(Exam)):
        exam.publish_ranking = True
    cadre = db.session.scalar(select(User).filter_by(username="cadre01"))
    start_attempt(db.session.scalar(select(Exam).filter_by(code="GWZS2026")), cadre, now_utc())
    _marked_by_plan(user, *sat(db, n=1))
    db.session.commit()
    # Jobs to show: an item analysis done (run at once under TestConfig), and one failed with its reason.
    from jobs import submit

    submit("reports.item-analysis", {"exam_id": db.session.scalar(select(Exam.id).order_by(Exam.id))}, user=user)
    submit("reports.item-analysis", {"exam_id": 999_999}, user=user)
    db.session.commit()
    return user


def _marked_by_plan(user, exam, _people, attempts) -> None:
    """The written answer of `exam` under double marking: two graders' marks too far apart for the tolerance wait
    for `user`, its marker, arbitrator and chief grader, who drew it for the sample (every marking page shows)."""
    from exam import marking
    from tests.factories import make_user

    answer, now = essay_answer(_db, attempts[0]), now_utc()
    marking.set_plan(user, exam, "double", 0.5, now)
    version = marking.items(exam)[0].version.id
    for grader, points in ((make_user(roles=(Role.GRADER,)), 0.5), (make_user(roles=(Role.GRADER,)), 2)):
        marking.assign(user, exam, version, grader, "marker", now)
        marking.mark_answer(grader, answer, points, "", now)
    for role in ("marker", "arbitrator"):
        marking.assign(user, exam, version, user, role, now)
    marking.set_chief(user, exam, user, now)
    marking.draw_samples(user, exam, 100, now)


def _first(stmt):
    return _db.session.scalar(stmt.limit(1))


def _samples(username: str) -> dict:
    """Ids and codes the walk fills into URL rules, from what the demo holds (the user's own attempt where the
    route is a candidate's)."""
    user = _first(select(User).filter_by(username=username))
    own = select(Attempt.id).where(Attempt.user_id == user.id).order_by(Attempt.id)
    cadre = _first(select(User).filter_by(username="cadre01"))
    return {
        "exam": list(_db.session.scalars(select(Exam.code).order_by(Exam.id))),
        "bank": _first(select(Bank.code).order_by(Bank.id)),
        "class": _first(select(TrainingClass.code).order_by(TrainingClass.id)),
        "qualification": _first(select(Qualification).order_by(Qualification.id)),
        "attempt_id": _first(select(Attempt.id).where(Attempt.status != "in_progress").order_by(Attempt.id)),
        "own_attempt": _first(own.where(Attempt.status != "in_progress")),
        "open_attempt": _first(own.where(Attempt.status == "in_progress")),
        "answer_id": essay_answer(_db, _first(select(Attempt).join(Exam).filter_by(code="T1"))).id,
        "question_id": _first(select(Question.id).order_by(Question.id)),
        "number": 1,
        "version_id": _first(select(PaperItem.question_version_id).order_by(PaperItem.id)),
        "cadre_id": cadre.cadre.id,
        "user_id": cadre.id,
        "unit_id": _first(select(Unit.id).order_by(Unit.id)),
        "username": "cadre01",
        "ident": _first(select(ArchiveEntry.id).order_by(ArchiveEntry.id)),
        "year": _first(select(ArchiveYear.year).order_by(ArchiveYear.year.desc())),
        "book": _first(select(ReadingBook.id).order_by(ReadingBook.id)),
        "job_id": _first(select(Job.id).order_by(Job.id.desc())),
        "session_id": _first(select(Session.id).order_by(Session.id)),
        "room_id": _first(select(Room.id).order_by(Room.id)),
        "seat_id": _first(select(Seat.id).where(Seat.room_id.is_not(None)).order_by(Seat.id)),
        "incident_id": _first(select(Incident.id).order_by(Incident.id)),
        "serial": _first(select(Notice.serial).where(Notice.superseded_at.is_(None)).order_by(Notice.id)),
        "item_id": _first(select(AppealItem.id).order_by(AppealItem.id)),
        "practice_id": _first(
            select(PracticeSession.id).where(PracticeSession.user_id == cadre.id).order_by(PracticeSession.id)
        ),
    }


def _paths(rule, samples) -> list[str]:
    """The rule filled in with the samples: once, or once for every exam where it names an exam."""
    blueprint, _dot, view = rule.endpoint.partition(".")
    values, exams = {}, [None]
    for name, converter in rule._converters.items():
        if isinstance(converter, YearConverter):
            values[name] = samples["year"]
        elif name == "code" and blueprint in (
            "exam",
            "reports",
            "take",
            "grading",
            "marking",
            "sitting",
            "results",
            "proctoring",
        ):
            exams = samples["exam"]
        elif name == "code":
            kind = {"question_bank": "bank", "verify": "qualification", "archive": "class"}[blueprint]
            values[name] = samples[kind].code if kind == "qualification" else samples[kind]
        elif name == "ident":
            kind = {"note": "book", "certificate": "qualification"}.get(view, "ident")
            values[name] = samples[kind].id if kind == "qualification" else samples[kind]
        elif name == "attempt_id" and blueprint == "take":
            values[name] = samples["open_attempt" if view == "attempt" else "own_attempt"]
        elif name in samples:
            values[name] = samples[name]
        else:
            return []
    if None in values.values():
        return []  # nothing of that kind for this user (a candidate's own attempt)
    return [rule.build({**values, **({"code": e} if e else {})}, append_unknown=False)[1] for e in exams]


def test_every_audit_detail_of_the_demo_reads_as_words(demo, db, client):
    """The audit page names actions and the keys of details in words (its targets: see test_audit_labels)."""
    from core.audit import AuditEvent
    from core.audit_labels import ACTION_LABELS, DETAIL_LABELS

    events = db.session.execute(select(AuditEvent.action, AuditEvent.detail)).all()
    assert {action for action, _detail in events} - set(ACTION_LABELS) == set()
    keys = {key for _action, detail in events if isinstance(detail, dict) for key in detail}
    assert keys - set(DETAIL_LABELS) == set()
    # Nested details (a class's attendance changes) read as labelled values, not as a Python repr.
    client.post_form("/login", {"username": "zzb001", "password": district.DEMO_PASSWORD})
    text = page_text(client.get("/admin/audit?action=training.attendance").get_data(as_text=True))
    assert "改动内容" in text and "已报名、未登记 → " in text  # each person's attendance, before → after
    assert "None" not in text and "{'" not in text and "['" not in text
    assert "enrolled" not in text and "completed" not in text and "周" in text  # codes as words, people by name


def test_every_page_reads_in_chinese(demo, app, client, tmp_path):
    """As a person holding every role (zzb001), as a plain candidate (cadre01) and as a grader who sits nothing
    (grader02: the appeal she reviews, which zzb001, a candidate of an exam sharing its questions, may not read);
    page 2 of every long list too."""
    patterns = english_words(tmp_path)
    found, walked = {}, set()
    for who in ("zzb001", "cadre01", "grader02"):
        client.post_form("/login", {"username": who, "password": district.DEMO_PASSWORD})
        samples = _samples(who)
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if "GET" not in rule.methods or NOT_PAGES.search(rule.rule):
                continue
            urls = _paths(rule, samples)
            while urls:
                url = urls.pop()
                response = client.get(url)
                if response.status_code != 200 or response.mimetype != "text/html":
                    continue
                walked.add(rule.endpoint)
                html = response.get_data(as_text=True)
                if words := untranslated(page_text(html), patterns):
                    found[f"{who} {url}"] = words
                if 'rel="next"' in html and "page=" not in url:
                    urls.append(url + "?page=2")  # the pager's middle page: both its links
        client.post_form("/logout")
    assert found == {}
    # The walk read every page it means to (a broken sample would quietly skip one).
    pages = {r.endpoint for r in app.url_map.iter_rules() if "GET" in r.methods and not NOT_PAGES.search(r.rule)}
    assert pages - walked - UNWALKED == set()


def test_one_english_word_reads_as_the_right_chinese_in_each_place(demo, client, db):
    """Words that mean two things in Chinese (msgid contexts), and statuses named one way."""
    from archive.models import ReadingNote

    def page(url):
        response = client.get(url)
        assert response.status_code == 200, url
        return response.get_data(as_text=True)

    client.post_form("/login", {"username": "cadre01", "password": district.DEMO_PASSWORD})
    done = select(ReadingNote.book_id).where(
        ReadingNote.user_id == _first(select(User.id).filter_by(username="cadre01")), ReadingNote.status == "accepted"
    )
    book = _first(select(ReadingBook).where(ReadingBook.id.not_in(done)).order_by(ReadingBook.year.desc()))
    note = page(f"/archive/reading/books/{book.id}/note")
    assert "提交笔记" in note and "交卷" not in note  # a reading note is handed in, not an exam paper
    # API tokens are under the account page, not in every cadre's top bar.
    assert "/account/tokens" not in page("/") and "/account/tokens" in page("/account/password")
    client.post_form("/logout")

    client.post_form("/login", {"username": "zzb001", "password": district.DEMO_PASSWORD})
    assert '<th scope="col">考生</th>' in page("/exams/T1/attempts")  # the person, not their eligibility
    settings = page("/exams/T1/settings")
    assert "手动发布成绩" in settings and "手工调整" not in settings  # releasing results is not adding people
    assert "<legend>手工调整考生</legend>" in page("/exams/T1/")
    assert "<h2>缺考</h2>" in page("/reports/exams/GWZS2025/ranking?show=absent")  # absent from an exam: 缺考
    assert "开始日期" in page("/archive/classes/new") and "开始考试" not in page("/archive/classes/new")
    assert "尚未参加考试" in page("/reports/qualifications")
