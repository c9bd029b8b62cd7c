"""Pictures of the PDFs the app hands out, for the README: docs/screenshots/pdf-*.png, rendered with poppler's
pdftoppm from the fixed samples of tests/pdf_samples.py (the data the PDF rendering test uses), so a rerun writes
the same bytes. Needs poppler-utils and a CJK font (make pdf-fonts).

    .venv/bin/python docs/make_pdf_screenshots.py
"""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from archive import documents as archive_documents  # noqa: E402
from config import TestConfig  # noqa: E402
from reports import documents as report_documents  # noqa: E402
from tests import pdf_samples  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
RESOLUTION = 80  # dots per inch: an A4 page is 661 × 935 pixels

#: name: (how to build it, the pages to show)
DOCUMENTS = {
    "report": (lambda: report_documents.report_pdf(*pdf_samples.report_inputs()), (1, 2)),
    "slip": (lambda: report_documents.slip_pdf(*pdf_samples.slip_inputs()), (1,)),
    "certificate": (lambda: archive_documents.certificate_pdf(*pdf_samples.certificate_inputs()), (1,)),
    "archive": (lambda: archive_documents.archive_pdf(*pdf_samples.archive_inputs()), (1, 2)),
}


def main() -> None:
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        sys.exit("pdftoppm not found: install poppler-utils (make pdf-fonts, as root)")
    config = type("ScreenshotConfig", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    app = create_app(config)
    with tempfile.TemporaryDirectory() as tmp, app.test_request_context():
        for name, (build, pages) in DOCUMENTS.items():
            pdf = Path(tmp) / f"{name}.pdf"
            pdf.write_bytes(build())
            for page in pages:
                target = OUT / f"pdf-{name}-{page}"
                args = ["-r", str(RESOLUTION), "-png", "-f", str(page), "-l", str(page), "-singlefile"]
                subprocess.run([pdftoppm, *args, pdf, target], check=True)  # noqa: S603  (our own file)
                print(f"{target.relative_to(ROOT)}.png")


if __name__ == "__main__":
    main()
