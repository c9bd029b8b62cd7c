"""The periodic finalizer: exams whose notice period has ended and that have no open appeal become final."""

import logging
from datetime import datetime

from core.extensions import db
from jobs import periodic
from results import lifecycle

log = logging.getLogger(__name__)

FINALIZE_DUE = "results.finalize-due"


def finalize_due_now(now: datetime) -> tuple[list[str], dict[str, str]]:
    """Finalize what is due and commit (the job's and the CLI's transaction)."""
    done, held = lifecycle.finalize_due(now)
    db.session.commit()
    return done, held


@periodic(FINALIZE_DUE, every=300)
def _finalize_due(now: datetime) -> None:
    """Every five minutes, by one worker of the installation."""
    done, _held = finalize_due_now(now)
    if done:
        log.info("Results made final: %s.", ", ".join(done))
