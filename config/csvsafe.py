"""Every CSV the product writes goes through here: no cell a spreadsheet would run as a formula.

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a formula by
Excel, LibreOffice and Google Sheets (an email address such as ``=HYPERLINK(...)@example.org`` in the audit
export). Per OWASP's "CSV Injection" advice such a cell is written with a leading ``'``, which the
spreadsheet shows as text. Numbers (int, float) are written as they are: ``-3`` is a number, not a formula.
Exports that must be byte-exact for a checker (the audit chain's hashes) are verified from JSON Lines.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """``value`` as a spreadsheet will read it as text: strings that start a formula get a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _SafeWriter:
    def __init__(self, writer: Any) -> None:
        self._writer = writer

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([csv_cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


class _SafeDictWriter:
    def __init__(self, writer: csv.DictWriter[str]) -> None:
        self._writer = writer

    def writeheader(self) -> Any:
        return self._writer.writeheader()

    def writerow(self, row: Mapping[str, Any]) -> Any:
        return self._writer.writerow({key: csv_cell(value) for key, value in row.items()})

    def writerows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(stream: Any, **kwargs: Any) -> _SafeWriter:
    """``csv.writer(stream)`` whose rows are neutralised cell by cell."""
    return _SafeWriter(csv.writer(stream, **kwargs))


def csv_dict_writer(stream: Any, fieldnames: list[str], **kwargs: Any) -> _SafeDictWriter:
    """``csv.DictWriter(stream, fieldnames)`` whose rows are neutralised cell by cell."""
    return _SafeDictWriter(csv.DictWriter(stream, fieldnames=fieldnames, **kwargs))
