"""Who an API token speaks for, kept per process: a known token costs no database round trip, a revocation takes
effect everywhere within a second (the auth epoch), and a token's last use is written off the hot path, in batches.

- `IdentityCache` (one per app and process, in `app.extensions`, shared by its threads): token hash ->
  `TokenIdentity`. Before it answers, it re-reads the auth epoch (`AuthEpoch`, one row) if a second has passed
  since it last did, and forgets every identity when the number moved. Within that second (plus the time of one
  read) a process may still answer from memory for a token revoked elsewhere: that is the documented window.
- The epoch is bumped by a flush listener (`_bump_when_access_changes`), in the transaction of the change, whenever
  a flush changes what an identity says or whether it holds: a token revoked, deleted or moved; a user deactivated
  or deleted; a password changed or reset, the forced change, the language or the roles changed. New accounts and
  their first roles bump nothing (no process knows them), so an import does not queue on the epoch's row.
- `attach_user` gives the request a real `User`, bound to the session without a query: its id, active flag,
  forced password change and language come from the identity; any other column loads the row on first use (one
  query), its roles and profile load as they always did. The policy and every service see the same User as before.
- Last use: noted in memory at most once every LAST_USED_EVERY per token and process, and written in one batched
  UPDATE, at most once every LAST_USED_WRITE_EVERY per process, by a write request that commits anyway
  (`write_last_used`); a read never commits for it. What a process noted and had not written when it died is
  lost: the stored time can then be a few minutes older than the token's real last use, which is all the column
  is for (telling a token in use from one forgotten).
"""

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, has_app_context
from sqlalchemy import bindparam, event, insert, inspect, or_, select, update
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.util import identity_key

from accounts.models import ApiToken, AuthEpoch, RoleAssignment, User
from core.extensions import db
from core.models import UTCDateTime

#: Seconds between two reads of the auth epoch by one process: the longest a revocation may go unseen there.
EPOCH_CHECK_SECONDS = 1.0
#: A token's use is noted at most this often per process (as the database's last_used_at was written before).
LAST_USED_EVERY = timedelta(minutes=5)
#: A process writes the uses it noted at most this often (seconds), in one statement.
LAST_USED_WRITE_SECONDS = 60.0
#: Past this many tokens a process starts its memory afresh (about 200 bytes each).
MAX_ENTRIES = 100_000

_EXTENSION = "auth_identities"
_UNKNOWN = object()


@dataclass(frozen=True, slots=True)
class TokenIdentity:
    """What a request needs of a live token of an active user, without loading either."""

    token_id: int
    user_id: int
    api_only: bool
    must_change_password: bool
    locale: str | None
    #: A system account's token: the scopes it carries (core.policy.API_SCOPES); None for a person's token.
    scopes: frozenset[str] | None = None


