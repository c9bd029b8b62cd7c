"""Importing .lrmx batches: matching (ID number, employee number, name and birth date; ambiguity reported), the
plan, the commit (profile, ID number, photo, degree entries, assessments), all or nothing, the pages and the CLI."""

import io
import json
import zipfile
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import LargeBinary, func, select, text, type_coerce

from accounts import personal
from accounts.models import Cadre, CadrePhoto, User
from archive.models import AnnualAssessment, ArchiveEntry
from core.audit import AuditEvent as AuditEntry
from demo.lrmx_forms import Form, export, photo_jpeg, software
from jobs.models import Job, JobState, StoredFile
from personnel import importing
from personnel.importing import Options, commit_plan, plan_batch
from tests.factories import make_cadre, make_unit, make_user

TODAY = date(2026, 12, 6)
NOW = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)


def lin(town, **kw) -> Cadre:
    """林晓岚 as QualExam knows her before any form: no ID number, an older post and rank."""
    cadre = make_cadre(unit=town, birth_date=date(1991, 4, 12), rank="staff", username=kw.pop("username", "Q0007"),
                       name=kw.pop("name", "林晓岚"), **kw)  # fmt: skip
    cadre.position, cadre.education = "综合岗", "bachelor"
    return cadre


def plan(actor, *items, **options):
    with_names = [(n, d) for n, d in items]
    return plan_batch(actor, with_names, Options(**options), TODAY)


def texts(p) -> list[str]:
    return [str(i) for i in p.issues]


# ---------------------------------------------------------------- matching


def test_matched_by_name_and_birth_date_then_by_id_number(app, db, town, admin):
    cadre = lin(town)
    db.session.commit()
    form = Form(photo=photo_jpeg(1))
    first = plan(admin, ("林晓岚.lrmx", software(form)))
    assert first.ok, texts(first)
    [p] = first.people
    assert p.cadre.id == cadre.id and p.matched_by == "name_birth" and p.status == "updated"
    assert p.changes["rank"] == ["staff", "deputy_section_chief"]
    assert p.changes["position"] == ["综合岗", "区委组织部干部科四级主任科员"]
    assert p.changes["education"] == ["bachelor", "master"]
    assert p.changes["id_number"] == [None, personal.mask_id_number(form.id)]
    assert p.changes["photo"] == ["none", "new"]
    assert len(p.degrees) == 2 and p.assessments == {2022: "competent", 2023: "excellent", 2024: "competent"}
    commit_plan(admin, first, NOW)
    db.session.commit()

    db.session.expire_all()
    cadre = db.session.get(Cadre, cadre.id)
    assert cadre.id_number == form.id and cadre.rank == "deputy_section_chief" and cadre.education == "master"
    stored = db.session.execute(text("SELECT id_number FROM cadres WHERE id = :id"), {"id": cadre.id}).scalar()
    assert form.id not in stored and stored.startswith("gAAAA")  # encrypted at rest (a Fernet token)
    assert db.session.get(CadrePhoto, cadre.id) is not None
    entries = db.session.scalars(select(ArchiveEntry).where(ArchiveEntry.user_id == cadre.user_id)
                                 .order_by(ArchiveEntry.starts_on)).all()  # fmt: skip
    assert [(e.kind, e.title, e.details["degree_status"]) for e in entries] == [
        ("degree", "浙江工商大学 法学", "graduated"),
        ("degree", "中共浙江省委党校 政治学", "graduated"),
    ]
    grades = db.session.execute(
        select(AnnualAssessment.year, AnnualAssessment.grade)
        .where(AnnualAssessment.user_id == cadre.user_id)
        .order_by(AnnualAssessment.year)
    ).all()
    assert grades == [(2022, "competent"), (2023, "excellent"), (2024, "competent")]
    actions = set(db.session.scalars(select(AuditEntry.action)))
    assert {"cadre.lrmx_import", "cadre.id_number_set", "cadre.updated", "cadre.photo_set"} <= actions
    assert not any(form.id in json.dumps(e.detail or {}) for e in db.session.scalars(select(AuditEntry)))

    # The same form again: found by its ID number now, even under another name and file; nothing to do.
    again = plan(admin, ("重新导出.lrmx", software(form)))
    assert again.ok and again.people[0].matched_by == "id_number" and again.people[0].status == "unchanged"


