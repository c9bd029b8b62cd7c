"""Rich text of questions: sanitised with nh3 to a small tag set; images only from the app's own image store."""

import html
import re

import nh3

ALLOWED_TAGS = {"p", "br", "strong", "b", "em", "i", "u", "sub", "sup", "ul", "ol", "li", "img", "span", "code"}
ALLOWED_ATTRIBUTES = {"img": {"src", "alt", "width", "height"}}
#: Where uploaded question images are served; any other image source is dropped.
IMAGE_URL_PREFIX = "/banks/images/"
_IMAGE_SRC_RE = re.compile(r"^/banks/images/[0-9a-f]{64}\.(png|jpg|gif|webp)$")
# No whitespace after "<": an HTML tag cannot start with it, and "<\s*" would backtrack quadratically on "<     …".
_TAG_RE = re.compile(r"</?(p|br|strong|b|em|i|u|sub|sup|ul|ol|li|img|span|code)\b", re.IGNORECASE)
#: C0 control characters other than tab and line breaks (Word's vertical tab, pasted junk): xlsx cannot hold them.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BLOCK_END_RE = re.compile(r"</p\s*>|<br\s*/?>|</li\s*>", re.IGNORECASE)


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src":
        return value if _IMAGE_SRC_RE.match(value) else None
    if attribute in {"width", "height"}:
        return value if value.isascii() and value.isdigit() and int(value) <= 2000 else None
    if tag == "img" and attribute == "alt":
        return value.replace("_", " ")  # underscores in an attribute must never look like a fill-in blank
    return None  # no other attribute (nh3's default title/lang included)


def sanitize(markup: str) -> str:
    """Clean HTML from an author (editor or import): allowed tags only, no scripts, no foreign images."""
    cleaned = nh3.clean(
        strip_controls(markup or ""),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_filter_attribute,
        url_schemes=set(),
        link_rel=None,
    )
    # An <img> whose src was refused is useless; drop it.
    return re.sub(r"<img(?![^>]*\bsrc=)[^>]*>", "", cleaned).strip()


def strip_controls(text: str) -> str:
    return _CONTROL_RE.sub("", text)


def from_text(text: str) -> str:
    """Plain text (a spreadsheet cell) as safe HTML: escaped, line breaks kept."""
    lines = strip_controls(str(text or "")).strip().replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "<br>".join(html.escape(line, quote=False) for line in lines)


_WRAPPED_RE = re.compile(r"^<span>([^<]*)</span>$")


def from_cell(text: str) -> str:
    """A cell may hold plain text or (from our own exports) HTML: treat it as HTML only when it has our tags."""
    text = str(text or "")
    if not _TAG_RE.search(text):
        return from_text(text)
    cleaned = sanitize(text)
    wrapped = _WRAPPED_RE.match(cleaned)  # see to_cell: text that only looks like a tag
    return wrapped.group(1) if wrapped else cleaned


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
    """What an export writes into a cell: plain text when that loses nothing, else the HTML itself.

    Plain text that merely looks like a tag ("<b") is written as HTML in a <span>, which from_cell unwraps.
    """
    if is_plain(markup):
        text = to_text(markup)
        if not _TAG_RE.search(text):
            return text
        if "<" not in markup:
            return f"<span>{markup}</span>"
    return markup
