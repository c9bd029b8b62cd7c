"""Camera snapshots: small JPEGs the exam page uploads (at the start, every few minutes, at each focus loss or
full-screen exit), kept on disk under SNAPSHOT_DIR with a row each, read only by those allowed
(`may_see_snapshots`, every view audited), and deleted when the exam's retention ends (`purge_expired`, a
periodic job).

Files are `<exam id>/<attempt id>/<random>.jpg`, every part made by the server (nothing of the request reaches a
path): a guessed name is useless, and the folder is never served as static files."""

import base64
import binascii
import hashlib
import io
import logging
import os
import secrets
import shutil
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, UnidentifiedImageError
from sqlalchemy import delete, func, select

from core import audit, policy
from core.errors import DomainError
from core.extensions import db
from exam.attempts import check_client, grace, lock_attempt
from exam.models import Attempt, AttemptEvent, AttemptStatus, EventKind, Exam
from proctoring.models import SNAPSHOT_REASONS, ProctoringSettings, Snapshot

log = logging.getLogger(__name__)

#: A snapshot is small: 320×240 at JPEG quality 0.6 is 10–30 KB. Anything larger is refused.
MAX_BYTES = 200 * 1024
MAX_PIXELS = 1280 * 960
#: The fewest seconds between two snapshots of one attempt (a page gone wrong cannot fill the disk).
MIN_INTERVAL_SECONDS = 5
#: The bytes one attempt may keep: the interval alone would let a script keep 216 MB in 90 minutes. A page takes
#: a 10–30 KB snapshot at most once a minute plus one per focus loss: 16 MB is hundreds of them.
MAX_ATTEMPT_BYTES = 16 * 1024 * 1024


def folder() -> Path:
    return Path(current_app.config.get("SNAPSHOT_DIR") or os.path.join(current_app.instance_path, "snapshots"))


def _refuse(message: str, code: str = "bad_snapshot") -> DomainError:
    return DomainError(message, code=code, problems=(("image", message),))


