"""Every action the code records has a label on the audit page (an action without one would show as its code)."""

import ast

from core.audit_labels import (
    ACTION_LABELS,
    DETAIL_LABELS,
    PREFIX_LABELS,
    action_label,
    detail_label,
    detail_value_words,
)
from tests.conftest import ROOT

PACKAGES = (
    "accounts",
    "archive",
    "core",
    "demo",
    "exam",
    "personnel",
    "practice",
    "proctoring",
    "question_bank",
    "reports",
    "results",
    "sitting",
)


def _strings(node):
    """The string constants an expression can be: "a.b", or either side of `"a.b" if x else "c.d"`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _strings(node.body) + _strings(node.orelse)
    return []


def _called(node) -> str | None:
    return getattr(node.func, "attr", None) or getattr(node.func, "id", None)


def _records(node) -> list[ast.Call]:
    return [c for c in ast.walk(node) if isinstance(c, ast.Call) and _called(c) == "record" and c.args]


def recorded_actions() -> set[str]:
    """Actions in the source: the first argument of every `record(...)`/`audit.record(...)`, and the actions
    handed to a function that records its parameter `action` (its default, and `action="exam.imported"`)."""
    trees = [
        ast.parse(path.read_text(encoding="utf-8")) for package in PACKAGES for path in (ROOT / package).rglob("*.py")
    ]
    found, relays = set(), {}
    for tree in trees:
        for call in _records(tree):
            found.update(_strings(call.args[0]))
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef) and any(
                isinstance(c.args[0], ast.Name) and c.args[0].id == "action" for c in _records(fn)
            ):
                relays[fn.name] = fn
    for fn in relays.values():
        args = fn.args.args[len(fn.args.args) - len(fn.args.defaults) :]
        found.update(s for a, d in zip(args, fn.args.defaults, strict=True) if a.arg == "action" for s in _strings(d))
    for tree in trees:
        for call in ast.walk(tree):
            if isinstance(call, ast.Call) and _called(call) in relays:
                found.update(s for k in call.keywords if k.arg == "action" for s in _strings(k.value))
    return {a for a in found if "." in a}


def test_every_recorded_action_has_a_label():
    actions = recorded_actions()
    assert len(actions) > 50 and {"exam.created", "exam.imported", "cadre.deactivated", "audit.verified"} <= actions
    assert sorted(actions - set(ACTION_LABELS)) == [], "add these to core.audit_labels.ACTION_LABELS"
    assert {a.split(".")[0] for a in actions} <= set(PREFIX_LABELS)


def test_an_unknown_action_shows_its_code(app):
    assert action_label("login.succeeded") == "登录成功"
    assert action_label("brand.new") == "brand.new"


def recorded_detail_keys() -> set[str]:
    """The keys of every `detail={...}` written as a literal in a `record(...)` call (and in the dict it names)."""
    keys = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for call in _records(ast.parse(path.read_text(encoding="utf-8"))):
                for keyword in call.keywords:
                    if keyword.arg == "detail" and isinstance(keyword.value, ast.Dict):
                        keys.update(k.value for k in keyword.value.keys if isinstance(k, ast.Constant))
    return keys


def test_every_detail_key_has_a_label():
    keys = recorded_detail_keys()
    assert {"reason", "changes", "role", "qtype"} <= keys
    assert sorted(keys - set(DETAIL_LABELS)) == [], "add these to core.audit_labels.DETAIL_LABELS"


def test_detail_values_that_are_codes_read_as_words(app):
    with app.test_request_context():
        assert detail_label("reason") == "理由" and detail_label("brand_new") == "brand_new"
        assert detail_value_words("role.granted", "role", "grader") == "阅卷人"
        assert detail_value_words("exam.section_changed", "qtype", "single") == "单选题"
        assert detail_value_words("exam.access_code", "set", True) == "是"
        assert detail_value_words("archive.assessed", "grade", "excellent") == "优秀"
        assert detail_value_words("some.action", "role", "grader") is None  # left to the page's generic rendering
