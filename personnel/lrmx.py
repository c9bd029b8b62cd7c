"""Reading 干部任免审批表 files (.lrmx): the XML form every organisation department exchanges, one file per person.

What is read, by the elements' names (the 3.0 layout of the department's form software; other cadre systems write
the same names, sometimes in GB18030, with dates written 1985.01 or 1985-01-15, an explicit 政治面貌 and a 工号):

- XingMing 姓名, XingBie 性别, ChuShengNianYue 出生年月, ShenFenZheng 身份证号, RuDangShiJian 入党时间 (a date, or a
  democratic party's name), ZhengZhiMianMao 政治面貌 (when present), GongHao 工号 (when present);
- QuanRiZhiJiaoYu_* and ZaiZhiJiaoYu_* 全日制/在职教育 (学历, 学位, 毕业院校系及专业), dated by JianLi 简历;
- XianRenZhiWu 现任职务 (the post, and the rank when it names one), NianDuKaoHeJieGuo 年度考核结果, ZhaoPian 照片.

What is not kept: ethnicity, native place, health, family members, rewards, the proposed appointment and its reason
(README, "Personal data": QualExam keeps what its exams and archives need).

Untrusted input: the XML goes through defusedxml with DTDs refused (no entity expansion, no external entity), each
file and each zip member is bounded in size before it is read whole, and a zip's members in number, total size and
compression ratio (zip bombs).
"""

import base64
import binascii
import io
import re
import struct
import zipfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import PurePosixPath
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from flask_babel import gettext as _

from accounts.models import EDUCATION_ORDER, Education, Gender, PoliticalStatus, Rank
from accounts.personal import id_birth_date, id_gender, id_number_problem, mask_id_number, normal_id_number
from accounts.services import USERNAME_RE

#: One .lrmx: the form is text and a photo (at most 2 MB, about 2.7 MB in base64).
MAX_FILE_BYTES = 4 * 1024 * 1024
#: Files in one batch, and their total size once unpacked.
MAX_FILES = 20_000
MAX_TOTAL_BYTES = 1024 * 1024 * 1024
#: A member of a zip may unpack to at most this many times its packed size (text packs ~10×, a bomb ~1000×).
MAX_RATIO = 100
#: Members of any kind one zip may list (its directory is read only below this).
MAX_ENTRIES = 2 * MAX_FILES


@dataclass(frozen=True)
class FileIssue:
    file: str
    field: str | None
    message: str

    def __str__(self) -> str:
        if self.field:
            return _("%(file)s (%(field)s): %(msg)s", file=self.file, field=self.field, msg=self.message)
        return _("%(file)s: %(msg)s", file=self.file, msg=self.message)


@dataclass
class Degree:
    """An education line, as the archive's degree entry takes it (archive.records.KIND_FIELDS)."""

    study_mode: str  # full_time, part_time
    level: str  # an Education value
    institution: str
    major: str
    starts_on: date | None
    ends_on: date | None


@dataclass
class Person:
    file: str
    encoding: str
    name: str = ""
    gender: str | None = None
    id_number: str | None = None
    birth_date: date | None = None  # the full date, from the ID number or a dated 出生年月
    birth_month: tuple[int, int] | None = None
    political_status: str | None = None
    education: str | None = None  # the highest level of every line
    degrees: list[Degree] = field(default_factory=list)
    position: str | None = None
    rank: str | None = None
    assessments: dict[int, str] = field(default_factory=dict)  # year -> AssessmentGrade value
    photo: bytes | None = None
    employee_number: str | None = None
    #: The employee number is the form's own 工号 (not read from the file's name, which may be a running number).
    number_stated: bool = False
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- the batch: files and zips


