"""What every importer reports: problems that name the row (or line), the column or field, and what is wrong."""

import sys
from dataclasses import dataclass

import click
from flask_babel import gettext as _


@dataclass
class ImportIssue:
    row: int | None  # 1-based row of a sheet, or line of a text file
    column: str | None  # column letter in a sheet, e.g. "C"
    header: str | None  # the column's header or the field's name
    message: str
    is_line: bool = False  # a line of a text file rather than a row of a sheet

    def __str__(self) -> str:
        if self.row and self.is_line:
            if self.header:
                return _("Line %(row)d, %(field)s: %(msg)s", row=self.row, field=self.header, msg=self.message)
            return _("Line %(row)d: %(msg)s", row=self.row, msg=self.message)
        if self.row and self.column and not self.header:
            return _("Row %(row)d, column %(col)s: %(msg)s", row=self.row, col=self.column, msg=self.message)
        if self.row and self.column:
            return _(
                "Row %(row)d, column %(col)s (%(header)s): %(msg)s",
                row=self.row,
                col=self.column,
                header=self.header,
                msg=self.message,
            )
        if self.row and self.header:
            return _("Row %(row)d (%(header)s): %(msg)s", row=self.row, header=self.header, msg=self.message)
        if self.row:
            return _("Row %(row)d: %(msg)s", row=self.row, msg=self.message)
        return self.message

    def sort_key(self):
        return (self.row or 0, len(self.column or ""), self.column or "")


def nul_issue(text: str) -> ImportIssue | None:
    """A "text" file holding NUL characters is none (UTF-16, or a binary file renamed); no database stores them."""
    if "\x00" not in text:
        return None
    line = text[: text.index("\x00")].count("\n") + 1
    message = _("The file holds NUL characters: it is not UTF-8 or GB18030 text (UTF-16 is not read).")
    return ImportIssue(line, None, None, message, is_line=True)


def issues_text(issues, limit: int = 20) -> str:
    """The problems of a file in one text (a failed import job's reason), the first `limit` of them."""
    lines = [str(issue) for issue in issues[:limit]]
    if len(issues) > limit:
        lines.append(_("…and %(n)d more.", n=len(issues) - limit))
    return "\n".join([_("The file was not imported: %(n)d problem(s) found", n=len(issues)), *lines])


def exit_on_issues(issues) -> None:
    """For import commands: print every problem and exit with status 1 (nothing was written); no-op without any."""
    if not issues:
        return
    for issue in issues:
        click.echo(str(issue), err=True)
    click.echo(f"{len(issues)} problem(s) found; nothing was imported.", err=True)
    sys.exit(1)
