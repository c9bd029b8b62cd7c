"""The snapshots' retention: deleted, rows and files, once their exam closed longer ago than it keeps them."""

import logging
from datetime import datetime

from jobs import periodic
from proctoring.snapshots import purge_expired

log = logging.getLogger(__name__)
PURGE = "proctoring.purge-snapshots"


@periodic(PURGE, every=3600)
def _purge(now: datetime) -> None:
    """Every hour, by one worker of the installation."""
    deleted = purge_expired(now)
    if deleted:
        log.info("Camera snapshots past their retention deleted: %d.", deleted)
