"""The domain lines (docs/architecture.md): dependencies run one way, core ← accounts ← question_bank ← exam ←
sitting ← archive, reports. Every module of the app's packages is read with `ast` (imports at module level and inside
functions alike, and `importlib.import_module("…")` with a literal name); an import against the direction fails
the test, naming the file and the line. What must flow back goes through core.events or a registry."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: package -> the packages it must not import (anything under them included).
FORBIDDEN = {
    "core": {
        "accounts",
        "question_bank",
        "exam",
        "sitting",
        "archive",
        "reports",
        "jobs",
        "demo",
        "practice",
        "proctoring",
        "personnel",
        "integration",
    },
    "accounts": {
        "question_bank",
        "exam",
        "sitting",
        "archive",
        "reports",
        "practice",
        "proctoring",
        "personnel",
        "integration",
    },
    "question_bank": {"exam", "sitting", "archive", "reports", "practice", "proctoring", "personnel", "integration"},
    "exam": {"sitting", "archive", "reports", "practice", "proctoring", "personnel", "integration"},
    #: The sitting builds on the exam engine (a start check it registers, the proctor's adjustments it calls);
    #: the archive and the reports may read it (absences, incidents), never the other way.
    "sitting": {"archive", "reports", "practice", "proctoring", "personnel", "integration"},
    #: Proctoring in the browser registers its signals and start check with the engine and asks the sitting who
    #: proctors a seat; nothing below it imports it, and it reads nothing of the results, archive or reports.
    "proctoring": {"archive", "reports", "results", "practice", "personnel", "integration"},
    #: Practice (以考促学) reads the formal exams to keep their questions out of its pool; no formal part reads it.
    "practice": {"sitting", "reports", "results", "personnel", "integration"},
    #: Cadre data from the department's own systems (.lrmx forms) writes profiles and archives through their
    #: services; it reads no exam, sitting or result, and nothing imports it.
    "personnel": {"question_bank", "exam", "sitting", "reports", "results", "practice", "proctoring", "integration"},
    "archive": {"personnel", "integration"},
    "reports": {"personnel", "integration"},
    #: The admin API for other systems reads and writes every domain through its services; nothing imports it.
    "results": {"integration"},
    #: The job engine sits between core and the domains: they register their kinds with it, it knows none of them.
    "jobs": {
        "accounts",
        "question_bank",
        "exam",
        "sitting",
        "archive",
        "reports",
        "demo",
        "practice",
        "proctoring",
        "personnel",
        "integration",
    },
}


def imports(source: str) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in `source`, wherever it stands. Relative imports stay within
    their own package, so they never cross a line."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif (
            isinstance(node, ast.Call)
            and (getattr(node.func, "attr", None) or getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return sorted(found)


def wrong_way(package: str, source: str, filename: str) -> list[str]:
    """The imports of one module of `package` that cross the domain lines the wrong way, as "file:line: …"."""
    banned = FORBIDDEN.get(package, set())
    return [
        f"{filename}:{line}: {package} imports {module}"
        for line, module in imports(source)
        if module.split(".")[0] in banned
    ]


def test_no_package_imports_against_the_domain_lines():
    problems, read = [], 0
    for package in sorted(FORBIDDEN):
        for path in sorted((ROOT / package).rglob("*.py")):
            read += 1
            problems += wrong_way(package, path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert read > 50  # the packages were found and read
    assert not problems, "Imports against the domain lines (docs/architecture.md):\n" + "\n".join(problems)


PLANTED = '''"""An exam module that reaches up."""
import json
from core import audit
from exam.models import Attempt
from reports.ranking import standing


def result(attempt):
    import archive.services
    from archive import qualifications

    return standing, archive.services, qualifications


def load():
    return importlib.import_module("reports.items")
'''


def test_the_checker_catches_a_planted_wrong_way_import():
    assert wrong_way("exam", PLANTED, "exam/planted.py") == [
        "exam/planted.py:5: exam imports reports.ranking",
        "exam/planted.py:9: exam imports archive.services",
        "exam/planted.py:10: exam imports archive",
        "exam/planted.py:16: exam imports reports.items",
    ]
    # The same source is fine for a package above both (and json, core, exam are never a wrong way for exam).
    assert wrong_way("reports", PLANTED, "reports/planted.py") == []


@pytest.mark.parametrize(
    ("package", "source", "caught"),
    [
        ("core", "from accounts.models import User\n", True),
        ("core", "def f():\n    from demo import district\n", True),
        ("core", "import jobs.engine as engine\n", True),
        ("core", "from core import events\n", False),
        ("accounts", "from question_bank.models import Question\n", True),
        ("question_bank", "from accounts.models import User\n", False),
        ("question_bank", "from exam import attempts\n", True),
        ("exam", "from question_bank.models import Question\n", False),
        ("exam", "import reports_extra\n", False),  # a name that only starts like a package is another module
        ("exam", "from . import archive\n", False),  # relative: within exam itself
    ],
)
def test_the_checker_tells_the_directions_apart(package, source, caught):
    assert bool(wrong_way(package, source, "x.py")) is caught
