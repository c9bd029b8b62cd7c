"""Domain events: an earlier package announces what happened, the later packages that care listen (blinker signals,
as Flask's own). Dependencies run one way (core ← accounts ← question_bank ← exam ← archive, reports): when
something must flow back (an attempt is graded and the archive records it), the earlier package sends a signal
here and never imports the later one.

Rules for senders and listeners:
- send where the thing happens, after the change is flushed, inside the service's transaction; the sender is the
  object the event is about, the keyword arguments are the ones documented on each signal;
- listeners run at once, in the sender's transaction and session: what they write commits or rolls back with the
  change itself, and a listener's exception fails the sender (so a half-done change never commits). They flush,
  never commit, like every service;
- a package's listeners connect when the package is imported (app.create_app imports every domain package), in
  the module that does the work, as `accounts.home` providers and `core.policy` hooks are registered;
- work too long for a request, or that must survive a crash, will go to the job engine (docs/architecture.md).

docs/architecture.md keeps the table of signals, senders and listeners.
"""

from blinker import Namespace

_signals = Namespace()

attempt_finalized = _signals.signal(
    "attempt-finalized",
    doc="""An ended attempt was graded: its score, `fully_graded` and `passed` are set as they now stand.

    Sender: the `exam.models.Attempt`. Keyword arguments: `now` (datetime).
    Sent by `exam.scoring.grade` each time an ended attempt is graded: at its submit or finalization, again when a
    grader gives points, and at a regrade after a key correction (the score is None until every item is graded).
    Listeners: `archive.services.record_exam_result` (writes or rewrites the result in the learning archive, in
    the same transaction).""",
)

result_released = _signals.signal(
    "result-released",
    doc="""An exam's results were released by hand (the exam is now `released`: scores and keys are visible).

    Sender: the `exam.models.Exam`. Keyword arguments: `actor` (the user), `now` (datetime), `attempts` (how many
    attempts the release covers). Sent by `exam.definition.release_results`.""",
)

results_finalized = _signals.signal(
    "results-finalized",
    doc="""An official exam's results became final (归档): the notice period ended and no appeal is open.

    Sender: the `exam.models.Exam`. Keyword arguments: `now` (datetime). Sent by `results.lifecycle.finalize`.
    Listeners: `archive.services.record_final_results` (rewrites the exam's archive records, now final, and the
    qualifications resting on them).""",
)

key_corrected = _signals.signal(
    "key-corrected",
    doc="""An objective question's key was corrected for one exam, and its ended attempts were graded again.

    Sender: the `exam.models.Exam`. Keyword arguments: `actor`, `now`, `version_id` (the question version whose
    key changed), `changed` (how many attempts' scores changed). Sent by `exam.grading.correct_key`, after the
    regrade (each regraded attempt has sent `attempt_finalized` already).""",
)

cadre_changed = _signals.signal(
    "cadre-changed",
    doc="""A cadre's profile or account changed in a way that may change what they may sit (unit, rank, status,
    age, the account being active).

    Sender: the `accounts.models.Cadre`. Keyword arguments: `actor`, `now`, `kind` ("created", "updated",
    "activated" or "deactivated"), `changes` (field -> [old, new] for "updated", else None). Sent by
    `accounts.services.create_cadres` (one per cadre, a batch too), `update_cadres` (only when something changed)
    and `set_cadre_active`.""",
)
