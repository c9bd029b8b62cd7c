"""Reading .lrmx forms: both layouts and their encodings, the mapping of each field, and hostile files refused."""

import io
import zipfile
from datetime import date

import pytest

from demo.lrmx_forms import Form, export, id_number, photo_jpeg, software
from personnel import lrmx

TODAY = date(2026, 12, 6)


def read(data: bytes, name="林晓岚.lrmx"):
    return lrmx.read_person(name, data, TODAY)


@pytest.fixture
def app_ctx(app):
    with app.test_request_context():
        yield


@pytest.mark.parametrize("layout", [software, export])
def test_both_layouts_map_every_field(app_ctx, layout):
    form = Form(photo=photo_jpeg(3), employee_number="Q0007")
    person, issues = read(layout(form), "Q0007_林晓岚.lrmx")
    assert issues == []
    assert person.name == "林晓岚" and person.gender == "female"
    assert person.id_number == form.id and person.birth_date == date(1991, 4, 12)
    assert person.political_status == "cpc_member"
    assert person.education == "master"  # the in-service master's above the full-time bachelor's
    assert [(d.study_mode, d.level, d.institution, d.major, d.starts_on, d.ends_on) for d in person.degrees] == [
        ("full_time", "bachelor", "浙江工商大学", "法学", date(2009, 9, 1), date(2013, 7, 1)),
        ("part_time", "master", "中共浙江省委党校", "政治学", date(2016, 9, 1), date(2019, 7, 1)),
    ]
    assert person.position == "区委组织部干部科四级主任科员" and person.rank == "deputy_section_chief"
    assert person.assessments == {2022: "competent", 2023: "excellent", 2024: "competent"}
    assert person.photo == form.photo
    assert person.employee_number == "Q0007"
    assert person.encoding == ("UTF-8" if layout is software else "GB18030")


@pytest.mark.parametrize(
    ("encode", "encoding"),
    [
        (lambda x: b"\xef\xbb\xbf" + x, "UTF-8"),  # a byte-order mark
        (lambda x: x.decode().replace('encoding="UTF-8"', 'encoding="utf-16"').encode("utf-16"), "UTF-16"),
        (lambda x: x.decode().replace('encoding="UTF-8"', 'encoding="GBK"').encode("gbk"), "GB18030"),
        (lambda x: x.decode().replace('<?xml version="1.0" encoding="UTF-8"?>', "").encode("gb18030"), "GB18030"),
    ],
    ids=["utf8-bom", "utf16", "gbk-declared", "gb18030-undeclared"],
)
def test_encodings_found_in_the_wild(app_ctx, encode, encoding):
    person, issues = read(encode(software(Form())))
    assert issues == [] and person.name == "林晓岚" and person.encoding == encoding


def test_a_lying_declaration_is_named(app_ctx):
    data = software(Form()).decode().encode("gb18030")  # says UTF-8, is GB18030
    person, issues = read(data)
    assert person is None and "UTF-8" in str(issues[0])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "2019年度考核优秀，2020年度考核基本称职。2021年度考核不称职",
            {2019: "excellent", 2020: "basic", 2021: "incompetent"},
        ),
        ("2023年度考核合格；2024年度考核基本合格", {2023: "competent", 2024: "basic"}),
        ("1998年度考核优秀；2030年度考核称职", {}),  # out of range: before 2000, or in the future
        ("", {}),
    ],
)
def test_annual_assessment_results(app_ctx, text, expected):
    person, _issues = read(software(Form(assessments=text)))
    assert person.assessments == expected


@pytest.mark.parametrize(
    ("post", "rank"),
    [
        ("青山镇党委副书记（正科级）", "section_chief"),
        ("区财政局办公室主任（副科级）", "deputy_section_chief"),
        ("区委组织部一级主任科员", "section_chief"),
        ("区司法局二级科员", "staff"),
        ("青山镇农业服务中心科员", "staff"),
        ("区发改委项目科科长", None),  # a 科长 of a district department is not read as a rank: it depends
    ],
)
def test_rank_only_where_the_post_names_it(app_ctx, post, rank):
    person, _issues = read(software(Form(post=post)))
    assert person.rank == rank and person.position == post


@pytest.mark.parametrize(
    ("party", "status"),
    [("201306", "cpc_member"), ("202511预备", "cpc_probationary"), ("民盟", "democratic_party"), ("", None)],
)
def test_party_membership_from_the_date_joined(app_ctx, party, status):
    person, _issues = read(software(Form(party=party)))
    assert person.political_status == status


def test_id_number_checks(app_ctx):
    good = Form().id
    bad_check = good[:17] + ("0" if good[17] != "0" else "1")
    _p, issues = read(software(Form()).replace(good.encode(), bad_check.encode()))
    assert len(issues) == 1 and issues[0].field == "身份证号"
    other_month = id_number(date(1991, 5, 12), 7, False)
    _p, issues = read(software(Form()).replace(good.encode(), other_month.encode()))
    assert any(i.field == "出生年月" for i in issues)
    man = id_number(date(1991, 4, 12), 7, True)
    _p, issues = read(software(Form()).replace(good.encode(), man.encode()))
    assert any(i.field == "身份证号" for i in issues)


def test_fifteen_digit_numbers_are_widened(app_ctx):
    eighteen = Form().id
    fifteen = eighteen[:6] + eighteen[8:17]
    person, issues = read(software(Form()).replace(eighteen.encode(), fifteen.encode()))
    assert issues == [] and person.id_number == eighteen and person.notes