def decode(image: str) -> bytes:
    """The JPEG bytes of a base64 string or a data: URL (what canvas.toDataURL gives)."""
    if not isinstance(image, str):
        raise _refuse(_("The snapshot must be a JPEG image in base64."))
    if image.startswith("data:"):
        head, _sep, image = image.partition(",")
        if head != "data:image/jpeg;base64":
            raise _refuse(_("The snapshot must be a JPEG image in base64."))
    if len(image) > MAX_BYTES * 4 // 3 + 4:
        raise _refuse(_("The snapshot is larger than %(n)d KB.", n=MAX_BYTES // 1024))
    try:
        return base64.b64decode(image, validate=True)
    except (binascii.Error, ValueError):
        raise _refuse(_("The snapshot must be a JPEG image in base64.")) from None


def check_jpeg(data: bytes) -> None:
    """A JPEG by its content, small enough (never decoded beyond its header)."""
    if len(data) > MAX_BYTES:
        raise _refuse(_("The snapshot is larger than %(n)d KB.", n=MAX_BYTES // 1024))
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "JPEG" or image.width * image.height > MAX_PIXELS:
                raise _refuse(_("The snapshot must be a JPEG image of at most 1280×960 pixels."))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError):
        raise _refuse(_("The snapshot must be a JPEG image.")) from None


def store(attempt: Attempt, data: bytes, reason: str, now: datetime, client: str | None = None) -> Snapshot:
    """Keep a snapshot of an attempt in progress whose exam takes them; a snapshot event on the attempt's
    timeline. The file is written before the row: a failed commit leaves an orphan file (removed by the
    purge), never a row without its image."""
    if reason not in SNAPSHOT_REASONS:
        raise _refuse(_("Unknown reason for a snapshot."))
    settings = db.session.get(ProctoringSettings, attempt.exam_id)
    if settings is None or not settings.snapshots:
        raise DomainError(_("This exam takes no camera snapshots."), code="no_snapshots", status=409)
    check_jpeg(data)
    attempt = lock_attempt(attempt)
    check_client(attempt, client)
    if attempt.status != AttemptStatus.IN_PROGRESS or attempt.overdue(now, grace()):
        raise DomainError(_("This attempt has ended."), code="ended", status=409)
    kept = db.session.scalar(select(func.coalesce(func.sum(Snapshot.size), 0)).where(Snapshot.attempt_id == attempt.id))
    if kept + len(data) > MAX_ATTEMPT_BYTES:
        # (The exam page never shows this refusal: a page within the rules never meets it.)
        raise DomainError(_("This attempt keeps no more snapshots."), code="snapshots_full", status=409)
    last = db.session.scalar(select(Snapshot.taken_at).where(Snapshot.attempt_id == attempt.id)
                             .order_by(Snapshot.id.desc()).limit(1))  # fmt: skip
    if last is not None and now - last < timedelta(seconds=MIN_INTERVAL_SECONDS):
        raise DomainError(_("Snapshots come at most every %(n)d seconds.", n=MIN_INTERVAL_SECONDS),
                          code="too_soon", status=429)  # fmt: skip
    relative = f"{attempt.exam_id}/{attempt.id}/{secrets.token_hex(8)}.jpg"
    path = folder() / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".part")
    temporary.write_bytes(data)
    os.replace(temporary, path)
    snapshot = Snapshot(attempt_id=attempt.id, taken_at=now, reason=reason, size=len(data),
                        sha256=hashlib.sha256(data).hexdigest(), path=relative)  # fmt: skip
    db.session.add(snapshot)
    db.session.flush()
    db.session.add(AttemptEvent(attempt_id=attempt.id, kind=EventKind.SNAPSHOT, at=now,
                                detail={"snapshot": snapshot.id, "reason": reason}))  # fmt: skip
    db.session.flush()
    return snapshot


def snapshots_of(attempt: Attempt) -> list[Snapshot]:
    return list(db.session.scalars(select(Snapshot).where(Snapshot.attempt_id == attempt.id).order_by(Snapshot.id)))


def read(snapshot: Snapshot) -> bytes | None:
    try:
        return (folder() / snapshot.path).read_bytes()
    except OSError:
        return None


# ---------------------------------------------------------------- who may see them


def may_see_snapshots(user, attempt: Attempt) -> bool:
    """The district's exam managers and the proctors of the candidate's room (or of the whole session, for a seat
    in no room), when none of them is a candidate of the exam. Never the candidates (the candidate included),
    graders or unit admins as such."""
    if not getattr(user, "is_authenticated", False) or user.id == attempt.user_id:
        return False
    if policy.conflict(user, exam_id=attempt.exam_id) is not None:  # sits the exam (or one that shares questions)
        return False
    # The sitting is a sibling package: asked, not imported at load.
    from sitting.services import is_candidate, proctors_whole_session, seat_of

    # A candidate of the exam never sees another's, whatever their roles, and after the conflict's window too (it
    # protects the pool and ends with the review; the snapshots are kept for their retention): eligible, seated,
    # or having sat it (eligibility can change after).
    sat = db.session.scalar(select(Attempt.id).where(Attempt.exam_id == attempt.exam_id, Attempt.user_id == user.id)
                            .limit(1))  # fmt: skip
    if sat is not None or is_candidate(attempt.exam, user):
        return False
    if policy.can(user, "exam.manage"):
        return True
    seat = seat_of(attempt.exam, attempt.user)
    if seat is None or seat.session_id is None:
        return False
    if seat.room_id is None:  # in the session, in no room yet: no room's proctor's (as the check-in's seat photo)
        return proctors_whole_session(user, seat.session_id)
    return policy.may_proctor(user, seat.session_id, seat.room_id)


def record_view(user, attempt: Attempt, count: int, where: str, now: datetime) -> None:
    """Every look at an attempt's snapshots is audited (who, whose, how many, from which page)."""
    audit.record("proctoring.snapshots_viewed", actor=user, target=f"attempt:{attempt.id}", at=now,
                 detail={"exam": attempt.exam.code, "candidate": attempt.user.username, "count": count,
                         "page": where})  # fmt: skip


# ---------------------------------------------------------------- retention


def purge_expired(now: datetime) -> int:
    """Delete the snapshots (rows and files) of exams closed longer ago than their retention; files left behind
    by a failed commit go with their attempt's folder. Returns how many were deleted; audited once per exam."""
    deleted = 0
    rows = db.session.execute(
        select(Exam.id, Exam.code, Exam.closes_at, ProctoringSettings.snapshot_retention_days)
        .join(ProctoringSettings, ProctoringSettings.exam_id == Exam.id)
    ).all()  # fmt: skip
    for exam_id, code, closes_at, days in rows:
        if now < closes_at + timedelta(days=days):
            continue
        attempt_ids = select(Attempt.id).where(Attempt.exam_id == exam_id)
        paths = db.session.scalars(select(Snapshot.path).where(Snapshot.attempt_id.in_(attempt_ids))).all()
        exam_folder = folder() / str(exam_id)
        if not paths and not exam_folder.exists():
            continue
        db.session.execute(delete(Snapshot).where(Snapshot.attempt_id.in_(attempt_ids)))
        try:
            for relative in paths:
                (folder() / relative).unlink(missing_ok=True)
            _remove_tree(exam_folder)
        except OSError:  # a folder the job cannot change: the rows go all the same, the others' files too
            log.exception("The snapshots' folder of exam %s could not be removed.", code)
        deleted += len(paths)
        audit.record("proctoring.snapshots_purged", target=f"exam:{code}", at=now,
                     detail={"count": len(paths), "retention_days": days})  # fmt: skip
    db.session.flush()
    return deleted


def _remove_tree(path: Path) -> None:
    """Remove an exam's folder and what is in it, never following a symbolic link (a link put there is removed
    as a link, whatever it points to); an exam folder that is itself a link is only unlinked."""
    if path.is_symlink():
        path.unlink()
        return
    if path.exists():
        shutil.rmtree(path)  # symlink-attack safe where the platform allows (shutil.rmtree.avoids_symlink_attacks)
