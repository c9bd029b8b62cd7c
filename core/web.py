"""Small helpers the views of several packages share: URL converters and integer arguments bounded by what a
column holds, file downloads and pages of multi-column queries."""

import builtins
import re
from urllib.parse import quote

from flask import Response, current_app, has_request_context, request, url_for
from sqlalchemy import func, select
from werkzeug.routing import IntegerConverter, ValidationError

from core.extensions import db
from core.models import MAX_INT

#: Years a page may be about (plans, assessments, year tables): date() needs 1..9999, and nothing older or later
#: is on record.
MIN_YEAR, MAX_YEAR = 1900, 2100


class BoundedIntConverter(IntegerConverter):
    """`<int:…>` in every route: a value past what an Integer column holds names nothing, so the route answers 404
    (as for a non-number) instead of handing the database a number it cannot compare (a 500 on PostgreSQL).
    Registered as "int" by the app factory, so every rule is covered, including `<int(max=…):…>`."""

    def __init__(self, url_map, fixed_digits=0, min=None, max=None, signed=False):  # noqa: A002  (werkzeug's names)
        top = MAX_INT if max is None else builtins.min(max, MAX_INT)
        bottom = -MAX_INT - 1 if min is None and signed else min
        super().__init__(url_map, fixed_digits=fixed_digits, min=bottom, max=top, signed=signed)

    def to_python(self, value: str):
        # Never parse a thousand digits; and only ASCII digits ("\\d" also matches "٣", which int() reads as 3).
        if len(value.lstrip("-")) > len(str(MAX_INT)) or not value.isascii():
            raise ValidationError()
        return super().to_python(value)


class YearConverter(BoundedIntConverter):
    """`<year:year>`: a calendar year between MIN_YEAR and MAX_YEAR; any other number is 404 (year 0 would fail in
    date())."""

    def __init__(self, url_map):
        super().__init__(url_map, fixed_digits=4, min=MIN_YEAR, max=MAX_YEAR)


def register_converters(app) -> None:
    """Before any blueprint: rules pick their converters when they are added."""
    app.url_map.converters["int"] = BoundedIntConverter
    app.url_map.converters["year"] = YearConverter


def db_int(value) -> int:
    """int() for request arguments that reach the database: `request.args.get("page", 1, type=db_int)`. A value
    past an Integer column's range raises ValueError like any other non-number, so `get` falls back to its default
    (and `getlist` leaves it out)."""
    text = str(value).strip()
    if not text or len(text.lstrip("+-")) > len(str(MAX_INT)) or not text.lstrip("+-").isascii():
        raise ValueError(value)
    number = int(text)
    if not -MAX_INT - 1 <= number <= MAX_INT:
        raise ValueError(value)
    return number


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = "application/pdf"


def download(data: bytes, mimetype: str, filename: str) -> Response:
    """A file to save (never cached: exports hold personal data)."""
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": attachment(filename),
                                                      "Cache-Control": "no-store"})  # fmt: skip


def attachment(filename: str) -> str:
    """Content-Disposition for `filename`: a plain name as it is; any other (Chinese, spaces, quotes, semicolons) as
    RFC 6266's filename*, with a quoted ASCII fallback, so no name can add a parameter of its own."""
    if _PLAIN_NAME.fullmatch(filename):
        return f"attachment; filename={filename}"
    fallback = "".join(ch if _PLAIN_NAME.fullmatch(ch) or ch == " " else "_" for ch in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


#: A file name sent as it is (anything else goes quoted, with its own characters as RFC 6266's filename*).
_PLAIN_NAME = re.compile(r"[A-Za-z0-9._-]+")


def page_arg() -> int:
    """The page number a list asks for (`?page=`); 1 when it is missing or no number a column holds. Pass it to
    db.paginate, which would otherwise read `page` itself and hand the database an offset past any integer."""
    return request.args.get("page", 1, type=db_int)


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


def path_for(endpoint: str, **values) -> str:
    """`url_for` that also works where no request is (a job run by a worker): the path of the page, for a link."""
    if has_request_context():
        return url_for(endpoint, **values)
    with current_app.test_request_context():
        return url_for(endpoint, **values)
