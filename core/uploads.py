"""Uploaded files that wait for a confirmation (import previews) live in instance/imports for a day at most."""

import os
import time
from pathlib import Path

MAX_AGE_SECONDS = 24 * 3600


def pending_upload_dir(instance_path: str) -> Path:
    """The folder of pending uploads, with files older than a day removed (abandoned previews hold personal data)."""
    path = Path(instance_path) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - MAX_AGE_SECONDS
    for old in path.iterdir():
        try:
            if old.is_file() and old.stat().st_mtime < cutoff:
                old.unlink()
        except OSError:  # another worker removed it first
            pass
    return path


def claim(path: Path) -> Path | None:
    """Take a pending upload for committing, atomically: of two requests (a double click) only one gets it."""
    claimed = path.with_name(f"{path.name}.claimed-{os.getpid()}-{time.monotonic_ns()}")
    try:
        os.rename(path, claimed)
    except FileNotFoundError:
        return None
    return claimed
