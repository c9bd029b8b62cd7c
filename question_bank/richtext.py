"""Rich text of questions: sanitised with nh3 to a small tag set; images only from the app's own image store."""

import html
import re

import nh3

ALLOWED_TAGS = {"p", "br", "strong", "b", "em", "i", "u", "sub", "sup", "ul", "ol", "li", "img", "span", "code"}
ALLOWED_ATTRIBUTES = {"img": {"src", "alt", "width", "height"}}
#: Where uploaded question images are served; any other image source is dropped.
IMAGE_URL_PREFIX = "/banks/images/"
_IMAGE_SRC_RE = re.compile(r"^/banks/images/[0-9a-f]{64}\.(png|jpg|gif|webp)$")
_TAG_RE = re.compile(r"<\s*/?\s*(p|br|strong|b|em|i|u|sub|sup|ul|ol|li|img|span|code)\b", re.IGNORECASE)
_BLOCK_END_RE = re.compile(r"</p\s*>|<br\s*/?>|</li\s*>", re.IGNORECASE)


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src":
        return value if _IMAGE_SRC_RE.match(value) else None
    if attribute in {"width", "height"}:
        return value if value.isdigit() and int(value) <= 2000 else None
    return value


def sanitize(markup: str) -> str:
    """Clean HTML from an author (editor or import): allowed tags only, no scripts, no foreign images."""
    cleaned = nh3.clean(
        markup or "",
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_filter_attribute,
        url_schemes=set(),
        link_rel=None,
    )
    # An <img> whose src was refused is useless; drop it.
    return re.sub(r"<img(?![^>]*\bsrc=)[^>]*>", "", cleaned).strip()


def from_text(text: str) -> str:
    """Plain text (a spreadsheet cell) as safe HTML: escaped, line breaks kept."""
    lines = str(text or "").strip().replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "<br>".join(html.escape(line, quote=False) for line in lines)


def from_cell(text: str) -> str:
    """A cell may hold plain text or (from our own exports) HTML: treat it as HTML only when it has our tags."""
    text = str(text or "")
    return sanitize(text) if _TAG_RE.search(text) else from_text(text)


def to_text(markup: str) -> str:
    """Plain text of sanitised HTML (line breaks kept), for search, duplicates and text formats."""
    text = _BLOCK_END_RE.sub("\n", markup or "")
    text = re.sub(r"<img[^>]*>", "[图片]", text)
    text = re.sub(r"<[^>]+>", "", text)
    return html.unescape(text).strip()


def is_plain(markup: str) -> bool:
    """True when the HTML says nothing beyond its text and line breaks (so a text cell can carry it exactly)."""
    return from_text(to_text(markup)) == (markup or "").strip()


def to_cell(markup: str) -> str:
    """What an export writes into a cell: plain text when that loses nothing, else the HTML itself."""
    return to_text(markup) if is_plain(markup) else markup
