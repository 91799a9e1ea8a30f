"""Numbers and dates the Brazilian way (``1.234,56``, ``27/11/2026``), without a system locale.

Percentages keep their sign on the same line as the number (a no-break space before ``%``).
"""

from __future__ import annotations

from datetime import date


def number(value: float | None, digits: int = 2) -> str:
    """``1234.5`` → ``1.234,50``; None → ``–``."""
    if value is None:
        return "–"
    text = f"{value:,.{digits}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def integer(value: float | None) -> str:
    """``12345`` → ``12.345``."""
    return number(value, 0)


def percent(value: float | None, digits: int = 1) -> str:
    """A percentage already in percent: ``23.456`` → ``23,5 %``."""
    return "–" if value is None else f"{number(value, digits)}\u00a0%"


def share(value: float | None, digits: int = 1) -> str:
    """A share (0–1) as a percentage: ``0.2345`` → ``23,5 %``."""
    return "–" if value is None else percent(100.0 * value, digits)


def signed_share(value: float | None, digits: int = 1) -> str:
    """A relative change as a signed percentage: ``-0.031`` → ``−3,1 %``."""
    if value is None:
        return "–"
    sign = "+" if value > 0 else "−" if value < 0 else ""
    return f"{sign}{number(abs(100.0 * value), digits)}\u00a0%"


def day(value: date) -> str:
    """``dd/mm/aaaa``."""
    return f"{value:%d/%m/%Y}"


def short_day(value: date) -> str:
    """``dd/mm`` (chart axes)."""
    return f"{value:%d/%m}"
