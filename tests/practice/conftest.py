import pytest

from core.extensions import db as _db
from core.models import now_utc
from core.policy import Role
from question_bank import services as qb
from tests.factories import SECRET, make_bank, make_cadre, make_category, make_question, make_user


@pytest.fixture
def opened(db):
    """A bank opened for practice with a chapter of one question of each type (each explanation SECRET), a cadre,
    and the bank's admin."""
    admin = make_user(roles=(Role.SYSTEM_ADMIN,))
    bank = make_bank(actor=admin)
    chapter = make_category(bank, "第一章")
    questions = {
        qtype: make_question(bank, qtype, actor=admin, status="active", category=chapter, explanation=SECRET)
        for qtype in ("single", "multiple", "truefalse", "fill", "essay")
    }
    qb.open_for_practice(admin, bank, True, now_utc())
    cadre = make_cadre().user
    _db.session.commit()
    return bank, chapter, questions, cadre, admin
