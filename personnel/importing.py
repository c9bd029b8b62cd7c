"""Importing a batch of .lrmx forms: each person matched to a cadre or new, a plan of what changes (the preview),
and its commit: every person or none.

Matching, never guessing: the ID number first (by its blind index), else the employee number (a 工号 element, or
the file's name), else the name with the birth date (the whole date when the form gives it, else its month). Two
cadres fitting one form is reported, naming both; a form whose ID number differs from the one the cadre has is
refused, whatever else fits.
"""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from types import SimpleNamespace

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from accounts import personal, photos
from accounts.importing import Credential
from accounts.models import (
    EDUCATION_ORDER,
    LEADING_RANKS,
    Cadre,
    CadrePhoto,
    CadreStatus,
    PoliticalStatus,
    Unit,
    User,
    label,
)
from accounts.services import CadreData, cadre_data_problems, create_cadres, update_cadres
from archive import assessment, records
from archive.models import AnnualAssessment, ArchiveEntry, DegreeStatus, EntryKind
from core import audit
from core.crypto import keyring
from core.errors import DomainError
from core.extensions import db
from core.policy import Role, can, is_archive_owner
from personnel.lrmx import FileIssue, Person, iter_batch, read_person

#: The profile's fields a form can change, in the order the preview shows them.
FIELDS = ("name", "gender", "birth_date", "political_status", "education", "rank", "position", "id_number", "photo")


@dataclass
class Options:
    """What the importer says for people not yet in QualExam (the form names neither their unit nor, often, rank)."""

    unit: Unit | None = None
    rank: str | None = None


@dataclass
class PersonPlan:
    person: Person
    cadre: Cadre | None  # None: a new cadre
    matched_by: str | None
    data: CadreData
    changes: dict = field(default_factory=dict)  # field -> [old, new], as plain values
    set_id: bool = False
    photo: bytes | None = None  # the JPEG to store, when it differs
    degrees: list = field(default_factory=list)
    assessments: dict = field(default_factory=dict)
    archive: bool = True  # may the importer write this cadre's archive?
    notes: list = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.cadre is None:
            return "new"
        return "updated" if self.changes or self.degrees or self.assessments else "unchanged"

    def row(self) -> dict:
        """The plan as the preview keeps it (JSON, no clear ID number)."""
        return {"file": self.person.file, "name": self.data.name, "number": self.data.employee_number,
                "status": self.status, "matched_by": self.matched_by, "changes": self.changes,
                "degrees": [f"{d.institution} {d.major}" for d in self.degrees],
                "assessments": {str(y): g for y, g in sorted(self.assessments.items())},
                "notes": [str(n) for n in self.notes + self.person.notes],
                "encoding": self.person.encoding}  # fmt: skip


