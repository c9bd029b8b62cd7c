"""Fixtures of the admin API's tests: a district with two towns, a system account for the district and one for a
town, and a helper that mints a token with chosen scopes."""

import pytest

from accounts import system
from core.models import now_utc
from core.policy import API_SCOPES
from tests.factories import make_cadre, make_unit, make_user

ALL_SCOPES = tuple(API_SCOPES)


class Systems:
    def __init__(self, db, client):
        self.db, self.client = db, client
        self.district_root = make_unit("区委", code="QW", kind="party_committee")
        self.town = make_unit("青山镇", code="QSZ", kind="town", parent=self.district_root)
        self.other_town = make_unit("绿水镇", code="LSZ", kind="town", parent=self.district_root)
        # The person who runs the integration is an organisation-department admin and a cadre too.
        self.operator = make_cadre(unit=self.district_root, roles=("cadre", "org_admin")).user
        self.district = system.create_account(self.operator, "hr-system", "人事系统", [], now_utc())
        self.town_account = system.create_account(self.operator, "qsz-hr", "青山镇人事", [self.town], now_utc())
        db.session.commit()

    def token(self, scopes=ALL_SCOPES, account=None) -> dict:
        value = system.mint_token(self.operator, account or self.district, "test", scopes, now_utc())
        self.db.session.commit()
        return {"Authorization": f"Bearer {value}"}

    def get(self, url, headers, **kwargs):
        return self.client.get(url, headers=headers, **kwargs)

    def put(self, url, headers, body):
        return self.client.put(url, headers=headers, json=body)


@pytest.fixture
def systems(db, client):
    return Systems(db, client)


def cadre_body(**overrides) -> dict:
    body = {"name": "李青山", "gender": "male", "birth_date": "1992-03-04", "unit": "QSZ", "rank": "staff",
            "position": "科员", "education": "bachelor", "political_status": "cpc_member"}  # fmt: skip
    body.update(overrides)
    return body


@pytest.fixture
def plain_user(db):
    user = make_user(roles=("cadre",))
    db.session.commit()
    return user