class IdentityCache:
    """Token hash -> TokenIdentity for one process, emptied when the auth epoch moves; thread-safe. `clock`
    (seconds, monotonic) is injectable so tests can step over the epoch's second."""

    def __init__(self, clock=time.monotonic, check_seconds: float = EPOCH_CHECK_SECONDS):
        self.clock = clock
        self.check_seconds = check_seconds
        self._lock = threading.Lock()
        self._entries: dict[str, TokenIdentity] = {}
        self._epoch = _UNKNOWN
        self._next_check = float("-inf")
        #: Moves with every forgetting: an identity read from the database before it is not kept after it.
        self._generation = 0
        self._used: dict[int, datetime] = {}  # token id -> its last use noted (or read from the database)
        self._pending: dict[int, datetime] = {}  # token id -> a use noted and not yet written
        self._next_write = float("-inf")

    def lookup(self, token_hash: str, read_epoch) -> tuple[TokenIdentity | None, int]:
        """The identity kept for a token (None: read it from the database, then `keep` it with the generation
        returned here). Re-reads the epoch first when its second is up."""
        self._check_epoch(read_epoch)
        with self._lock:
            return self._entries.get(token_hash), self._generation

    def _check_epoch(self, read_epoch) -> None:
        now = self.clock()
        with self._lock:
            if now < self._next_check:
                return
            self._next_check = now + self.check_seconds  # the other threads answer from memory meanwhile
        try:
            epoch = read_epoch()
        except BaseException:
            with self._lock:
                self._next_check = float("-inf")  # not checked: the next request checks
            raise
        with self._lock:
            if epoch != self._epoch:
                self._entries.clear()
                self._generation += 1
                self._epoch = epoch

    def recheck(self) -> None:
        """Re-read the epoch before the next answer (this process moved it)."""
        with self._lock:
            self._next_check = float("-inf")

    def keep(self, token_hash: str, identity: TokenIdentity, generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                return  # the epoch moved while the row was read: it may say what is no longer true
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[token_hash] = identity

    def note_use(self, token_id: int, now: datetime, stored: datetime | None = None) -> None:
        """The token was used at `now`: noted for writing if its last use known here (or `stored`, the database's,
        when just read) is older than LAST_USED_EVERY."""
        with self._lock:
            known = [t for t in (self._used.get(token_id), stored) if t is not None]
            if known and now - max(known) < LAST_USED_EVERY:
                return
            if len(self._used) >= MAX_ENTRIES:
                self._used.clear()
            self._used[token_id] = now
            self._pending[token_id] = now

    def take_pending(self) -> dict[int, datetime]:
        """The uses noted and not yet written, when a write is due (else nothing); they are then the caller's."""
        now = self.clock()
        with self._lock:
            if not self._pending or now < self._next_write:
                return {}
            self._next_write = now + LAST_USED_WRITE_SECONDS
            pending, self._pending = self._pending, {}
            return pending


def cache() -> IdentityCache:
    """This process's cache for the current app."""
    found = current_app.extensions.get(_EXTENSION)
    if found is None:
        found = current_app.extensions.setdefault(_EXTENSION, IdentityCache())
    return found


_EPOCH_QUERY = select(AuthEpoch.value).where(AuthEpoch.id == 1)


def read_epoch() -> int | None:
    return db.session.scalar(_EPOCH_QUERY)


def bump_epoch(connection) -> None:
    """Move the auth epoch, on `connection` (the transaction of the change that calls for it)."""
    table = AuthEpoch.__table__
    moved = connection.execute(update(table).where(table.c.id == 1).values(value=table.c.value + 1))
    if moved.rowcount == 0:  # the row is made by the migration; an emptied table (tests) starts it again
        connection.execute(insert(table).values(id=1, value=1))


def attach_user(identity: TokenIdentity) -> User:
    """The identity's User in the current session, without a query: the one already there, or one whose id,
    active flag, forced password change and language are the identity's and whose other columns load on first
    use (one query for all of them)."""
    session = db.session()
    user = session.identity_map.get(identity_key(User, identity.user_id))
    if user is None:
        user = User(
            id=identity.user_id,
            active=True,
            must_change_password=identity.must_change_password,
            locale=identity.locale,
        )
        make_transient_to_detached(user)  # as if loaded: the columns not given are expired, not empty
        session.add(user)
    return user


_USED_AT = bindparam("used_at", type_=UTCDateTime())
_WRITE_LAST_USED = (
    update(ApiToken.__table__)
    .where(
        ApiToken.__table__.c.id == bindparam("token_id"),
        or_(ApiToken.__table__.c.last_used_at.is_(None), ApiToken.__table__.c.last_used_at < _USED_AT),
    )
    .values(last_used_at=_USED_AT)
)


def write_last_used() -> int:
    """Write, in the current transaction, the token uses this process noted, when a write is due: one statement
    for all of them, in token order (two processes writing at once lock the rows in the same order). Called only
    by requests that commit anyway. Returns how many uses it wrote."""
    pending = cache().take_pending()
    if pending:
        db.session.execute(_WRITE_LAST_USED, [{"token_id": k, "used_at": v} for k, v in sorted(pending.items())])
    return len(pending)


# ---------------------------------------------------------------- what moves the epoch

#: Columns and relationships whose change alters what a kept identity says, or whether the token still works.
_USER_FIELDS = ("active", "must_change_password", "locale", "password_hash", "roles", "system")
_TOKEN_FIELDS = ("revoked_at", "api_only", "user_id", "token_hash", "scopes")


def _changed(obj, fields) -> bool:
    attrs = inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in fields)


def changes_access(session) -> bool:
    """Does this flush change what a kept identity says or whether it holds?"""
    for obj in session.deleted:
        if isinstance(obj, User | ApiToken | RoleAssignment):
            return True
    for obj in session.dirty:
        if isinstance(obj, User) and _changed(obj, _USER_FIELDS):
            return True
        if isinstance(obj, ApiToken) and _changed(obj, _TOKEN_FIELDS):
            return True
        if isinstance(obj, RoleAssignment) and session.is_modified(obj):
            return True
    new = session.new  # a role given to an account that exists moves it; an account's first roles do not
    return any(isinstance(obj, RoleAssignment) and obj.__dict__.get("user") not in new for obj in new)


_MOVED = "qualexam.auth_epoch.moved"


@event.listens_for(Session, "before_flush")
def _bump_when_access_changes(session, _flush_context, _instances) -> None:
    if changes_access(session):
        bump_epoch(session.connection())
        session.info[_MOVED] = True


@event.listens_for(Session, "after_commit")
def _recheck_here_at_once(session) -> None:
    """The process that made the change does not wait for its second: its next request re-reads the epoch."""
    if session.info.pop(_MOVED, False) and has_app_context():
        cache().recheck()


@event.listens_for(Session, "after_rollback")
def _nothing_moved(session) -> None:
    session.info.pop(_MOVED, None)
