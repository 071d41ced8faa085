"""Lists as CSV files a spreadsheet opens safely.

Every list an official works from can be downloaded: the view builds its rows
the way its page does and answers :func:`csv_response`.  Each text cell goes
through :func:`spreadsheet_safe`, so a name such as ``=HYPERLINK(…)`` typed by a
provider or a resident is shown as text, never run as a formula (CSV injection,
OWASP).  Numbers, dates and ``None`` are written as values.  The file starts
with a UTF-8 byte-order mark, so Excel reads the Chinese correctly.

    return csv_response("complaints.csv", [_("Complaint"), _("Status")],
                        ((c.id, status_label(c.status)) for c in complaints))
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal

from flask import Response

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def spreadsheet_safe(value: str) -> str:
    """A text cell a spreadsheet will not run as a formula."""
    return "'" + value if value[:1] in _FORMULA_STARTS else value


def cell(value: object) -> object:
    """One CSV cell: text made safe, numbers kept, ``None`` empty, dates in ISO form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float, Decimal)):
        return value
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return spreadsheet_safe(str(value))


def csv_text(header: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([cell(h) for h in header])
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return out.getvalue()


def csv_response(filename: str, header: Sequence[object], rows: Iterable[Sequence[object]]) -> Response:
    """An attachment ``filename`` holding ``header`` and ``rows``."""
    return Response("\ufeff" + csv_text(header, rows), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "Cache-Control": "no-store"})
