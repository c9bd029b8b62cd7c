"""Files every node reaches, in the database: a job's downloads and the uploads that wait for an import's confirmation.

Replaces the folder instance/imports: two nodes without a shared mount serve the same preview and the same download.
"""

import secrets
from datetime import timedelta

from sqlalchemy import delete, select, update

from core.extensions import db
from core.models import now_utc
from jobs.models import StoredFile

#: An import preview waits a day at most: abandoned previews hold personal data.
UPLOAD_LIFETIME = timedelta(days=1)


def store(data: bytes, name: str, mimetype: str, *, purpose: str, owner_id: int | None, job_id: int | None = None,
          expires_in: timedelta = UPLOAD_LIFETIME) -> StoredFile:  # fmt: skip
    """Add a file to the session (it is kept when the caller's transaction commits)."""
    now = now_utc()
    stored = StoredFile(token=secrets.token_urlsafe(32), purpose=purpose, job_id=job_id, owner_id=owner_id,
                        name=name[:255], mimetype=mimetype, size=len(data), data=data, created_at=now,
                        expires_at=now + expires_in)  # fmt: skip
    db.session.add(stored)
    db.session.flush()
    return stored


def get(token: str, owner_id: int | None = None, purpose: str | None = None) -> StoredFile | None:
    """The unexpired file of this token (and owner and purpose, when given), or None."""
    if not token or len(token) > 64:
        return None
    query = select(StoredFile).where(StoredFile.token == token, StoredFile.expires_at > now_utc())
    if owner_id is not None:
        query = query.where(StoredFile.owner_id == owner_id)
    if purpose is not None:
        query = query.where(StoredFile.purpose == purpose)
    return db.session.scalar(query)


def claim(token: str, owner_id: int) -> StoredFile | None:
    """Take a waiting upload for its import, atomically: of two confirmations (a double click) only one gets it.

    The claim is part of the caller's transaction: if the import fails and rolls back, the upload waits again."""
    taken = db.session.execute(
        update(StoredFile)
        .where(
            StoredFile.token == token,
            StoredFile.owner_id == owner_id,
            StoredFile.purpose == "upload",
            StoredFile.claimed_at.is_(None),
            StoredFile.expires_at > now_utc(),
        )  # fmt: skip
        .values(claimed_at=now_utc())
    )
    if taken.rowcount != 1:
        return None
    return db.session.scalar(select(StoredFile).where(StoredFile.token == token))


def discard(stored: StoredFile) -> None:
    db.session.delete(stored)


def remove_expired(now=None) -> int:
    """Delete expired files (the sweep runs this); claimed uploads go once their import committed."""
    now = now or now_utc()
    gone = db.session.execute(
        delete(StoredFile).where(
            (StoredFile.expires_at <= now)
            | (
                (StoredFile.purpose == "upload")
                & StoredFile.claimed_at.is_not(None)
                & (StoredFile.claimed_at < now - timedelta(hours=1))
            )  # fmt: skip
        )
    )
    return gone.rowcount or 0
