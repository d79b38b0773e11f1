"""The statutory clock: same day next month, month ends, leap years, extension, pause."""

from __future__ import annotations

from datetime import date

import pytest

from subjects import clock


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (date(2027, 1, 31), date(2027, 2, 28)),  # common year: no 31 February, so its last day
        (date(2028, 1, 31), date(2028, 2, 29)),  # leap year
        (date(2028, 1, 29), date(2028, 2, 29)),
        (date(2027, 1, 29), date(2027, 2, 28)),
        (date(2027, 3, 31), date(2027, 4, 30)),
        (date(2027, 12, 15), date(2028, 1, 15)),  # across the year end
        (date(2027, 5, 10), date(2027, 6, 10)),
    ],
)
def test_due_same_day_next_month_or_its_last_day(received, due):
    assert clock.due_on_receipt(received) == due


def test_extension_counts_further_months_from_receipt():
    assert clock.extended_due(date(2027, 1, 31), 1) == date(2027, 3, 31)
    assert clock.extended_due(date(2027, 1, 31), 2) == date(2027, 4, 30)
    assert clock.extended_due(date(2027, 11, 30), 2) == date(2028, 2, 29)
    with pytest.raises(ValueError):
        clock.extended_due(date(2027, 1, 1), 3)


def test_pause_moves_the_due_date_by_the_days_paused():
    assert clock.after_pause(date(2027, 2, 28), 3) == date(2027, 3, 3)
    assert clock.after_pause(date(2027, 2, 28), 0) == date(2027, 2, 28)