def test_a_degree_without_dates_in_the_resume_is_a_note_not_an_entry(app_ctx):
    person, issues = read(software(Form(resume=["2013.07--  青山镇党政办公室科员"])))
    assert issues == [] and person.degrees == [] and len(person.notes) == 2 and person.education == "master"


def test_missing_and_wrong_fields_name_the_file_and_field(app_ctx):
    data = software(Form(name="")).replace("<XingBie>女</XingBie>".encode(), b"<XingBie>F</XingBie>")
    person, issues = read(data, "缺项.lrmx")
    assert person is None
    assert {i.field for i in issues} == {"姓名", "性别"} and all(i.file == "缺项.lrmx" for i in issues)
    assert all("缺项.lrmx" in str(i) for i in issues)


# ---------------------------------------------------------------- hostile files


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Person><XingMing>&lol3;</XingMing></Person>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE Person [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Person><XingMing>&secret;</XingMing></Person>"""
PARAMETER = b"""<?xml version="1.0"?>
<!DOCTYPE Person SYSTEM "http://127.0.0.1:9/evil.dtd"><Person><XingMing>x</XingMing></Person>"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, EXTERNAL, PARAMETER], ids=["entities", "external", "dtd"])
def test_dtds_and_entities_are_refused(app_ctx, data):
    person, issues = read(data)
    assert person is None and len(issues) == 1 and "DTD" in str(issues[0])


@pytest.mark.parametrize(
    "data",
    [b"<Person><XingMing>x</Person>", b"not xml at all", b"<Root><XingMing>x</XingMing></Root>", b""],
    ids=["unclosed", "text", "other-root", "empty"],
)
def test_not_a_form(app_ctx, data):
    person, issues = read(data)
    assert person is None and len(issues) == 1


def zip_of(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as z:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = compression
            z.writestr(info, data)
    return out.getvalue()


def gbk_named_zip(name: str, data: bytes) -> bytes:
    """A zip as Chinese Windows makes it: the member's name in GBK bytes, without the UTF-8 flag."""
    raw = name.encode("gbk")
    placeholder = "X" * (len(raw) - 5) + ".lrmx"
    packed = zip_of({placeholder: data})
    assert packed.count(placeholder.encode()) == 2  # the local header and the central directory
    return packed.replace(placeholder.encode(), raw)


def test_a_zip_of_a_folder(app_ctx):
    data = zip_of({"干部/a.lrmx": software(Form()), "干部/b.LRMX": export(Form(name="周远")), "干部/Thumbs.db": b"x",
                   "__MACOSX/干部/._a.lrmx": b"junk", "干部/说明.txt": "说明".encode()})  # fmt: skip
    found, issues = lrmx.read_batch([("forms.zip", data)])
    assert issues == []
    assert [name for name, _d in found] == ["forms.zip/干部/a.lrmx", "forms.zip/干部/b.LRMX"]


def test_gbk_member_names_are_read_as_their_maker_wrote_them(app_ctx):
    data = gbk_named_zip("林晓岚.lrmx", software(Form()))
    found, _issues = lrmx.read_batch([("forms.zip", data)])
    assert found[0][0] == "forms.zip/林晓岚.lrmx"


def test_zip_bomb_is_bounded(app_ctx):
    bomb = zip_of({"bomb.lrmx": b"<Person>" + b" " * (lrmx.MAX_FILE_BYTES + 10) + b"</Person>"})
    assert len(bomb) < 20_000  # packs a thousandfold
    found, issues = lrmx.read_batch([("bomb.zip", bomb)])
    assert found == [] and len(issues) == 1 and issues[0].file == "bomb.zip/bomb.lrmx"


def test_ratio_is_bounded_even_under_the_size_limit(app_ctx):
    data = zip_of({"dense.lrmx": b"<Person>" + b"a" * 3_000_000 + b"</Person>"})
    found, issues = lrmx.read_batch([("dense.zip", data)])
    assert found == [] and len(issues) == 1


def test_a_lying_zip_header_is_not_believed(app_ctx):
    """A member whose headers claim 100 bytes unpacked while it holds a whole form: the reader stops at the claim
    and the checksum then fails, so the member is reported damaged, and nothing past the claim is read."""
    import struct

    data = bytearray(zip_of({"a.lrmx": software(Form())}))
    local, central = data.index(b"PK\x03\x04"), data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, 100)
    struct.pack_into("<I", data, central + 24, 100)
    found, issues = lrmx.read_batch([("liar.zip", bytes(data))])
    assert found == [] and len(issues) == 1 and issues[0].file == "liar.zip/a.lrmx"


def test_nested_zips_old_forms_and_other_files(app_ctx):
    data = zip_of({"inner.zip": zip_of({"a.lrmx": software(Form())}), "old.lrm": b"x"})
    found, issues = lrmx.read_batch([("outer.zip", data), ("notes.docx", b"x"), ("broken.zip", b"PK\x03\x04nope")])
    assert found == [] and len(issues) == 4
    text = " ".join(str(i) for i in issues)
    assert "outer.zip/inner.zip" in text and "outer.zip/old.lrm" in text and "notes.docx" in text


def test_oversize_file_refused_before_parsing(app_ctx):
    big = b"<Person>" + b" " * lrmx.MAX_FILE_BYTES + b"</Person>"
    found, issues = lrmx.read_batch([("big.lrmx", big)])
    assert found == [] and len(issues) == 1


def test_too_many_files(app_ctx, monkeypatch):
    monkeypatch.setattr(lrmx, "MAX_FILES", 2)
    data = zip_of({f"{i}.lrmx": software(Form()) for i in range(3)})
    found, issues = lrmx.read_batch([("many.zip", data)])
    assert len(found) == 2 and len(issues) == 1  # read one at a time: the third stops the batch
