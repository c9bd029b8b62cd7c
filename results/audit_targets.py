"""The lifecycle's audit details in words: states and notice scopes."""

from core.audit_labels import register_detail_value
from results.lifecycle import SCOPE_LABELS, STATE_LABELS


def _words(labels):
    def words(value):
        label = labels.get(value)
        return str(label) if label is not None else str(value)

    return words


for _action in ("results.checked", "results.approved", "results.notice", "results.final", "results.sent_back"):
    register_detail_value(_action, "from")(_words(STATE_LABELS))
    register_detail_value(_action, "to")(_words(STATE_LABELS))
for _action in ("results.registered", "results.notice_published"):
    register_detail_value(_action, "scope")(_words(SCOPE_LABELS))
