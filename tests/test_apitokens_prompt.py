"""Dates of `apitokens`: the YYYY-MM-DD parser, days from today, and one year later."""

from __future__ import annotations

from datetime import date

import pytest

from tokend_client.apitokens_prompt import date_in_days, one_year_after, parse_date


def test_parse_date_valid() -> None:
    assert parse_date("2031-05-17") == date(2031, 5, 17)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("20310517", "not a date of the form"),
        ("2031-W20-6", "not a date of the form"),
        ("2031-5-17", "not a date of the form"),
        ("2031-05-17\n", "not a date of the form"),
        (" 2031-05-17", "not a date of the form"),
        # Arabic-Indic digits, which a plain \d would accept.
        ("\u0662\u0660\u0663\u0661-\u0660\u0665-\u0661\u0667", "not a date of the form"),
        ("2031-02-29", "not a date in the calendar"),
        ("2031-13-01", "not a date in the calendar"),
        ("0000-01-01", "not a date in the calendar"),
    ],
)
def test_parse_date_invalid_raises(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_date(text)


def test_one_year_after_leap_day() -> None:
    assert one_year_after(date(2028, 2, 29)) == date(2029, 2, 28)


def test_one_year_after_ordinary_day() -> None:
    assert one_year_after(date(2030, 12, 31)) == date(2031, 12, 31)


def test_date_in_days() -> None:
    assert date_in_days(0, date(2030, 12, 31)) == date(2030, 12, 31)
    assert date_in_days(1, date(2030, 12, 31)) == date(2031, 1, 1)


def test_date_in_days_past_9999_raises() -> None:
    with pytest.raises(ValueError, match="after the year 9999"):
        date_in_days(10, date(9999, 12, 25))
