"""The vocabulary of spec validation: :class:`SpecError` and the small checks every table of a
run spec goes through (unknown keys with a suggestion, value types, finite numbers)."""

from __future__ import annotations

import difflib
import math


__all__ = ["SpecError"]


class SpecError(ValueError):
    """A run spec that cannot be run, with the place in the spec that is wrong."""


def _suggest(key: str, allowed) -> str:
    close = difflib.get_close_matches(key, list(allowed), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _check_keys(table: dict, allowed, where: str) -> None:
    for key in table:
        if key not in allowed:
            raise SpecError(f"{where}: unknown key {key!r}{_suggest(key, allowed)} "
                            f"(allowed: {', '.join(allowed)})")


def _expect(value, types, where: str, what: str):
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise SpecError(f"{where} must be {what}, got {value!r}")
    if not isinstance(value, types):
        raise SpecError(f"{where} must be {what}, got {value!r}")
    return value


def _as_list(value, where: str, item_types, what: str) -> list:
    items = value if isinstance(value, list) else [value]
    for item in items:
        _expect(item, item_types, where, what)
    return items


def _finite_list(value, where: str, what: str) -> list:
    """A number or list of numbers, none of them NaN or infinite (TOML allows nan and inf)."""
    items = _as_list(value, where, (int, float), what)
    for item in items:
        if not math.isfinite(item):
            raise SpecError(f"{where} must be {what}, got {item}")
    return items
