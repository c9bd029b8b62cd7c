"""Fixtures of the .lrmx import's tests: a town, and an organisation-department admin who imports."""

import pytest

from tests.factories import make_unit, make_user


@pytest.fixture
def town(db):
    unit = make_unit("青山镇", code="QSZ", kind="town")
    db.session.commit()
    return unit


@pytest.fixture
def admin(db):
    user = make_user(username="orgadmin", roles=("org_admin",))
    db.session.commit()
    return user
