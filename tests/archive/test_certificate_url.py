"""The certificate's verification link and QR code come from QE_PUBLIC_URL, never from the request's Host header."""

import io

import pytest
import segno
from PIL import Image, ImageChops
from pypdf import PdfReader

from accounts.models import RoleAssignment
from app import create_app
from config import Config, check_public_url
from core.policy import Role
from tests.archive.test_archive import _qualified, _text


def _qr_of(url: str) -> Image.Image:
    """The QR code the certificate would carry for `url`, drawn as documents.certificate_pdf draws it."""
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="png", scale=6, border=2)
    return Image.open(io.BytesIO(out.getvalue())).convert("L")


def _pdf_qr(pdf: bytes) -> Image.Image:
    (image,) = PdfReader(io.BytesIO(pdf)).pages[0].images
    return image.image.convert("L")


def _same_image(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and ImageChops.difference(a, b).getbbox() is None


def _on_forged_host(client, forged: str) -> dict:
    """Send the login's session cookie to the forged host too (the browser would: the look-alike name is what a
    proxy that passes Host through hands the app); returns the request's environ overrides."""
    cookie = client.get_cookie("qe_session")
    client.set_cookie("qe_session", cookie.value, domain=forged.split(":")[0])
    return {"HTTP_HOST": forged}


@pytest.mark.parametrize("forged", ["evil.example", "ks.example.gov.cn.evil.example:8443"])
def test_a_forged_host_header_changes_neither_the_link_nor_the_qr_code(app, db, client, auth, forged):
    app.config["PUBLIC_URL"] = "https://ks.example.gov.cn"
    cadre, qual = _qualified(db)
    auth.login(cadre.employee_number)
    url = f"/archive/qualifications/{qual.id}/certificate.pdf"
    response = client.get(url, environ_overrides=_on_forged_host(client, forged), headers={"X-Forwarded-Host": forged})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    expected = f"https://ks.example.gov.cn/verify/{qual.code}"
    text = _text(response.data)
    assert expected in text and "evil" not in text
    # The QR code is exactly the one for the configured address (and not the one for the forged host).
    qr = _pdf_qr(response.data)
    assert _same_image(qr, _qr_of(expected))
    assert not _same_image(qr, _qr_of(f"http://{forged}/verify/{qual.code}"))


def test_without_a_public_url_no_certificate_is_printed(app, db, client, auth):
    """Production (not debug) without QE_PUBLIC_URL: the holder, and an admin who is also a cadre, are told why."""
    app.config["PUBLIC_URL"] = ""
    cadre, qual = _qualified(db)
    url = f"/archive/qualifications/{qual.id}/certificate.pdf"
    auth.login(cadre.employee_number)
    response = client.get(url)
    html = response.get_data(as_text=True)
    assert response.status_code == 503 and response.mimetype == "text/html"
    assert "对外访问地址" in html and "QE_PUBLIC_URL" in html
    auth.logout()
    # The holder's own certificate, the holder also an org admin: the same refusal, not a PDF with a guessed host.
    cadre.user.roles.append(RoleAssignment(role=Role.ORG_ADMIN))
    db.session.commit()
    auth.login(cadre.employee_number)
    response = client.get(url, environ_overrides=_on_forged_host(client, "evil.example"))
    assert response.status_code == 503 and "对外访问地址" in response.get_data(as_text=True)


def test_in_development_the_requests_own_address_is_used(app, db, client, auth):
    app.config["PUBLIC_URL"] = ""
    app.debug = True
    try:
        cadre, qual = _qualified(db)
        auth.login(cadre.employee_number)
        response = client.get(f"/archive/qualifications/{qual.id}/certificate.pdf")
    finally:
        app.debug = False
    assert response.status_code == 200 and f"http://localhost/verify/{qual.code}" in _text(response.data)


def test_the_production_config_has_no_public_url_and_reads_qe_public_url(monkeypatch, tmp_path):
    assert Config.PUBLIC_URL == ""
    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    monkeypatch.delenv("QE_PUBLIC_URL", raising=False)
    assert "PUBLIC_URL" not in Config.from_env(str(tmp_path))
    monkeypatch.setenv("QE_PUBLIC_URL", "https://ks.example.gov.cn/")
    assert Config.from_env(str(tmp_path))["PUBLIC_URL"] == "https://ks.example.gov.cn"
    monkeypatch.setenv("QE_PUBLIC_URL", "https://ks.example.gov.cn@evil.example")
    with pytest.raises(ValueError, match="QE_PUBLIC_URL"):
        create_app()


GOOD = {
    "https://ks.example.gov.cn": "https://ks.example.gov.cn",
    "https://ks.example.gov.cn/": "https://ks.example.gov.cn",
    "http://127.0.0.1:5000": "http://127.0.0.1:5000",
    "http://[2001:db8::1]:8080": "http://[2001:db8::1]:8080",
}
BAD = [
    "",
    "ks.example.gov.cn",
    "//ks.example.gov.cn",
    "ftp://ks.example.gov.cn",
    "javascript:alert(1)",
    "https://ks.example.gov.cn@evil.example",
    "https://user:pw@ks.example.gov.cn",
    "https://ks.example.gov.cn/qualexam",
    "https://ks.example.gov.cn/..",
    "https://ks.example.gov.cn?next=evil",
    "https://ks.example.gov.cn#x",
    "https://ks.example.gov.cn\\@evil.example",
    "https://ks.example .gov.cn",
    "https://ks.example.gov.cn\n.evil",
    "https://ks_example.gov.cn",
    "https://ks.example.gov.cn:99999",
    "https://",
]


def test_the_public_url_is_validated():
    for value, normal in GOOD.items():
        assert check_public_url(value) == normal
    for value in BAD:
        with pytest.raises(ValueError):
            check_public_url(value)
            pytest.fail(value)
