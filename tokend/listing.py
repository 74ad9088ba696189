"""Sorting, filtering and pagination of `Tokens::list` results, with UAPI's `api.*` parameters.

Strings sort by their case-folded form with ties broken by the exact text, so `Deploy` sorts
next to `deploy` and the order never depends on the database. A null `expires_at` (never
expires) sorts after every time and counts as greater than any time in `lt` and `gt` filters.
Every sort ends with the name, so equal keys keep a stable, documented order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import InvalidParameterError, UapiError
from .names import scalar_text

Entry = dict[str, Any]

SORTABLE_COLUMNS = (
    "name",
    "create_time",
    "expires_at",
    "has_full_access",
    "expired",
    "expiring_soon",
)
FILTER_TYPES = ("contains", "eq", "begins", "lt", "gt")
_WHOLE_NUMBER = re.compile(r"[0-9]{1,19}\Z")


class ListParameterError(UapiError, ValueError):
    """Two `api.*` list parameters do not fit together."""

    def __init__(self, param: str, needs: str) -> None:
        super().__init__(f'The parameter "{param}" needs "{needs}" as well; add it.')


@dataclass(frozen=True)
class ListView:
    """The checked `api.sort_*`, `api.filter_*` and `api.paginate_*` settings of one call."""

    sort_column: str = "name"
    sort_reverse: bool = False
    filter_column: str | None = None
    filter_type: str = "contains"
    filter_term: str = ""
    page_size: int | None = None
    page_start: int = 1

    @classmethod
    def from_params(cls, params: Mapping[str, object]) -> ListView:
        """Check the generic list parameters; raise `UapiError` naming a bad one."""
        settings: dict[str, Any] = {}
        if "api.sort_column" in params:
            settings["sort_column"] = _choice("api.sort_column", params, SORTABLE_COLUMNS)
        if "api.sort_reverse" in params:
            settings["sort_reverse"] = _flag("api.sort_reverse", params["api.sort_reverse"])

        filter_keys = ("api.filter_column", "api.filter_type", "api.filter_term")
        if any(key in params for key in filter_keys):
            if "api.filter_column" not in params:
                present = next(key for key in filter_keys if key in params)
                raise ListParameterError(present, "api.filter_column")
            settings["filter_column"] = _choice("api.filter_column", params, SORTABLE_COLUMNS)
            if "api.filter_type" in params:
                settings["filter_type"] = _choice("api.filter_type", params, FILTER_TYPES)
            if "api.filter_term" not in params:
                raise ListParameterError("api.filter_column", "api.filter_term")
            settings["filter_term"] = scalar_text(
                "api.filter_term", params["api.filter_term"], "use a string or a number"
            )

        if "api.paginate_start" in params and "api.paginate_size" not in params:
            raise ListParameterError("api.paginate_start", "api.paginate_size")
        if "api.paginate_size" in params:
            settings["page_size"] = _count("api.paginate_size", params["api.paginate_size"])
        if "api.paginate_start" in params:
            settings["page_start"] = _count("api.paginate_start", params["api.paginate_start"])

        view = cls(**settings)
        view.check_filter_term()
        return view

    def check_filter_term(self) -> None:
        numeric = self.filter_column not in (None, "name")
        comparison = self.filter_type in ("eq", "lt", "gt")
        if numeric and comparison and not _WHOLE_NUMBER.match(self.filter_term):
            raise InvalidParameterError(
                "api.filter_term",
                self.filter_term,
                f'the column "{self.filter_column}" holds numbers, so '
                f'"{self.filter_type}" needs a whole number',
            )

    def apply(self, entries: list[Entry]) -> tuple[list[Entry], dict[str, Any]]:
        """Filter, sort and paginate `entries`; return them with the UAPI `metadata`."""
        metadata: dict[str, Any] = {"transformed": 1}

        if self.filter_column is not None:
            metadata["records_before_filter"] = len(entries)
            keep = _filter_predicate(self.filter_column, self.filter_type, self.filter_term)
            entries = [entry for entry in entries if keep(entry)]

        entries = sorted(entries, key=lambda entry: _sort_key(entry, self.sort_column))
        if self.sort_reverse:
            entries.reverse()

        if self.page_size is not None:
            total = len(entries)
            first = self.page_start - 1
            metadata["paginate"] = {
                "current_page": first // self.page_size + 1,
                "results_per_page": self.page_size,
                "start_result": self.page_start,
                "total_pages": max(1, math.ceil(total / self.page_size)),
                "total_results": total,
            }
            entries = entries[first : first + self.page_size]

        return entries, metadata


def _sort_key(entry: Entry, column: str) -> tuple[Any, ...]:
    name_key = (entry["name"].casefold(), entry["name"])
    return (*_value_key(entry[column]), *name_key)


def _value_key(value: object) -> tuple[Any, ...]:
    if value is None:
        return (1, 0, "")
    if isinstance(value, str):
        return (0, value.casefold(), value)
    return (0, value, "")


def _filter_predicate(column: str, kind: str, term: str) -> Callable[[Entry], bool]:
    if kind == "contains":
        return lambda entry: term.casefold() in _text(entry[column]).casefold()
    if kind == "begins":
        return lambda entry: _text(entry[column]).casefold().startswith(term.casefold())
    if column == "name":
        target = (term.casefold(), term)
        if kind == "eq":
            return lambda entry: entry["name"] == term
        if kind == "lt":
            return lambda entry: (entry["name"].casefold(), entry["name"]) < target
        return lambda entry: (entry["name"].casefold(), entry["name"]) > target

    number = int(term)
    if kind == "eq":
        return lambda entry: entry[column] == number
    if kind == "lt":
        return lambda entry: entry[column] is not None and entry[column] < number
    # A null expiry means never, which is later than any time.
    return lambda entry: entry[column] is None or entry[column] > number


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _choice(param: str, params: Mapping[str, object], choices: tuple[str, ...]) -> str:
    rule = f"use one of {', '.join(choices)}"
    value = scalar_text(param, params[param], rule)
    if value not in choices:
        raise InvalidParameterError(param, value, rule)
    return value


def _flag(param: str, value: object) -> bool:
    text = scalar_text(param, value, "use 1 or 0")
    if text not in ("0", "1"):
        raise InvalidParameterError(param, value, "use 1 or 0")
    return text == "1"


def _count(param: str, value: object) -> int:
    rule = "use a whole number of at least 1"
    text = scalar_text(param, value, rule)
    if not _WHOLE_NUMBER.match(text) or int(text) < 1:
        raise InvalidParameterError(param, value, rule)
    return int(text)