def _member_name(info: zipfile.ZipInfo) -> str:
    """A member's name as its maker wrote it: zips made on Chinese Windows store GBK names without the UTF-8 flag."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("gb18030")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def _kind(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/")).suffix.lower()


def masked_name(name: str) -> str:
    """A file's name as QualExam shows and keeps it: a run of digits that may be an ID number is masked (forms are
    often named by it), so no clear ID number reaches a preview, a problem, a log or the archive."""
    return re.sub(r"\d{14,17}[\dXx]", lambda m: mask_id_number(m.group(0).upper()), name)


def read_batch(items: list[tuple[str, bytes]]) -> tuple[list[tuple[str, bytes]], list[FileIssue]]:
    """`iter_batch` as a list (small batches, tests)."""
    issues: list[FileIssue] = []
    found = list(iter_batch(items, issues))
    return found, issues


def iter_batch(items: list[tuple[str, bytes]], issues: list[FileIssue]):
    """The .lrmx files of a batch, one at a time (name, bytes): files as they are, and the .lrmx members of zips
    (folders inside them included), each read only when its turn comes, so a batch is never all in memory at once.
    Everything else in a zip is passed over, except what looks meant to be read and is not (.lrm, a zip in a zip).
    Problems are added to `issues`."""
    state = {"files": 0, "bytes": 0}
    for raw_name, data in items:
        name = masked_name(raw_name)
        kind = _kind(name)
        if kind == ".zip":
            yield from _unzip(name, data, state, issues)
        elif kind == ".lrmx":
            if len(data) > MAX_FILE_BYTES:
                issues.append(FileIssue(name, None, _("The file is larger than %(n)d MB.", n=MAX_FILE_BYTES >> 20)))
            elif _counted(state, len(data), name, issues):
                yield name, data
        elif kind == ".lrm":
            issues.append(FileIssue(name, None, _lrm_message()))
        else:
            issues.append(FileIssue(name, None, _("Only .lrmx files and .zip archives of them are read.")))
        if state["files"] > MAX_FILES:
            return
    if not state["files"] and not issues:
        issues.append(FileIssue("", None, _("No .lrmx file was found.")))


def _counted(state: dict, size: int, name: str, issues: list[FileIssue]) -> bool:
    """Count a file into the batch; False (and a problem, once) past the batch's bounds."""
    state["files"] += 1
    state["bytes"] += size
    if state["files"] > MAX_FILES:
        issues.append(FileIssue("", None, _("At most %(n)d files in one batch.", n=MAX_FILES)))
        return False
    if state["bytes"] > MAX_TOTAL_BYTES:
        issues.append(FileIssue(name, None, _("The archive unpacks to more than %(n)d MB.", n=MAX_TOTAL_BYTES >> 20)))
        state["files"] = MAX_FILES + 1  # stop reading
        return False
    return True


def _lrm_message() -> str:
    return _("This is a form of the older 2.0 layout (.lrm), which is not read: save it as .lrmx (3.0) first.")


