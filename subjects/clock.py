"""The statutory clock (Art 12(3)): one month from receipt, extendable by two further months."""

from __future__ import annotations

import calendar
from datetime import date, timedelta


def add_months(start: date, months: int) -> date:
    """Same calendar day ``months`` later; the month's last day when that day does not exist."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return date(year, month, day)


def due_on_receipt(received: date) -> date:
    return add_months(received, 1)


def extended_due(received: date, months: int) -> date:
    """Due date after an extension of ``months`` (1 or 2) further months, counted from receipt."""
    if months not in (1, 2):
        raise ValueError("An extension is one or two further months.")
    return add_months(received, 1 + months)


def after_pause(due: date, paused_days: int) -> date:
    """The clock stood still while clarification was awaited: the due date moves by those days."""
    return due + timedelta(days=paused_days)
