"""Small helpers the views of several packages share: file downloads and pages of multi-column queries."""

from flask import Response
from sqlalchemy import func, select

from core.extensions import db

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = "application/pdf"


def download(data: bytes, mimetype: str, filename: str) -> Response:
    """A file to save (never cached: exports hold personal data)."""
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": f"attachment; filename={filename}",
                                                      "Cache-Control": "no-store"})  # fmt: skip


class RowPage:
    """One page of a multi-column query (db.paginate yields only the first column), with what the pager reads."""

    def __init__(self, query, page: int, per_page: int):
        self.total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
        self.pages = max(1, -(-self.total // per_page))
        self.page = min(max(1, page), self.pages)
        self.items = db.session.execute(query.limit(per_page).offset((self.page - 1) * per_page)).all()
        self.has_prev, self.has_next = self.page > 1, self.page < self.pages
        self.prev_num, self.next_num = self.page - 1, self.page + 1


class WindowPage:
    """One page of a query that counts its own rows in a window (a column `total_column` = COUNT(*) OVER ()), so
    that the total costs no second pass over the rows. Past the last page it falls back to the last page."""

    def __init__(self, query, page: int, per_page: int, total_column: str = "shown"):
        self.page = max(1, page)
        self.items = db.session.execute(query.limit(per_page).offset((self.page - 1) * per_page)).all()
        if self.items:
            self.total = getattr(self.items[0], total_column)
        else:
            self.total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
            if self.total and self.page > 1:
                self.page = -(-self.total // per_page)
                self.items = db.session.execute(query.limit(per_page).offset((self.page - 1) * per_page)).all()
        self.pages = max(1, -(-self.total // per_page))
        self.has_prev, self.has_next = self.page > 1, self.page < self.pages
        self.prev_num, self.next_num = self.page - 1, self.page + 1