def test_matched_by_employee_number_from_the_form_or_the_file_name(app, db, town, admin):
    cadre = lin(town, name="林晓兰")  # typed differently in QualExam
    db.session.commit()
    p = plan(admin, ("x.lrmx", export(Form(employee_number="q0007"))))
    assert p.ok and p.people[0].cadre.id == cadre.id and p.people[0].matched_by == "employee_number"
    assert p.people[0].changes["name"] == ["林晓兰", "林晓岚"]
    p = plan(admin, ("Q0007_林晓岚.lrmx", software(Form())))
    assert p.ok and p.people[0].matched_by == "employee_number"


def test_two_cadres_fitting_are_reported_never_guessed(app, db, town, admin):
    lin(town)
    lin(town, username="Q0099")
    db.session.commit()
    p = plan(admin, ("林晓岚.lrmx", software(Form())))
    assert not p.ok and "Q0007" in texts(p)[0] and "Q0099" in texts(p)[0]


def test_birth_month_only_matches_on_the_month(app, db, town, admin):
    cadre = lin(town)
    db.session.commit()
    p = plan(admin, ("a.lrmx", software(Form(with_id=False))))
    assert p.ok and p.people[0].cadre.id == cadre.id and "birth_date" not in p.people[0].changes


def test_a_different_id_number_is_refused_whatever_else_fits(app, db, town, admin):
    cadre = lin(town)
    personal.set_id_number(cadre, Form(seq=8).id, actor=admin, now=NOW)
    db.session.commit()
    p = plan(admin, ("a.lrmx", export(Form(employee_number="Q0007"))))  # the number fits, the ID does not
    assert not p.ok and p.issues[0].field == "身份证号"
    p = plan(admin, ("b.lrmx", software(Form())))  # name and birth fit, the ID does not: a different person,
    assert not p.ok and len(p.issues) == 2  # so a new cadre, without an employee number or a unit to go to
    assert all(i.file == "b.lrmx" for i in p.issues)


def test_the_same_person_twice_in_a_batch(app, db, town, admin):
    lin(town)
    db.session.commit()
    p = plan(admin, ("a.lrmx", software(Form())), ("b.lrmx", export(Form(employee_number="Q0007"))))
    assert not p.ok and "a.lrmx" in texts(p)[0] and p.issues[0].file == "b.lrmx"


# ---------------------------------------------------------------- new cadres


def test_a_new_cadre_needs_a_number_a_unit_and_a_rank(app, db, town, admin):
    form = Form(name="周远", male=True, birth=date(1993, 8, 2), seq=3, post="青山镇农业服务中心科员")
    p = plan(admin, ("周远.lrmx", software(form)))
    assert not p.ok and len(p.issues) == 2  # no employee number; no unit chosen (the rank 科员 is read)
    p = plan(admin, ("Q0300_周远.lrmx", software(form)), unit=town)
    assert p.ok and p.people[0].status == "new"
    credentials = commit_plan(admin, p, NOW)
    db.session.commit()
    [cred] = credentials
    cadre = db.session.scalar(select(Cadre).join(User).where(User.username == "Q0300"))
    assert cred.employee_number == "Q0300" and cadre.name == "周远" and cadre.rank == "staff"
    assert cadre.gender == "male" and cadre.birth_date == date(1993, 8, 2) and cadre.unit_id == town.id
    assert cadre.user.must_change_password and personal.find_by_id_number(form.id).id == cadre.id


def test_a_new_cadre_without_a_rank_in_the_post(app, db, town, admin):
    form = Form(name="周远", male=True, seq=3, post="区发改委项目科科长")
    p = plan(admin, ("Q0300.lrmx", software(form)), unit=town)
    assert not p.ok and len(p.issues) == 1
    p = plan(admin, ("Q0300.lrmx", software(form)), unit=town, rank="stock_level")
    assert p.ok and p.people[0].data.rank == "stock_level"


def test_unit_outside_scope(app, db, town):
    other = make_unit("红旗街道", code="HQJD", kind="street")
    keeper = make_user(username="ua1", roles=("unit_admin",), unit=other)
    make_cadre(unit=other, user=keeper)
    db.session.commit()
    p = plan(keeper, ("Q0300.lrmx", software(Form(name="周远", male=True, seq=3))), unit=town)
    assert not p.ok