def _declared_entries(data: bytes) -> int | None:
    """How many members the zip's end record says it lists, read before the directory is (2 million entries take
    seconds and hundreds of MB to list); None when the record is not found (the zip module then refuses it)."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or end + 22 > len(data):
        return None
    (entries,) = struct.unpack_from("<H", data, end + 10)
    if entries == 0xFFFF:  # a zip64 archive: its own end record says
        end64 = data.rfind(b"PK\x06\x06", 0, end)
        if end64 >= 0 and end64 + 56 <= len(data):
            (entries,) = struct.unpack_from("<Q", data, end64 + 32)
    return entries


def _unzip(zip_name: str, data: bytes, state: dict, issues: list[FileIssue]):
    declared = _declared_entries(data)
    if declared is not None and declared > MAX_ENTRIES:
        issues.append(FileIssue(zip_name, None, _("At most %(n)d files in one batch.", n=MAX_FILES)))
        return
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, struct.error):
        issues.append(FileIssue(zip_name, None, _("This is not a readable zip archive.")))
        return
    # What a member can really hold packed: the bytes up to the next member (the header's own word for its packed
    # size is not believed: a reader stops at the end of the real stream whatever it says).
    starts = sorted({i.header_offset for i in infos} | {archive.start_dir})
    span = {o: (starts[k + 1] - o) for k, o in enumerate(starts[:-1])}
    for info in infos:
        name = masked_name(_member_name(info))
        base = PurePosixPath(name.replace("\\", "/"))
        if info.is_dir() or base.name.startswith(".") or "__MACOSX" in base.parts:
            continue
        kind, shown = base.suffix.lower(), f"{zip_name}/{name}"
        if kind == ".lrm":
            issues.append(FileIssue(shown, None, _lrm_message()))
            continue
        if kind == ".zip":
            issues.append(FileIssue(shown, None, _("A zip inside a zip is not opened: put its files in the folder.")))
            continue
        if kind != ".lrmx":
            continue
        if info.flag_bits & 0x1:
            message = _("The file is encrypted in the archive: pack it without a password.")
            issues.append(FileIssue(shown, None, message))
            continue
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            # zipfile bounds what it unpacks at once for these two only: LZMA or BZIP2 would unpack a whole bomb.
            issues.append(FileIssue(shown, None, _("The file is packed in a way not read: pack it as a plain zip.")))
            continue
        room = span.get(info.header_offset, 0)
        if info.file_size > MAX_FILE_BYTES or info.file_size > MAX_RATIO * room + 4096:
            issues.append(FileIssue(shown, None, _("The file is too large once unpacked (at most %(n)d MB).",
                                                   n=MAX_FILE_BYTES >> 20)))  # fmt: skip
            continue
        try:
            with archive.open(info) as member:  # the sizes in the header are the packer's word: read no further
                content = member.read(MAX_FILE_BYTES + 1)
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError, ValueError):
            issues.append(FileIssue(shown, None, _("The file is damaged in the archive.")))
            continue
        if len(content) > MAX_FILE_BYTES or len(content) > info.file_size:
            issues.append(FileIssue(shown, None, _("The file is too large once unpacked (at most %(n)d MB).",
                                                   n=MAX_FILE_BYTES >> 20)))  # fmt: skip
            continue
        if not _counted(state, len(content), shown, issues):
            return
        yield shown, content


# ---------------------------------------------------------------- one file: bytes to text to elements

_DECLARATION = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9_.:-]+)["']""")
_GB = {"gb2312", "gbk", "gb18030", "cp936", "x-gbk", "euc-cn"}


