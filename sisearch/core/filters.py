"""Metadata filters: parsed from `--where` or given as a dict, turned into parameterized SQL.

Field names never reach the SQL text: they travel as JSON-path parameters, and values
as ordinary parameters, so no filter can inject SQL.

    topic = 'health' and year >= 2020
    origin.page >= 3

A field is a key of the metadata the user gave, `source` or `line`, or `origin.KEY` for
what a document reader recorded (`origin.page`, `origin.heading`, ...).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidQuery
from ..language.text import lone_surrogate

COLUMNS = {"source", "line"}
ORIGIN_PREFIX = "origin."
_OPERATORS = {
    "=": "=",
    "==": "=",
    "!=": "!=",
    "<>": "!=",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
}
_CONDITION = re.compile(
    r"""\s*(?P<field>[^\s=!<>'"]+)\s*(?P<op>==|!=|<>|<=|>=|=|<|>)\s*
        (?:'(?P<single>(?:[^']|'')*)'|"(?P<double>(?:[^"]|"")*)"|(?P<number>-?\d+(?:\.\d+)?))\s*""",
    re.VERBOSE,
)
_AND = re.compile(r"and\s", re.IGNORECASE)
MAX_CONDITIONS = 32
MAX_VALUES = 1000  # in one {field: [values]} condition

Value = str | int | float


@dataclass(frozen=True)
class Condition:
    """One comparison of a field (a metadata key, `source` / `line` or `origin.KEY`) with a
    value."""

    field: str
    op: str
    value: Value | tuple[Value, ...]


@dataclass(frozen=True)
class Filter:
    """Conditions that all must hold."""

    conditions: tuple[Condition, ...]

    def sql(self, table: str = "documents", origin: str = "origin") -> tuple[str, list[Any]]:
        """A WHERE clause over `table` and its parameters; `origin` names the column of
        reader-recorded fields (`metadata` in an index from before it had one)."""
        clauses, params = [], []
        for c in self.conditions:
            if c.field in COLUMNS:
                subject, subject_params = f"{table}.{c.field}", []
            elif c.field.startswith(ORIGIN_PREFIX) and len(c.field) > len(ORIGIN_PREFIX):
                key = c.field[len(ORIGIN_PREFIX) :]
                subject, subject_params = f"json_extract({table}.{origin}, ?)", [_path(key)]
            else:
                subject, subject_params = f"json_extract({table}.metadata, ?)", [_path(c.field)]
            values = c.value if isinstance(c.value, tuple) else (c.value,)
            if any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                subject = f"CAST({subject} AS REAL)"
            if isinstance(c.value, tuple):
                clauses.append(f"{subject} IN ({','.join('?' * len(values))})")
            else:
                clauses.append(f"{subject} {c.op} ?")
            params.extend(subject_params + list(values))
        return " AND ".join(clauses) or "1", params


def parse_where(text: str) -> Filter:
    """Parse `field OP value [and field OP value]...`; InvalidQuery names what is wrong."""
    conditions = []
    position = 0
    text = text.strip()
    while True:
        match = _CONDITION.match(text, position)
        if not match:
            raise InvalidQuery(
                f"cannot read the filter at {text[position:]!r}: expected field OP value, e.g."
                " topic = 'health' (OP is one of = != < <= > >=; quote text values)"
            )
        if match["number"] is not None:
            number = match["number"]
            value: Value = float(number) if "." in number else int(number)
        elif match["single"] is not None:
            value = match["single"].replace("''", "'")
        else:
            value = match["double"].replace('""', '"')
        conditions.append(_checked(Condition(match["field"], _OPERATORS[match["op"]], value)))
        if len(conditions) > MAX_CONDITIONS:
            raise InvalidQuery(f"a filter has at most {MAX_CONDITIONS} conditions")
        position = match.end()
        if position >= len(text):
            return Filter(tuple(conditions))
        joiner = _AND.match(text, position)
        if not joiner:
            raise InvalidQuery(f"expected 'and' at {text[position:]!r} in the filter")
        position = joiner.end()


def as_filter(where: str | Mapping[str, Any] | Filter | None) -> Filter | None:
    """A Filter from `--where` text, a {field: value or [values]} dict, or None."""
    if where is None or isinstance(where, Filter):
        return where
    if isinstance(where, str):
        return parse_where(where) if where.strip() else None
    conditions = []
    for field, value in where.items():
        if '"' in field or not field:
            raise InvalidQuery(f"invalid filter field {field!r}")
        if isinstance(value, (list, tuple, set)):
            if len(value) > MAX_VALUES:
                raise InvalidQuery(f"filter field {field!r} has more than {MAX_VALUES} values")
            if not all(isinstance(v, (str, int, float)) for v in value):
                raise InvalidQuery(f"filter values for {field!r} must be text or numbers")
            conditions.append(_checked(Condition(field, "in", tuple(value))))
        elif isinstance(value, (str, int, float)):
            conditions.append(_checked(Condition(field, "=", value)))
        else:
            raise InvalidQuery(f"filter value for {field!r} must be text, a number or a list")
        if len(conditions) > MAX_CONDITIONS:
            raise InvalidQuery(f"a filter has at most {MAX_CONDITIONS} conditions")
    return Filter(tuple(conditions))


def fits_int64(value: int) -> bool:
    """Whether SQLite can bind the integer (a 64-bit signed one)."""
    return -(2**63) <= value < 2**63


def _checked(condition: Condition) -> Condition:
    """The condition, if SQLite can bind its field and values; InvalidQuery otherwise."""
    values = condition.value if isinstance(condition.value, tuple) else (condition.value,)
    found = lone_surrogate(condition.field) or lone_surrogate(list(values))
    if found:
        raise InvalidQuery(f"the filter holds a lone surrogate ({found}), which is not text")
    for value in values:
        if isinstance(value, int) and not fits_int64(value):
            raise InvalidQuery(f"filter number {value} is outside the 64-bit integer range")
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidQuery(f"filter number {value} is not a finite number")
    return condition


def _path(field: str) -> str:
    return f'$."{field}"'
