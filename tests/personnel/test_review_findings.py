"""The security review's findings on the .lrmx import (issue 26), each kept as a test of its mend."""

import contextlib
import io
import random
import struct
import warnings
import zipfile
from datetime import date
from pathlib import Path

import pytest
from PIL import Image

from accounts import personal
from accounts.photos import make_jpeg
from core.errors import DomainError
from demo.lrmx_forms import Form, export, software
from personnel import lrmx
from personnel.importing import commit_plan
from tests.factories import make_cadre, make_unit, make_user
from tests.personnel.test_import import NOW, plan, texts

SAMPLES = Path(__file__).parent / "samples"


def test_members_packed_with_lzma_or_bzip2_are_refused_unread(app):
    """zipfile bounds what it unpacks at once for DEFLATE only: an LZMA member lying about its size would be
    unpacked whole (600 MB from 88 KB in the review)."""
    for method in (zipfile.ZIP_LZMA, zipfile.ZIP_BZIP2):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", method) as z:
            z.writestr("a.lrmx", software(Form()))
        with app.test_request_context():
            found, issues = lrmx.read_batch([("forms.zip", out.getvalue())])
        assert found == [] and len(issues) == 1 and issues[0].file == "forms.zip/a.lrmx"


def test_the_ratio_is_judged_by_the_bytes_a_member_really_has(app):
    """Members whose directory entries claim a packed size of 1 MB (ratio 4) hold 4 KB each (ratio 1000)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        body = b"<Person>" + b" " * (3 * 1024 * 1024) + b"</Person>"
        for i in range(3):
            z.writestr(f"{i}.lrmx", body)
    data = bytearray(out.getvalue())
    at = 0
    while (at := data.find(b"PK\x01\x02", at)) >= 0:
        struct.pack_into("<I", data, at + 20, 1024 * 1024)  # the central directory's packed size
        at += 4
    with app.test_request_context():
        found, issues = lrmx.read_batch([("forms.zip", bytes(data))])
    assert found == [] and len(issues) == 3


def test_a_directory_of_millions_of_entries_is_refused_before_it_is_read(app):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("a.lrmx", software(Form()))
    data = bytearray(out.getvalue())
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, end + 8, 0xFFFE, 0xFFFE)  # entries on this disk, and in all (at most 65,534)
    with app.test_request_context(), pytest.MonkeyPatch.context() as mp:
        mp.setattr(lrmx, "MAX_ENTRIES", 1000)
        found, issues = lrmx.read_batch([("many.zip", bytes(data))])
    assert found == [] and len(issues) == 1


def test_a_running_number_in_the_file_name_never_attaches_a_form_to_someone_else(app, db, town, admin):
    li = make_cadre(unit=town, username="0001", name="李明", birth_date=date(1975, 2, 3), rank="staff")
    db.session.commit()
    wang = Form(name="王芳", male=False, birth=date(1990, 6, 1), seq=5)
    p = plan(admin, ("0001_王芳.lrmx", software(wang)))  # files numbered 0001, 0002, … by the department
    assert all(person.cadre is None or person.cadre.id != li.id for person in p.people)
    assert not p.ok  # a new person, with no number of their own and no unit to go to


def test_a_file_number_that_fits_still_matches(app, db, town, admin):
    cadre = make_cadre(unit=town, username="0001", name="林晓岚", birth_date=date(1991, 4, 12), rank="staff")
    db.session.commit()
    p = plan(admin, ("0001_林晓岚.lrmx", software(Form(with_id=False))))
    assert p.ok and p.people[0].cadre.id == cadre.id and p.people[0].matched_by == "employee_number"


def test_a_stated_employee_number_is_never_overridden(app, db, town, admin):
    make_cadre(unit=town, username="Q0100", name="张伟", birth_date=date(1985, 3, 10), rank="staff")
    db.session.commit()
    other = Form(name="张伟", male=True, birth=date(1985, 3, 27), with_id=False, employee_number="Q0300",
                 post="青山镇农业服务中心科员")  # fmt: skip
    p = plan(admin, ("张伟.lrmx", export(other)), unit=town)
    assert not p.ok and p.issues[0].field == "工号"
    # Nor by an ID number that belongs to another cadre than the 工号 says.
    li = make_cadre(unit=town, username="Q0007", name="林晓岚", birth_date=date(1991, 4, 12), rank="staff")
    personal.set_id_number(li, Form().id, actor=admin, now=NOW)
    db.session.commit()
    p = plan(admin, ("x.lrmx", export(Form(employee_number="Q0100"))))
    assert not p.ok and p.issues[0].field == "工号"


def test_a_file_named_by_the_id_number_keeps_it_masked(app, db, town, admin):
    form = Form(name="周远", male=True, birth=date(1993, 8, 2), seq=3, post="青山镇农业服务中心科员")
    p = plan(admin, (f"{form.id}_周远.lrmx", software(form)), unit=town)
    preview = str(p.preview()) + " ".join(texts(p))
    assert form.id not in preview and personal.mask_id_number(form.id) in preview
    assert all(person.data.employee_number != form.id for person in p.people)
    p = plan(admin, ("a.lrmx", export(Form(employee_number=form.id))), unit=town)  # a 工号 that is an ID number
    assert not p.ok and p.issues[0].field == "工号" and form.id not in " ".join(texts(p))


def test_a_unit_admin_is_not_told_who_else_is_in_qualexam(app, db, town):
    other = make_unit("红旗街道", code="HQJD", kind="street")
    keeper = make_user(username="ua1", roles=("unit_admin",), unit=other)
    make_cadre(unit=other, user=keeper)
    secret = make_cadre(unit=town, username="Q0007", name="林晓岚", birth_date=date(1991, 4, 12), rank="staff")
    make_cadre(unit=town, username="Q0099", name="林晓岚", birth_date=date(1991, 4, 12), rank="staff")
    personal.set_id_number(secret, Form().id, actor=keeper, now=NOW)
    db.session.commit()
    for form in (Form(name="某人", seq=7), Form(with_id=False)):
        p = plan(keeper, ("probe.lrmx", software(form)))
        assert not p.ok and not any("Q0007" in t or "Q0099" in t for t in texts(p))


def test_a_photo_with_broken_exif_is_a_problem_of_its_file(app, db, town, admin):
    make_cadre(unit=town, username="Q0007", name="林晓岚", birth_date=date(1991, 4, 12), rank="staff")
    db.session.commit()
    p = plan(admin, ("林晓岚.lrmx", software(Form(photo=(SAMPLES / "bad_exif.jpg").read_bytes()))))
    assert not p.ok and p.issues[0].field == "照片" and p.issues[0].file == "林晓岚.lrmx"


def test_damaged_exif_never_escapes_as_anything_but_a_refusal(app):
    image = Image.new("RGB", (60, 80), "red")
    exif = Image.Exif()
    exif[0x0112], exif[0x010F], exif[0x8769] = 6, "maker", {0x9003: "2020:01:01 00:00:00"}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    base = out.getvalue()
    start, rng = base.index(b"Exif"), random.Random(1)
    with app.test_request_context(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(1500):
            data = bytearray(base)
            for _k in range(rng.randint(1, 6)):
                data[rng.randrange(start, start + 120)] = rng.randrange(256)
            with contextlib.suppress(DomainError):  # a refusal is fine; anything else fails the test
                make_jpeg(bytes(data))


def test_an_undecodable_file_says_which_encoding(app, db, town, admin):
    data = software(Form()).replace(b'encoding="UTF-8"', b'encoding="GB2312"') + b"\x81"
    p = plan(admin, ("林晓岚.lrmx", data))
    assert not p.ok and "GB18030" in texts(p)[0]


def test_degrees_the_archive_would_refuse_are_refused_at_the_check(app, db, town, admin):
    make_cadre(unit=town, username="Q0007", name="林晓岚", birth_date=date(1991, 4, 12), rank="staff")
    db.session.commit()
    resume = ["2013.07--2009.09  浙江工商大学法学专业学生",  # the end before the start
              "1948.09--1952.07  中共浙江省委党校政治学专业在职研究生学习"]  # before 1950  # fmt: skip
    p = plan(admin, ("林晓岚.lrmx", software(Form(resume=resume))))
    assert not p.ok and len(p.issues) == 2 and {i.field for i in p.issues} == {"简历"}


def test_a_long_school_makes_a_title_the_archive_keeps(app, db, town, admin):
    cadre = make_cadre(unit=town, username="Q0007", name="林晓岚", birth_date=date(1991, 4, 12), rank="staff")
    db.session.commit()
    school = "浙" * 150 + "大学" + "法" * 150 + "专业"
    p = plan(admin, ("a.lrmx", software(Form(full_time=("大学", "学士", school),
                                              resume=[f"2009.09--2013.07  {school}学生"]))))  # fmt: skip
    assert p.ok, texts(p)
    commit_plan(admin, p, NOW)
    db.session.commit()
    assert cadre.id


def test_only_importers_may_send_a_large_body(app, client, auth, db):
    from werkzeug.datastructures import FileStorage

    from tests.security.test_uploads import _post_multipart

    def send():
        big = FileStorage(io.BytesIO(b"x" * (17 * 1024 * 1024)), filename="a.zip")
        return _post_multipart(client, "/admin/cadres/import-lrmx", {"files": big}).status_code

    assert send() == 413  # not logged in: held to the usual 16 MB
    auth.login_as("grader")
    assert send() == 413
    auth.logout()
    auth.login_as("org_admin")
    assert send() == 302  # taken (and checked by a job: not a zip, so a problem, not a crash)