def decode(data: bytes) -> tuple[str, str]:
    """The file's text and the encoding it was read in: a byte-order mark first, then the declaration, else UTF-8,
    else GB18030 (files saved by Chinese Windows without a declaration). Raises ValueError."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "UTF-8"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "UTF-16"
    declared = _DECLARATION.match(data)
    encoding = declared.group(1).decode("ascii").lower() if declared else None
    if encoding in _GB:
        return data.decode("gb18030"), "GB18030"  # a superset of GB2312 and GBK: read all three the same way
    if encoding in (None, "utf-8", "utf8"):
        try:
            return data.decode("utf-8"), "UTF-8"
        except UnicodeDecodeError:
            if declared:
                raise ValueError(_("The file says it is UTF-8 but is not.")) from None
            return data.decode("gb18030"), "GB18030"
    raise ValueError(_("The encoding %(e)s is not read (UTF-8, UTF-16 and GB18030/GBK/GB2312 are).", e=encoding))


def elements(text: str) -> dict[str, str]:
    """The person's fields: the root's children by their name (without namespace, any letter case) and text.
    Raises ValueError for XML that is not well formed, and for any DTD (entities, external references)."""
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text, count=1)  # the text is decoded already: its declaration is moot
    try:
        root = fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise ValueError(_("The file declares a DTD or entities, which are refused.")) from None
    except ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else 0
        raise ValueError(_("The XML is not well formed (line %(n)d).", n=line)) from None
    if _local(root.tag).lower() != "person":
        raise ValueError(_("This is not a 干部任免审批表 form (its root element is not Person)."))
    fields = {}
    for child in root:
        key = _local(child.tag).lower()
        if len(child) == 0:
            fields[key] = (child.text or "").strip()
    return fields


def _local(tag) -> str:
    return str(tag).rsplit("}", 1)[-1]


# ---------------------------------------------------------------- fields to a person

_GENDERS = {"男": Gender.MALE, "女": Gender.FEMALE}
_DEMOCRATIC = ("民革", "民盟", "民建", "民进", "农工", "致公", "九三", "台盟", "民主党派")
_POLITICAL = (
    ("预备党员", PoliticalStatus.CPC_PROBATIONARY),
    ("中共党员", PoliticalStatus.CPC_MEMBER),
    ("共产党员", PoliticalStatus.CPC_MEMBER),
    ("共青团员", PoliticalStatus.CYL_MEMBER),
    ("团员", PoliticalStatus.CYL_MEMBER),
    ("群众", PoliticalStatus.MASSES),
    ("无党派", PoliticalStatus.MASSES),
)
#: Levels of education as the form writes them, most specific first.
_LEVELS = (
    ("博士", Education.DOCTORATE),
    ("硕士", Education.MASTER),
    ("研究生", Education.MASTER),
    ("本科", Education.BACHELOR),
    ("大学", Education.BACHELOR),
    ("大专", Education.COLLEGE),
    ("专科", Education.COLLEGE),
    ("中专", Education.SECONDARY),
    ("中技", Education.SECONDARY),
    ("高中", Education.SECONDARY),
    ("初中", Education.SECONDARY),
)
#: Ranks named in a post: the level itself, or the civil service's grades (职级) that sit at it.
_RANKS = (
    ("副科级", Rank.DEPUTY_SECTION_CHIEF),
    ("正科级", Rank.SECTION_CHIEF),
    ("一级主任科员", Rank.SECTION_CHIEF),
    ("二级主任科员", Rank.SECTION_CHIEF),
    ("三级主任科员", Rank.DEPUTY_SECTION_CHIEF),
    ("四级主任科员", Rank.DEPUTY_SECTION_CHIEF),
    ("股级", Rank.STOCK_LEVEL),
    ("一级科员", Rank.STAFF),
    ("二级科员", Rank.STAFF),
    ("办事员", Rank.STAFF),
)
_INSTITUTION = re.compile(r"^(.+?(?:大学|学院|党校|学校|研究院|研究生院|电大|函授站))(.*)$")
_GRADES = (
    ("基本称职", "basic"),
    ("不称职", "incompetent"),
    ("称职", "competent"),
    ("优秀", "excellent"),
    ("基本合格", "basic"),
    ("不合格", "incompetent"),
    ("合格", "competent"),
)
_ASSESSMENT = re.compile(r"(\d{4})\s*年度?[^；;，,。\d]*?(基本称职|不称职|称职|优秀|基本合格|不合格|合格)")
_MONTH = re.compile(r"^(\d{4})\s*[.\-/年]?\s*(\d{1,2})\s*(?:[.\-/月]\s*(\d{1,2})\s*日?)?\s*月?$")
_RESUME_LINE = re.compile(r"^\s*(\d{4})[.\-/年](\d{1,2})月?\s*[-—–~至]+\s*(?:(\d{4})[.\-/年](\d{1,2})月?)?\s*(.*)$")

LABEL_NAME = "姓名"


def _month(text: str) -> tuple[int, int, int | None] | None:
    """1985.01, 198501, 1985-01-15, 1985年1月, 19850115 as (year, month, day or None)."""
    text = (text or "").strip()
    if re.fullmatch(r"\d{8}", text):
        text = f"{text[:4]}.{text[4:6]}.{text[6:]}"
    elif re.fullmatch(r"\d{6}", text):
        text = f"{text[:4]}.{text[4:]}"
    m = _MONTH.match(text)
    if not m or not 1 <= int(m[2]) <= 12:
        return None
    return int(m[1]), int(m[2]), int(m[3]) if m[3] else None


def _level(text: str) -> str | None:
    for word, level in _LEVELS:
        if word in (text or ""):
            return level
    return None


def _split_school(text: str) -> tuple[str, str]:
    text = re.sub(r"\s+", "", text or "")
    m = _INSTITUTION.match(text)
    if not m:
        return text, ""
    major = re.sub(r"(专业|系)$", "", m[2]).strip("，, ")
    return m[1], major


def _dates_in_resume(resume: str, institution: str) -> tuple[date | None, date | None]:
    """The first résumé line naming the institution gives its start and end (the month's first day)."""
    for line in (resume or "").splitlines():
        m = _RESUME_LINE.match(line)
        if m and institution and institution in re.sub(r"\s+", "", m[5]):
            try:
                start = date(int(m[1]), int(m[2]), 1)
                end = date(int(m[3]), int(m[4]), 1) if m[3] and m[4] else None
            except ValueError:
                return None, None
            return start, end
    return None, None


def read_person(file: str, data: bytes, today: date) -> tuple[Person | None, list[FileIssue]]:
    """One file as a person, or the reasons it cannot be read. Notes (what was passed over) are not problems."""
    try:
        text, encoding = decode(data)
        raw = elements(text)
    except UnicodeDecodeError as exc:  # a ValueError too, whose first argument is only the codec's name
        return None, [FileIssue(file, None, _("The file is not valid %(e)s text.", e=exc.encoding.upper()))]
    except ValueError as exc:
        return None, [FileIssue(file, None, str(exc.args[0] if exc.args else _("The file cannot be decoded.")))]
    person, issues = Person(file=file, encoding=encoding), []

    def problem(label: str, message: str) -> None:
        issues.append(FileIssue(file, label, message))

    person.name = re.sub(r"\s+", "", raw.get("xingming", ""))
    if not person.name:
        problem("姓名", _("The name is missing."))
    elif len(person.name) > 64:
        problem("姓名", _("The name is too long (at most 64 characters)."))

    gender_text = raw.get("xingbie", "").strip()
    person.gender = _GENDERS.get(gender_text)
    if person.gender is None:
        problem("性别", _("“%(v)s” is not a sex the form uses (男 or 女).", v=gender_text))

    written = raw.get("shenfenzheng", "").strip()
    if written:
        number = normal_id_number(written)
        why = id_number_problem(number)
        if why:
            problem("身份证号", why)
        else:
            person.id_number, person.birth_date = number, id_birth_date(number)
            if person.gender and id_gender(number) != person.gender:
                problem("身份证号", _("The sex in the ID number disagrees with the form's “%(v)s”.", v=gender_text))
            if len(re.sub(r"\s+", "", written)) == 15:
                person.notes.append(_("The 15-digit ID number was widened to 18 digits."))

    month = _month(raw.get("chushengnianyue", ""))
    if raw.get("chushengnianyue") and month is None:
        problem("出生年月", _("“%(v)s” is not a month (write it 198501 or 1985.01).", v=raw["chushengnianyue"]))
    if month:
        person.birth_month = month[:2]
        if person.birth_date is not None:
            if (person.birth_date.year, person.birth_date.month) != month[:2]:
                problem("出生年月", _("%(y)d.%(m)02d disagrees with the birth date in the ID number (%(d)s).",
                                      y=month[0], m=month[1], d=person.birth_date.isoformat()))  # fmt: skip
        elif month[2]:
            try:
                person.birth_date = date(*month)
            except ValueError:
                problem("出生年月", _("“%(v)s” is not a date.", v=raw["chushengnianyue"]))
    elif person.birth_date is not None:
        person.birth_month = (person.birth_date.year, person.birth_date.month)
    if person.birth_month is None and not any(i.field in ("出生年月", "身份证号") for i in issues):
        problem("出生年月", _("The birth date is missing."))
    if person.birth_date and (person.birth_date > today or person.birth_date.year < 1900):
        problem("出生年月", _("The birth date is not plausible."))

    person.political_status = _political(raw)

    highest = None
    for mode, prefix in (("full_time", "quanrizhijiaoyu"), ("part_time", "zaizhijiaoyu")):
        level_text, degree_text = raw.get(f"{prefix}_xueli", ""), raw.get(f"{prefix}_xuewei", "")
        level = _level(level_text)
        if level == Education.MASTER and "博士" in degree_text:
            level = Education.DOCTORATE
        if level is None:
            if level_text:
                person.notes.append(_("Education “%(v)s” is not a level QualExam records.", v=level_text))
            continue
        if highest is None or EDUCATION_ORDER.index(level) > EDUCATION_ORDER.index(highest):
            highest = level
        school = raw.get(f"{prefix}_xueli_biyeyuanxiaoxi", "") or raw.get(f"{prefix}_xuewei_biyeyuanxiaoxi", "")
        institution, major = _split_school(school)
        if level == Education.SECONDARY or not institution:
            continue
        start, end = _dates_in_resume(raw.get("jianli", ""), institution)
        if start is None:
            person.notes.append(_("%(school)s: the résumé gives no dates, so no degree entry is written.",
                                  school=institution))  # fmt: skip
            continue
        # The entry's title is "institution major", at most 200 characters.
        person.degrees.append(Degree(mode, level, institution[:100], (major or "—")[:99], start, end))
    person.education = highest

    post = re.sub(r"\s+", "", raw.get("xianrenzhiwu", ""))
    if post:
        person.position = post[:100]
        if len(post) > 100:
            person.notes.append(_("The post is longer than 100 characters and was shortened."))
        person.rank = next((rank for word, rank in _RANKS if word in post), None)
        if person.rank is None and re.search(r"(?<![一二三四级主任])科员", post):
            person.rank = Rank.STAFF

    for year, word in _ASSESSMENT.findall(raw.get("niandukaohejieguo", "")):
        if 2000 <= int(year) <= today.year:
            person.assessments[int(year)] = dict(_GRADES)[word]

    photo = re.sub(r"\s+", "", raw.get("zhaopian", ""))
    if photo:
        try:
            person.photo = base64.b64decode(photo, validate=True)
        except (binascii.Error, ValueError):
            problem("照片", _("The photo is not valid base64."))

    stated = raw.get("gonghao", "").strip()
    if stated:
        if looks_like_id_number(stated):
            problem("工号", _("This is an ID number, not an employee number."))
        elif USERNAME_RE.match(stated):
            person.employee_number, person.number_stated = stated, True
        else:
            problem("工号", _("An employee number is 2 to 32 letters, digits, '.', '_' or '-'."))
    else:
        person.employee_number = _number_from_file(file)
    return (person if not issues else None), issues


def _political(raw: dict) -> str | None:
    stated = raw.get("zhengzhimianmao", "").strip()
    if stated:
        if any(p in stated for p in _DEMOCRATIC):
            return PoliticalStatus.DEMOCRATIC_PARTY
        return next((status for word, status in _POLITICAL if word in stated), None)
    joined = raw.get("rudangshijian", "").strip()
    if not joined:
        return None  # not stated: the profile keeps what it says
    if any(p in joined for p in _DEMOCRATIC):
        return PoliticalStatus.DEMOCRATIC_PARTY
    if _month(joined.replace("预备", "").strip()):
        return PoliticalStatus.CPC_PROBATIONARY if "预备" in joined else PoliticalStatus.CPC_MEMBER
    return None


def looks_like_id_number(text: str) -> bool:
    return bool(re.fullmatch(r"\d{15}|\d{17}[\dXx]", text or ""))


def _number_from_file(file: str) -> str | None:
    """An employee number leading the file's name ("Q0007_张三.lrmx", "Q0007.lrmx"), the way a department names
    the forms of people not yet in QualExam."""
    stem = PurePosixPath(file.replace("\\", "/")).stem
    m = re.match(r"^([A-Za-z0-9._-]{2,32}?)(?:[_\s-]+\S.*)?$", stem)
    if m and re.search(r"\d", m[1]) and not re.search(r"[\u4e00-\u9fff]", m[1]) and not looks_like_id_number(m[1]):
        return m[1]
    return None
