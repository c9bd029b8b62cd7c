"""Personal data encrypted at rest, and found again without decrypting it.

- **Encryption:** Fernet (AES-128-CBC with HMAC-SHA256, from the `cryptography` package) under the data keys of
  QE_DATA_KEYS. The first key encrypts; every key listed decrypts, so a key is rotated by putting a new one first,
  running `flask personal-data rotate-keys` (which re-encrypts every value under it) and then dropping the old one
  (README, "Personal data"). A column of type `EncryptedText` (or `EncryptedBlob`: photos and stored files) does
  this on every write and read.
- **Lookup:** a value that must be found (an ID number, when a cadre is matched on import) also keeps a blind index:
  HMAC-SHA256 of its normal form under the index keys of QE_INDEX_KEYS. Lookups try every index key listed, so the
  index key rotates the same way.

Without the variables a key of each kind is made once and kept in instance/personal_data_keys.json (0600), as the
secret key is: fine for one node, while several nodes must share the variables.
"""

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from sqlalchemy import LargeBinary, Text
from sqlalchemy.types import TypeDecorator


class UnreadableValue(RuntimeError):
    """A value could not be decrypted with any configured key (a key was dropped too early, or is missing)."""


class Keyring:
    def __init__(self, data_keys: list[str], index_keys: list[str]):
        if not data_keys or not index_keys:
            raise ValueError("personal data needs at least one data key and one index key")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in data_keys])
        except ValueError as exc:
            message = "QE_DATA_KEYS: each key is 32 url-safe base64-encoded bytes (Fernet.generate_key())"
            raise ValueError(message) from exc
        self._index_keys = [k.encode() for k in index_keys]
        if any(len(k) < 32 for k in self._index_keys):
            raise ValueError("QE_INDEX_KEYS: each key is at least 32 characters")

    def encrypt(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise UnreadableValue("a personal data value cannot be decrypted with the keys of QE_DATA_KEYS") from exc

    def encrypt_bytes(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def decrypt_bytes(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken as exc:
            raise UnreadableValue("a stored file cannot be decrypted with the keys of QE_DATA_KEYS") from exc

    def rotate(self, token: str) -> str:
        """The value encrypted under the first key (unchanged when it already is)."""
        return self._fernet.rotate(token.encode()).decode()

    def rotate_bytes(self, token: bytes) -> bytes:
        return self._fernet.rotate(token)

    def index(self, normal: str) -> str:
        """The blind index of a value in its normal form, under the current (first) index key."""
        return hmac.new(self._index_keys[0], normal.encode(), hashlib.sha256).hexdigest()

    def indexes(self, normal: str) -> list[str]:
        """Its blind index under every index key listed (a lookup matches any of them)."""
        return [hmac.new(k, normal.encode(), hashlib.sha256).hexdigest() for k in self._index_keys]


def _split(value) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value or "").split(",") if v.strip()]


def load_keys(instance_path: str) -> dict:
    """QE_DATA_KEYS and QE_INDEX_KEYS from the environment, else the keys kept in the instance folder (made once)."""
    data, index = _split(os.environ.get("QE_DATA_KEYS")), _split(os.environ.get("QE_INDEX_KEYS"))
    if data and index:
        return {"DATA_KEYS": data, "INDEX_KEYS": index}
    path = Path(instance_path) / "personal_data_keys.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        made = {"data": [Fernet.generate_key().decode()], "index": [secrets.token_urlsafe(48)]}
        tmp = path.with_name(f"personal_data_keys.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(made, fh)
        try:
            os.link(tmp, path)  # several workers starting at once agree on the keys of the one that won
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    kept = json.loads(path.read_text())
    return {"DATA_KEYS": data or kept["data"], "INDEX_KEYS": index or kept["index"]}


def init_app(app) -> None:
    app.extensions["qe_keyring"] = Keyring(_split(app.config.get("DATA_KEYS")), _split(app.config.get("INDEX_KEYS")))


def keyring() -> Keyring:
    return current_app.extensions["qe_keyring"]


def rotate_all(session, batch: int = 500) -> tuple[int, int]:
    """Every value of every `EncryptedText` and `EncryptedBlob` column, re-encrypted under the first data key (read
    under whichever key listed wrote it), in batches of rows (a row at a time where files are), each committed.
    Returns how many values were rewritten, and how many files (stored files, photos) no key listed reads (left as
    they are). A text value no key reads stops the rotation (UnreadableValue, naming its row): it is never dropped."""
    from sqlalchemy import select, type_coerce, update

    from core.extensions import db

    ring, done, unreadable = keyring(), 0, 0
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, (EncryptedText, EncryptedBlob))]
        if not columns or len(table.primary_key.columns) != 1:
            continue
        raw_type = {c.name: LargeBinary if isinstance(c.type, EncryptedBlob) else Text for c in columns}
        rotate = {c.name: ring.rotate_bytes if isinstance(c.type, EncryptedBlob) else ring.rotate for c in columns}
        size = 1 if LargeBinary in raw_type.values() else batch
        key = next(iter(table.primary_key.columns))
        last = None
        while True:
            query = select(key, *[type_coerce(c, raw_type[c.name]).label(c.name) for c in columns])
            query = query.order_by(key).limit(size)
            if last is not None:
                query = query.where(key > last)
            rows = session.execute(query).all()
            if not rows:
                break
            for row in rows:
                try:
                    values = {c.name: rotate[c.name](row._mapping[c.name]) for c in columns if row._mapping[c.name]}
                except InvalidToken as exc:
                    if LargeBinary not in raw_type.values():
                        raise UnreadableValue(f"{table.name} #{row[0]}: no key of QE_DATA_KEYS decrypts it") from exc
                    unreadable += 1
                    continue
                if values:
                    session.execute(update(table).where(key == row[0]).values(
                        {table.c[n]: type_coerce(v, raw_type[n]) for n, v in values.items()}))  # fmt: skip
                    done += len(values)
            last = rows[-1][0]
            session.commit()
    return done, unreadable


class EncryptedText(TypeDecorator):
    """Text kept encrypted in the database; Python sees the clear text. Empty and null stay as they are (nothing
    to hide), so a blank field costs no key."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None or value == "":
            return value
        return keyring().encrypt(value)

    def process_result_value(self, value, dialect):
        if value is None or value == "":
            return value
        return keyring().decrypt(value)


class EncryptedBlob(TypeDecorator):
    """Bytes kept encrypted in the database (a profile photo; a stored file: an upload waiting for its import, a
    job's download); Python sees the clear bytes. Reading a value no configured key decrypts raises
    UnreadableValue."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return value if value is None else keyring().encrypt_bytes(bytes(value))

    def process_result_value(self, value, dialect):
        return value if value is None else keyring().decrypt_bytes(bytes(value))