# ---------------------------------------------------------------- combined roles and scope


def test_an_admin_cannot_import_their_own_form(app, db, town):
    me = make_user(username="Q0007", name="林晓岚", roles=("org_admin", "cadre"))
    lin(town, user=me)
    db.session.commit()
    p = plan(me, ("mine.lrmx", software(Form())))
    assert not p.ok and len(p.issues) == 1


def test_unit_admin_writes_no_archive_of_a_leading_cadre(app, db, town):
    keeper = make_user(username="ua1", roles=("unit_admin",), unit=town)
    make_cadre(unit=town, user=keeper)
    lin(town)
    db.session.commit()
    p = plan(keeper, ("a.lrmx", software(Form(post="青山镇党委副书记（正科级）"))))
    [person] = p.people
    # The form makes her a section chief, whose archive the organisation department keeps.
    assert p.ok and person.changes["rank"] == ["staff", "section_chief"]
    assert person.degrees == [] and person.assessments == {} and person.notes


def test_cadre_outside_scope(app, db, town):
    other = make_unit("红旗街道", code="HQJD", kind="street")
    keeper = make_user(username="ua1", roles=("unit_admin",), unit=other)
    make_cadre(unit=other, user=keeper)
    lin(town)
    db.session.commit()
    p = plan(keeper, ("Q0007_林晓岚.lrmx", software(Form())))
    assert not p.ok and "Q0007" in texts(p)[0]


def test_assessments_kept_where_the_archive_has_one(app, db, town, admin):
    from archive import assessment

    cadre = lin(town)
    db.session.commit()
    assessment.appraise(admin, cadre, 2023, "本年度学习态度端正，按计划完成了各项学习任务。" * 2, "competent", "", NOW)
    db.session.commit()
    p = plan(admin, ("a.lrmx", software(Form())))
    assert p.ok and sorted(p.people[0].assessments) == [2022, 2024] and p.people[0].notes


# ---------------------------------------------------------------- all or nothing


def test_one_bad_form_stops_the_batch(app, db, town, admin):
    lin(town)
    db.session.commit()
    p = plan(admin, ("good.lrmx", software(Form())), ("bad.lrmx", b"<Person><XingMing>x</XingMing>"))
    assert not p.ok and p.issues[0].file == "bad.lrmx"
    with pytest.raises(importing.DomainError):
        commit_plan(admin, p, NOW)


def test_a_refusal_mid_commit_leaves_nothing(app, db, town, admin, monkeypatch):
    lin(town)
    db.session.commit()
    p = plan(admin, ("a.lrmx", software(Form())), ("Q0300.lrmx", software(Form(name="周远", male=True, seq=3))),
             unit=town)  # fmt: skip
    assert p.ok

    def refuse(*a, **k):
        raise importing.DomainError("refused", code="x")

    monkeypatch.setattr(importing.assessment, "appraise_many", refuse)  # the last write: the rest is flushed
    with pytest.raises(importing.DomainError):
        commit_plan(admin, p, NOW)
    db.session.rollback()
    assert db.session.scalar(select(func.count(ArchiveEntry.id))) == 0
    assert db.session.scalar(select(User.id).where(User.username == "Q0300")) is None  # the new cadre
    assert db.session.scalar(select(Cadre.id_number_index).join(User).where(User.username == "Q0007")) is None


# ---------------------------------------------------------------- the pages


def upload(client, *files, unit="", rank=""):
    data = {"files": [(io.BytesIO(d), n) for n, d in files], "unit": unit, "rank": rank}
    return client.post_form("/admin/cadres/import-lrmx", data, content_type="multipart/form-data")


