"""A small per-process cache of report aggregates, keyed by everything they were computed from (the exam's results
and attempts, the people and units, the viewer's scope, the filters), so a key never serves stale figures: a
change to any of them is a new key. It lives on the app (app.extensions), holds the newest entries and is safe
for threads."""

import threading
from collections import OrderedDict

from flask import current_app

MAX_ENTRIES = 64
_lock = threading.Lock()


def cached(key: tuple, compute):
    """The value for `key`, computed by `compute()` the first time."""
    store = current_app.extensions.setdefault("reports_cache", OrderedDict())
    with _lock:
        if key in store:
            store.move_to_end(key)
            return store[key]
    value = compute()
    with _lock:
        store[key] = value
        while len(store) > MAX_ENTRIES:
            store.popitem(last=False)
    return value
