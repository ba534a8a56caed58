"""Atomic predicates shared by every evaluator (the compiled one's generated code calls them
too), so they cannot drift apart."""

from __future__ import annotations


def compare(op: str, actual: float, bound: float) -> bool:
    if op == ">=":
        return actual >= bound
    if op == ">":
        return actual > bound
    if op == "<=":
        return actual <= bound
    return actual < bound


def within(region: str, container: str) -> bool:
    """True when `region` is `container` or lies below it (甘肃省/平凉市 within 甘肃省)."""
    return region == container or region.startswith(container.rstrip("/") + "/")


def contains(text: str, phrases: tuple[str, ...]) -> bool:
    return any(p in text for p in phrases)


def in_industry(text: str, spellings: tuple[str, ...]) -> bool:
    """True when an industry value, trimmed, is a code or exact name of a class the test
    covers (the checker lists them all, dsl.industry). Free text never is: 化工装备制造 is
    machinery, not C26, although it says 化工."""
    return text.strip() in spellings