def test_pages_upload_check_preview_confirm(app, client, auth, db, town, admin):
    cadre = lin(town)
    db.session.commit()
    auth.login("orgadmin")
    assert client.get("/admin/cadres/import-lrmx").status_code == 200
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("干部/林晓岚.lrmx", software(Form(photo=photo_jpeg(2))))
        z.writestr("干部/Q0300_周远.lrmx", export(Form(name="周远", male=True, seq=3, post="青山镇农业服务中心科员")))
    response = upload(client, ("forms.zip", zipped.getvalue()), unit=str(town.id))
    assert response.status_code == 302
    check = db.session.scalar(select(Job).order_by(Job.id.desc()))
    assert check.kind == "personnel.check-lrmx" and check.state == JobState.DONE
    page = client.get(f"/admin/cadres/import-lrmx/{check.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="lrmx-people"' in html and "周远" in html and "林晓岚" in html
    assert Form().id not in html and personal.mask_id_number(Form().id) in html
    response = client.post_form(f"/admin/cadres/import-lrmx/{check.id}/commit")
    assert response.status_code == 302
    done = db.session.scalar(select(Job).order_by(Job.id.desc()))
    assert done.kind == "personnel.import-lrmx" and done.state == JobState.DONE, done.error
    db.session.expire_all()
    assert db.session.get(Cadre, cadre.id).id_number == Form().id
    assert db.session.scalar(select(func.count(User.id)).where(User.username == "Q0300")) == 1
    passwords = db.session.scalar(select(StoredFile).where(StoredFile.job_id == done.id))
    assert passwords.purpose == "secret" and passwords.owner_id == admin.id
    # A second confirmation finds nothing waiting.
    again = client.post_form(f"/admin/cadres/import-lrmx/{check.id}/commit")
    assert again.status_code == 302 and again.headers["Location"].endswith("/admin/cadres/import-lrmx")


def test_a_waiting_batch_is_encrypted_and_a_dropped_key_is_told(app, client, auth, db, town, admin):
    from cryptography.fernet import Fernet

    from core import crypto
    from jobs import files, runner, submit
    from personnel import batches

    lin(town)
    db.session.commit()
    auth.login("orgadmin")
    sent = software(Form())
    upload(client, ("林晓岚.lrmx", sent))
    check = db.session.scalar(select(Job).order_by(Job.id.desc()))
    assert check.state == JobState.DONE, check.error
    waiting = db.session.scalar(select(type_coerce(StoredFile.data, LargeBinary)).where(StoredFile.purpose == "upload"))
    for plain in (sent, Form().id.encode(), "林晓岚".encode(), b"<Person"):
        assert plain not in waiting  # as the database holds it
    another = files.store(batches.pack([("林晓岚.lrmx", sent)]), "b.zip", "application/zip", purpose="upload",
                          owner_id=admin.id)  # fmt: skip
    db.session.commit()
    old = app.config["DATA_KEYS"]
    try:
        app.config["DATA_KEYS"] = [Fernet.generate_key().decode()]  # the key they were encrypted with, dropped
        crypto.init_app(app)
        page = client.post_form(f"/admin/cadres/import-lrmx/{check.id}/commit")  # reads the preview
        job = submit("personnel.check-lrmx", {"upload": another.token}, user=admin)  # reads the forms
        db.session.commit()
    finally:
        app.config["DATA_KEYS"] = old
        crypto.init_app(app)
    assert page.status_code == 500 and "QE_DATA_KEYS" in page.get_data(as_text=True)
    db.session.expire_all()
    assert (
        db.session.get(Job, job.id).state == JobState.FAILED and db.session.get(Job, job.id).error == runner.UNREADABLE
    )
    assert "无法用本服务器的密钥" in client.get(f"/jobs/{job.id}").get_data(as_text=True)  # told in words
    assert db.session.scalar(select(func.count(Job.id)).where(Job.kind == "personnel.import-lrmx")) == 0
    assert db.session.scalar(select(Cadre.id_number_index).join(User).where(User.username == "Q0007")) is None


def test_pages_show_problems_and_offer_no_confirmation(app, client, auth, db, town, admin):
    auth.login("orgadmin")
    upload(client, ("坏.lrmx", b"<!DOCTYPE x [<!ENTITY a 'b'>]><Person/>"), ("x.lrm", b"old"))
    check = db.session.scalar(select(Job).order_by(Job.id.desc()))
    html = client.get(f"/admin/cadres/import-lrmx/{check.id}").get_data(as_text=True)
    assert 'id="lrmx-issues"' in html and "坏.lrmx" in html and "x.lrm" in html
    assert "/commit" not in html
    assert client.post_form(f"/admin/cadres/import-lrmx/{check.id}/commit").status_code == 302
    assert db.session.scalar(select(func.count(Job.id)).where(Job.kind == "personnel.import-lrmx")) == 0


def test_data_changed_since_the_check_writes_nothing(app, client, auth, db, town, admin):
    cadre = lin(town)
    db.session.commit()
    auth.login("orgadmin")
    upload(client, ("林晓岚.lrmx", software(Form())))
    check = db.session.scalar(select(Job).order_by(Job.id.desc()))
    cadre = db.session.get(Cadre, cadre.id)
    cadre.position = "另一岗位"
    db.session.commit()
    client.post_form(f"/admin/cadres/import-lrmx/{check.id}/commit")
    done = db.session.scalar(select(Job).order_by(Job.id.desc()))
    assert done.state == JobState.FAILED
    db.session.expire_all()
    assert db.session.get(Cadre, cadre.id).id_number is None


def test_another_admins_preview_is_not_found(app, client, auth, db, town, admin):
    make_user(username="orgadmin2", roles=("org_admin",))
    db.session.commit()
    auth.login("orgadmin")
    upload(client, ("林晓岚.lrmx", software(Form())))
    check = db.session.scalar(select(Job).order_by(Job.id.desc()))
    auth.logout()
    auth.login("orgadmin2")
    assert client.get(f"/admin/cadres/import-lrmx/{check.id}").status_code == 404
    assert client.post_form(f"/admin/cadres/import-lrmx/{check.id}/commit").status_code == 404


def test_a_large_batch_is_taken_past_the_usual_upload_limit(app, client, auth, db, town, admin):
    auth.login("orgadmin")
    app.config["MAX_CONTENT_LENGTH"] = 1000  # far below one form: only this page's own limit applies
    try:
        assert upload(client, ("林晓岚.lrmx", software(Form(photo=photo_jpeg(1))))).status_code == 302
        app.config["LRMX_UPLOAD_MB"] = 0
        assert upload(client, ("林晓岚.lrmx", software(Form()))).status_code == 413
    finally:
        app.config["MAX_CONTENT_LENGTH"] = 16 * 1024 * 1024
        app.config["LRMX_UPLOAD_MB"] = 100


# ---------------------------------------------------------------- the command line


@pytest.fixture
def cli_admin(db):
    user = make_user(username="root", roles=("system_admin",))
    db.session.commit()
    return user


def test_cli_dry_run_then_import(runner, db, town, cli_admin, tmp_path):
    cadre = lin(town)
    db.session.commit()
    folder = tmp_path / "forms"
    (folder / "sub").mkdir(parents=True)
    (folder / "林晓岚.lrmx").write_bytes(software(Form()))
    (folder / "sub" / "Q0300_周远.lrmx").write_bytes(export(Form(name="周远", male=True, seq=3, post="二级科员")))
    result = runner.invoke(args=["cadres", "import-lrmx", str(folder), "--dry-run", "--unit", "QSZ"])
    assert result.exit_code == 0, result.output
    assert "1 new, 1 to update" in result.output and Form().id not in result.output
    db.session.expire_all()
    assert db.session.get(Cadre, cadre.id).id_number is None
    out = tmp_path / "pw.xlsx"
    result = runner.invoke(args=["cadres", "import-lrmx", str(folder), "--unit", "QSZ", "--passwords-out", str(out)])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.get(Cadre, cadre.id).id_number == Form().id and out.exists()


def test_cli_refuses_a_bad_batch(runner, db, town, cli_admin, tmp_path):
    (tmp_path / "a.lrmx").write_bytes(b"<Person>")
    result = runner.invoke(args=["cadres", "import-lrmx", str(tmp_path / "a.lrmx")])
    assert result.exit_code == 1 and "a.lrmx" in result.output


def test_cli_rotate_keys(runner, app, db, town, cli_admin):
    from cryptography.fernet import Fernet

    from accounts import photos
    from core import crypto
    from jobs import files

    cadre = lin(town)
    personal.set_id_number(cadre, Form().id, actor=cli_admin, now=NOW)
    photos.set_photo(cadre, photo_jpeg(1), actor=cli_admin, now=NOW)
    photo = db.session.get(CadrePhoto, cadre.id).data
    waiting = files.store(b"forms", "b.zip", "application/zip", purpose="upload", owner_id=cli_admin.id)
    lost = files.store(b"lost", "c.zip", "application/zip", purpose="upload", owner_id=cli_admin.id)
    db.session.flush()  # and one whose key was dropped too early: the rotation goes past it
    unknown_key = Fernet(Fernet.generate_key()).encrypt(b"lost")
    db.session.execute(StoredFile.__table__.update().where(StoredFile.id == lost.id)
                       .values(data=type_coerce(unknown_key, LargeBinary)))  # fmt: skip
    db.session.commit()
    old = dict(DATA_KEYS=app.config["DATA_KEYS"], INDEX_KEYS=app.config["INDEX_KEYS"])
    new_data, new_index = Fernet.generate_key().decode(), "a-new-index-key-for-this-test-only-0123456789"
    try:
        app.config["DATA_KEYS"] = [new_data, *old["DATA_KEYS"]]
        app.config["INDEX_KEYS"] = [new_index, *old["INDEX_KEYS"]]
        crypto.init_app(app)
        assert personal.find_by_id_number(Form().id).id == cadre.id  # the old index still finds it meanwhile
        result = runner.invoke(args=["personal-data", "rotate-keys"])
        assert result.exit_code == 0, result.output
        assert "1 file(s) or photo(s) no listed key decrypts" in result.output
        app.config["DATA_KEYS"], app.config["INDEX_KEYS"] = [new_data], [new_index]
        crypto.init_app(app)  # the old keys dropped: everything still reads and is found
        db.session.expire_all()
        again = db.session.get(Cadre, cadre.id)
        assert again.id_number == Form().id and again.phone == "13900000000"  # every encrypted column rotated
        assert db.session.get(StoredFile, waiting.id).data == b"forms"  # and every stored file
        assert db.session.get(CadrePhoto, cadre.id).data == photo  # and every photo
        assert personal.find_by_id_number(Form().id).id == cadre.id
    finally:
        app.config.update(old)
        crypto.init_app(app)


def test_the_preview_and_its_problems_read_in_chinese(app, client, auth, db, town, admin, tmp_path):
    from tests.core.test_rendered_words import english_words, page_text, untranslated

    lin(town)
    db.session.commit()
    auth.login("orgadmin")
    patterns = english_words(tmp_path)
    zhou = export(Form(name="周远", male=True, seq=3, post="二级科员"))
    upload(client, ("林晓岚.lrmx", software(Form(photo=photo_jpeg(4), resume=[]))), ("Q0300_周远.lrmx", zhou),
           unit=str(town.id))  # fmt: skip
    good = db.session.scalar(select(Job).order_by(Job.id.desc()))
    upload(client, ("坏.lrmx", b"<Person>"), ("x.lrm", b"old"), ("周远.lrmx", software(Form(name="周远", seq=3))))
    bad = db.session.scalar(select(Job).order_by(Job.id.desc()))
    for job in (good, bad):
        html = client.get(f"/admin/cadres/import-lrmx/{job.id}").get_data(as_text=True)
        assert untranslated(page_text(html), patterns) == []
    assert untranslated(page_text(client.get("/admin/cadres/import-lrmx").get_data(as_text=True)), patterns) == []
    html = client.get(f"/admin/cadres/import-lrmx/{good.id}").get_data(as_text=True)
    assert "按姓名和出生日期对应" in html and "新增干部" in html and "简历中没有相应起止时间" in html


def test_education_is_raised_never_lowered(app, db, town, admin):
    cadre = lin(town)
    cadre.education = "doctorate"
    db.session.commit()
    p = plan(admin, ("a.lrmx", software(Form())))  # the form's highest: a master's
    assert p.ok and "education" not in p.people[0].changes and p.people[0].data.education == "doctorate"
    assert p.people[0].notes


def test_cli_rotate_keys_stops_at_a_profile_value_no_key_reads(runner, db, town, cli_admin):
    from cryptography.fernet import Fernet
    from sqlalchemy import Text

    cadre_id = lin(town).id
    lost = Fernet(Fernet.generate_key()).encrypt(b"13900000000").decode()
    db.session.execute(Cadre.__table__.update().where(Cadre.id == cadre_id).values(phone=type_coerce(lost, Text)))
    db.session.commit()
    result = runner.invoke(args=["personal-data", "rotate-keys"])
    assert result.exit_code == 1 and f"cadres #{cadre_id}" in result.output and "QE_DATA_KEYS" in result.output
    assert db.session.execute(select(type_coerce(Cadre.phone, Text)).where(Cadre.id == cadre_id)).scalar() == lost