@dataclass
class Plan:
    people: list[PersonPlan] = field(default_factory=list)
    issues: list[FileIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues and bool(self.people)

    def counts(self) -> dict:
        counts = {"new": 0, "updated": 0, "unchanged": 0}
        for p in self.people:
            counts[p.status] += 1
        return counts

    def preview(self) -> dict:
        rows = [p.row() for p in self.people]
        return {"rows": rows, "issues": [str(i) for i in self.issues], "counts": self.counts(),
                "fingerprint": fingerprint(rows)}  # fmt: skip


def fingerprint(rows: list[dict]) -> str:
    """What the preview promised, in one hash: the import refuses to write anything else (the data moved since).
    The notes are left out: they are words in the reader's language, and follow from the rest."""
    promised = [{k: v for k, v in row.items() if k != "notes"} for row in rows]
    return hashlib.sha256(json.dumps(promised, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


# ---------------------------------------------------------------- planning


#: Problems a batch lists at most (a zip of thousands of wrong files needs no thousands of lines to say so).
MAX_ISSUES = 500


def plan_batch(actor, items: list[tuple[str, bytes]], options: Options, today: date, progress=None) -> Plan:
    """Read, match and plan a whole batch; writes nothing. `items` are (name, bytes) of .lrmx files and zips, read
    one file at a time (only what each person's plan needs is kept)."""
    plan = Plan()
    people = []
    for name, data in iter_batch(items, plan.issues):
        person, issues = read_person(name, data, today)
        plan.issues += issues
        if person is not None:
            people.append(person)
        if progress:
            progress(1, None)
    if options.unit is not None and not can(actor, "cadre.manage", options.unit):
        plan.issues.append(FileIssue("", None, _("The unit for new cadres is outside your scope.")))
    _Matcher(actor, options, today, plan).run(people)
    if not plan.people and not plan.issues:
        plan.issues.append(FileIssue("", None, _("No .lrmx file was found.")))
    if len(plan.issues) > MAX_ISSUES:
        more = len(plan.issues) - MAX_ISSUES
        plan.issues = plan.issues[:MAX_ISSUES] + [FileIssue("", None, _("…and %(n)d more.", n=more))]
    return plan


class _Matcher:
    def __init__(self, actor, options: Options, today: date, plan: Plan):
        self.actor, self.options, self.today, self.plan = actor, options, today, plan

    def problem(self, person: Person, message: str, label: str | None = None) -> None:
        self.plan.issues.append(FileIssue(person.file, label, message))

    def shown(self, row) -> str | None:
        """A matched cadre's employee number, where the importer may see the cadre (a unit admin is not told who
        else is in QualExam)."""
        return row.username if can(self.actor, "cadre.view", SimpleNamespace(unit_path=row.path)) else None

    def run(self, people: list[Person]) -> None:
        rows = db.session.execute(
            select(Cadre.id, User.username, User.name, Cadre.birth_date, Cadre.id_number_index, Unit.path)
            .join(User, Cadre.user_id == User.id).join(Unit, Cadre.unit_id == Unit.id)
        ).all()  # fmt: skip
        by_index = {r.id_number_index: r for r in rows if r.id_number_index}
        by_number = {r.username.lower(): r for r in rows}
        by_name: dict[str, list] = {}
        for r in rows:
            by_name.setdefault(r.name, []).append(r)
        accounts = {n.lower() for n in db.session.scalars(select(User.username))}
        resolved: list[tuple[Person, int | None, str | None]] = []
        for person in people:
            found = self._match(person, by_index, by_number, by_name, accounts)
            if found is not False:
                resolved.append((person, found[0].id if found[0] else None, found[1]))
        self._duplicates(resolved)
        cadres = _load([cid for _p, cid, _h in resolved if cid])
        photos_now = _photos([cid for _p, cid, _h in resolved if cid])
        degrees_now = _degrees([c.user_id for c in cadres.values()])
        graded_now = _grades([c.user_id for c in cadres.values()])
        self.closed = records.closed_years({d.starts_on.year for p in people for d in p.degrees}
                                           | {y for p in people for y in p.assessments})  # fmt: skip
        for person, cid, how in resolved:
            if cid:
                self._update(person, cadres[cid], how, photos_now.get(cid), degrees_now, graded_now)
            else:
                self._new(person)

    def _match(self, person: Person, by_index, by_number, by_name, accounts):
        """(cadre row or None for a new person, how), or False after reporting why the form fits no one surely."""
        own_index = keyring().indexes(person.id_number) if person.id_number else []
        number = (person.employee_number or "").lower()
        hit = next((by_index[i] for i in own_index if i in by_index), None)
        if hit is not None:
            if person.number_stated and number != hit.username.lower():
                self.problem(person, _("The form's 工号 and its ID number belong to different cadres."), "工号")
                return False
            return hit, "id_number"
        if number:
            row = by_number.get(number)
            if row is not None:
                if row.name == person.name or _same_birth(row.birth_date, person):
                    hit = row
                elif person.number_stated:
                    self.problem(person, _("The cadre with this 工号 has another name and birth date: check the form."),
                                 "工号")  # fmt: skip
                    return False
                else:  # a running number in the file's name, not this person's employee number
                    person.notes.append(_("The number leading the file's name is someone else's employee number: "
                                          "it was not used."))  # fmt: skip
                    person.employee_number = None
            elif number in accounts:
                self.problem(person, _("The account %(n)s exists but has no cadre profile.", n=person.employee_number),
                             "工号")  # fmt: skip
                return False
        if hit is not None:
            if hit.id_number_index and own_index and hit.id_number_index not in own_index:
                self.problem(person, _("The cadre with this employee number has another ID number in QualExam: "
                                       "check the form."), "身份证号")  # fmt: skip
                return False
            return hit, "employee_number"
        fits = [r for r in by_name.get(person.name, []) if _same_birth(r.birth_date, person)
                and not (r.id_number_index and own_index and r.id_number_index not in own_index)]  # fmt: skip
        if fits and person.number_stated:
            self.problem(person, _("The form's 工号 is not in QualExam, but a cadre has this name and birth date: "
                                   "check the form."), "工号")  # fmt: skip
            return False
        if len(fits) > 1:
            seen = sorted(n for n in (self.shown(r) for r in fits) if n)
            numbers = "、".join(seen + ([_("%(n)d outside your units", n=len(fits) - len(seen))]
                                        if len(seen) < len(fits) else []))  # fmt: skip
            self.problem(person, _("Several cadres have this name and birth date (%(numbers)s): give the form an ID "
                                   "number or name the file by the employee number.", numbers=numbers))  # fmt: skip
            return False
        if fits:
            return fits[0], "name_birth"
        return None, None

    def _duplicates(self, resolved) -> None:
        seen: dict[str, str] = {}
        for person, cid, _how in resolved:
            keys = [f"cadre:{cid}" if cid else f"number:{(person.employee_number or '').lower()}"]
            if person.id_number:
                keys.append(f"id:{person.id_number}")
            for key in keys:
                if key == "number:":
                    continue
                if key in seen:
                    self.problem(person, _("The same person as %(other)s.", other=seen[key]))
                    break
                seen[key] = person.file

    def _archive_target(self, cadre, rank: str) -> bool:
        """May the importer write this cadre's archive, now and with the rank the form gives (a section chief's is
        the organisation department's)?"""
        after = SimpleNamespace(unit_path=cadre.unit.path, managed_by_district=rank in LEADING_RANKS,
                                account_roles=cadre.account_roles, user_id=cadre.user_id)  # fmt: skip
        return (can(self.actor, "archive.manage", cadre) and can(self.actor, "archive.manage", after)
                and not is_archive_owner(self.actor, cadre))  # fmt: skip

    def _photo(self, person: Person, stored: bytes | None) -> bytes | None:
        if person.photo is None:
            return None
        try:
            jpeg = photos.make_jpeg(person.photo)
        except DomainError as exc:
            self.problem(person, str(exc.message), "照片")
            return None
        finally:
            person.photo = None  # the form's own bytes are needed no more: a batch keeps only what it will write
        return None if jpeg == stored else jpeg

    def _update(self, person, cadre: Cadre, how, stored_photo, degrees_now, graded_now) -> None:
        if cadre.user_id == self.actor.id:
            self.problem(person, _("This is your own form: another administrator imports it."))
            return
        if not can(self.actor, "cadre.manage", cadre):
            if can(self.actor, "cadre.view", cadre):
                self.problem(person, _("The cadre %(n)s is outside your scope.", n=cadre.employee_number))
            else:  # nor is who it is
                self.problem(person, _("This form is of a cadre outside your units."))
            return
        before = _values(cadre)
        data = CadreData(employee_number=cadre.employee_number, name=person.name or cadre.name,
                         gender=person.gender or cadre.gender, birth_date=cadre.birth_date, unit=cadre.unit,
                         rank=person.rank or cadre.rank, position=person.position or cadre.position,
                         education=_higher(person.education, cadre.education),
                         political_status=person.political_status or cadre.political_status, phone=cadre.phone,
                         status=cadre.status)  # fmt: skip
        if person.birth_date:
            data.birth_date = person.birth_date
        elif person.birth_month and (cadre.birth_date.year, cadre.birth_date.month) != person.birth_month:
            data.birth_date = date(*person.birth_month, 1)
        plan = PersonPlan(person, cadre, how, data)
        after = {**_data_values(data), "id_number": before["id_number"], "photo": before["photo"]}
        if person.id_number and not cadre.id_number:
            plan.set_id = True
            after["id_number"] = personal.mask_id_number(person.id_number)
        plan.photo = self._photo(person, stored_photo)
        if plan.photo is not None:
            after["photo"] = "new" if stored_photo is None else "replaced"
            before["photo"] = "none" if stored_photo is None else "kept"
        plan.changes = {k: [before[k], after[k]] for k in FIELDS if before[k] != after[k]}
        for message in cadre_data_problems(data, self.today):
            self.problem(person, message)
        self._archive(plan, cadre, cadre.user_id, degrees_now, graded_now)
        if not person.rank and person.position:
            plan.notes.append(_("The post names no rank: the rank stays as it is."))
        if person.education and data.education != person.education:
            plan.notes.append(_("The profile's education is above the form's: it stays as it is."))
        self.plan.people.append(plan)

    def _new(self, person: Person) -> None:
        opts, problems = self.options, []
        if not person.employee_number:
            problems.append(_("Not in QualExam yet, and the form has no employee number: name the file by it "
                              "(Q0007_张三.lrmx) or add the cadre first."))  # fmt: skip
        if opts.unit is None:
            problems.append(_("Not in QualExam yet: choose the unit for new cadres."))
        rank = person.rank or opts.rank
        if rank is None:
            problems.append(_("Not in QualExam yet, and the post names no rank: choose the rank for new cadres."))
        if person.education is None:
            problems.append(_("Not in QualExam yet, and the form states no education."))
        if problems:
            for message in problems:
                self.problem(person, message)
            return
        notes = []
        birth = person.birth_date
        if birth is None:
            birth = date(*person.birth_month, 1)
            notes.append(_("The form gives the birth month only: the 1st of the month was recorded."))
        political = person.political_status
        if political is None:
            political = PoliticalStatus.MASSES
            notes.append(_("The form states no party membership: recorded as none."))
        data = CadreData(employee_number=person.employee_number, name=person.name, gender=person.gender,
                         birth_date=birth, unit=opts.unit, rank=rank, position=person.position or "",
                         education=person.education, political_status=political,
                         status=CadreStatus.SERVING)  # fmt: skip
        plan = PersonPlan(person, None, None, data, notes=notes)
        plan.changes = {k: [None, v] for k, v in _data_values(data).items() if v}
        if person.id_number:
            plan.set_id = True
            plan.changes["id_number"] = [None, personal.mask_id_number(person.id_number)]
        plan.photo = self._photo(person, None)
        if plan.photo is not None:
            plan.changes["photo"] = [None, "new"]
        for message in cadre_data_problems(data, self.today):
            self.problem(person, message)
        target = SimpleNamespace(unit_path=opts.unit.path, managed_by_district=rank in LEADING_RANKS,
                                 account_roles=frozenset({Role.CADRE}))  # fmt: skip
        if not can(self.actor, "cadre.manage", target):
            self.problem(person, _("The unit for new cadres is outside your scope."))
        plan.archive = can(self.actor, "archive.manage", target)
        self._archive(plan, None, None, {}, {})
        self.plan.people.append(plan)

    def _archive(self, plan: PersonPlan, cadre, user_id, degrees_now, graded_now) -> None:
        person = plan.person
        if cadre is not None:
            plan.archive = self._archive_target(cadre, plan.data.rank)
        if not plan.archive:
            if person.degrees or person.assessments:
                plan.notes.append(_("This cadre's archive is kept by the organisation department: the education "
                                    "and assessment lines were not written."))  # fmt: skip
            return
        have = degrees_now.get(user_id, set())
        for degree in person.degrees:
            if (degree.study_mode, degree.level, degree.institution) in have:
                continue
            try:
                records.entry_values(EntryKind.DEGREE, degree_values(degree, self.today))
            except DomainError as exc:
                self.problem(person, str(exc.message), "简历")
                continue
            if degree.starts_on.year in self.closed:
                plan.notes.append(_("%(school)s: the archive's year %(y)d is closed.", school=degree.institution,
                                    y=degree.starts_on.year))  # fmt: skip
                continue
            plan.degrees.append(degree)
        graded = graded_now.get(user_id, {})
        for year, grade in sorted(person.assessments.items()):
            if year in graded:
                if graded[year] != grade:
                    plan.notes.append(_("%(y)d: the archive's assessment is kept; the form's grade differs.", y=year))
                continue
            if year in self.closed:
                plan.notes.append(_("%(y)d: the archive's year is closed.", y=year))
                continue
            plan.assessments[year] = grade


def degree_values(d, today: date) -> dict:
    """An education line as the archive's degree entry takes it (archive.records.entry_values)."""
    finished = d.ends_on is not None and d.ends_on <= today
    return {"institution": d.institution, "major": d.major, "level": d.level, "study_mode": d.study_mode,
            "degree_status": DegreeStatus.GRADUATED if finished else DegreeStatus.STUDYING,
            "starts_on": d.starts_on, "ends_on": d.ends_on}  # fmt: skip


def _higher(stated: str | None, kept: str) -> str:
    """The profile's education never falls by an import: a form can raise it (a degree earned since), no more."""
    if stated is None or EDUCATION_ORDER.index(stated) <= EDUCATION_ORDER.index(kept):
        return kept
    return stated


def _same_birth(known: date, person: Person) -> bool:
    if person.birth_date is not None:
        return known == person.birth_date
    return person.birth_month is not None and (known.year, known.month) == person.birth_month


def _chunks(ids: list[int], size: int = 500):
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _load(ids: list[int]) -> dict[int, Cadre]:
    found = {}
    for chunk in _chunks(ids):
        query = select(Cadre).where(Cadre.id.in_(chunk)).options(selectinload(Cadre.user).selectinload(User.roles))
        found.update({c.id: c for c in db.session.scalars(query)})
    return found


def _photos(ids: list[int]) -> dict[int, bytes]:
    found = {}
    for chunk in _chunks(ids):
        found.update(db.session.execute(select(CadrePhoto.cadre_id, CadrePhoto.data)
                                        .where(CadrePhoto.cadre_id.in_(chunk))).all())  # fmt: skip
    return found


def _degrees(user_ids: list[int]) -> dict[int, set]:
    found: dict[int, set] = {}
    for chunk in _chunks(user_ids):
        query = select(ArchiveEntry.user_id, ArchiveEntry.details).where(
            ArchiveEntry.user_id.in_(chunk), ArchiveEntry.kind == EntryKind.DEGREE, ArchiveEntry.deleted_at.is_(None)
        )
        for user_id, details in db.session.execute(query):
            details = details or {}
            found.setdefault(user_id, set()).add(
                (details.get("study_mode"), details.get("level"), details.get("institution"))
            )
    return found


def _grades(user_ids: list[int]) -> dict[int, dict[int, str]]:
    """{user: {year: the newest assessment's grade}}."""
    found: dict[int, dict[int, str]] = {}
    for chunk in _chunks(user_ids):
        newest = (select(AnnualAssessment.user_id, AnnualAssessment.year, func.max(AnnualAssessment.version).label("v"))
                  .where(AnnualAssessment.user_id.in_(chunk))
                  .group_by(AnnualAssessment.user_id, AnnualAssessment.year).subquery())  # fmt: skip
        query = select(AnnualAssessment.user_id, AnnualAssessment.year, AnnualAssessment.grade).join(
            newest, (AnnualAssessment.user_id == newest.c.user_id) & (AnnualAssessment.year == newest.c.year)
            & (AnnualAssessment.version == newest.c.v))  # fmt: skip
        for user_id, year, grade in db.session.execute(query):
            found.setdefault(user_id, {})[year] = grade
    return found


def shown_value(field: str, value) -> str:
    """A value of the preview in words (the page's and the command line's)."""
    if value is None or value == "":
        return "—"
    if field == "photo":
        return {"new": _("new photo"), "replaced": _("new photo"), "none": _("no photo"),
                "kept": _("current photo")}.get(value, value)  # fmt: skip
    if field in ("gender", "political_status", "education", "rank"):
        return label(value)
    return str(value)


def _values(cadre: Cadre) -> dict:
    return {"name": cadre.name, "gender": cadre.gender, "birth_date": cadre.birth_date.isoformat(),
            "political_status": cadre.political_status, "education": cadre.education, "rank": cadre.rank,
            "position": cadre.position, "id_number": personal.mask_id_number(cadre.id_number) or None,
            "photo": None}  # fmt: skip


def _data_values(data: CadreData) -> dict:
    return {"name": data.name, "gender": data.gender, "birth_date": data.birth_date.isoformat(),
            "political_status": data.political_status, "education": data.education, "rank": data.rank,
            "position": data.position}  # fmt: skip


# ---------------------------------------------------------------- the commit


APPRAISAL = "年度考核结果为“{grade}”。本条据干部任免审批表（{file}）导入。"
GRADE_WORDS = {"excellent": "优秀", "competent": "称职", "basic": "基本称职", "incompetent": "不称职"}


def commit_plan(actor, plan: Plan, now: datetime, progress=None) -> list[Credential]:
    """Write a clean plan: every person or none (any refusal raises before the caller commits). Profiles, ID numbers
    and photos person by person, through their services; the archive's degree entries and assessments of the whole
    batch in grouped statements. Returns the one-time passwords of the cadres it created."""
    if not plan.ok:
        raise DomainError(_("The batch has errors; nothing was imported."), code="import_invalid")
    credentials, counts, degrees, grades = [], plan.counts(), [], []
    profiles, numbers, pictures = [], [], []
    created = iter(create_cadres(actor, [p.data for p in plan.people if p.cadre is None], now))
    for p in plan.people:
        if p.cadre is None:
            cadre, password = next(created)
            credentials.append(Credential(cadre.employee_number, cadre.name, cadre.unit.name, password))
        else:
            cadre = p.cadre
            if any(k not in ("id_number", "photo") for k in p.changes):
                profiles.append((cadre, p.data))
        if p.set_id:
            numbers.append((cadre, p.person.id_number))
        if p.photo is not None:
            pictures.append((cadre, p.photo))
        for d in p.degrees:
            degrees.append((cadre, EntryKind.DEGREE, degree_values(d, now.date())))
        file = p.person.file.rsplit("/", 1)[-1][:200]
        for year, grade in sorted(p.assessments.items()):
            grades.append((cadre, year, APPRAISAL.format(grade=GRADE_WORDS[grade], file=file), grade))
        if progress:
            progress(1)
    update_cadres(actor, profiles, now)
    personal.set_id_numbers(numbers, actor=actor, now=now)
    photos.set_photos(pictures, actor=actor, now=now)  # made by make_jpeg when the batch was planned
    records.add_entries(actor, degrees, now)
    assessment.appraise_many(actor, grades, now)
    audit.record("cadre.lrmx_import", actor=actor, detail={"forms": len(plan.people), "new_cadres": counts["new"],
                 "updated_cadres": counts["updated"], "unchanged_cadres": counts["unchanged"]}, at=now)  # fmt: skip
    return credentials
