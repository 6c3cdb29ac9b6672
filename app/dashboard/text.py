"""How the pages write times and numbers.

Times are commit times (seconds since the epoch, UTC). The layering keeps `datetime` in the
wiring (tests/test_architecture.py: the clock is passed in), so the date is computed here from
the day number (Howard Hinnant's days-to-civil algorithm, proleptic Gregorian calendar).
"""
from __future__ import annotations

DAY = 86_400


def civil_date(days: int) -> tuple[int, int, int]:
    """Year, month, day of the day `days` after 1970-01-01."""
    days += 719_468
    era = (days if days >= 0 else days - 146_096) // 146_097
    day_of_era = days - era * 146_097
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36_524
                   - day_of_era // 146_096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    month_index = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * month_index + 2) // 5 + 1
    month = month_index + 3 if month_index < 10 else month_index - 9
    return year_of_era + era * 400 + (month <= 2), month, day


def utc_text(timestamp: float | None) -> str:
    """A commit time as `YYYY-MM-DD HH:MM:SS UTC` ("—" for none)."""
    if timestamp is None:
        return "—"
    seconds = int(timestamp)
    year, month, day = civil_date(seconds // DAY)
    left = seconds % DAY
    return (f"{year:04d}-{month:02d}-{day:02d} "
            f"{left // 3600:02d}:{left % 3600 // 60:02d}:{left % 60:02d} UTC")


def duration_text(seconds: float | None) -> str:
    """A lease's time left, e.g. `in 1 m 05 s` or `3 s ago`."""
    if seconds is None:
        return "—"
    whole = int(abs(seconds))
    amount = f"{whole // 60} m {whole % 60:02d} s" if whole >= 60 else f"{whole} s"
    return f"in {amount}" if seconds >= 0 else f"{amount} ago"


def perf_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"
