"""Longhorn's cron dialect: robfig/cron v1.2.0 ``ParseStandard``.

Longhorn v1.12.1 checks ``RecurringJob.spec.cron`` with ``cron.ParseStandard`` from
github.com/robfig/cron v1.2.0 and copies the string unchanged into the CronJob schedule
(see shared/longhorn/recurring-jobs.md §2 "Cron"). This module accepts exactly what that
parser accepts and computes run times the way its schedules fire:

* exactly 5 whitespace-separated fields: minute (0-59), hour (0-23), day-of-month (1-31),
  month (1-12 or JAN-DEC), day-of-week (0-6 or SUN-SAT; 7 is refused); names in any case;
* per field a comma-separated list of ranges: ``*``, ``?`` (same as ``*``, in any field),
  ``N``, ``A-B``, ``*/S``, ``A-B/S`` and ``N/S`` (robfig reads it as ``N-max/S``); numbers
  parse like Go's ``strconv.Atoi`` (``+5`` and ``05`` are fine); empty list items are
  dropped, so ``1,,2`` is ``1,2``;
* the descriptors ``@yearly @annually @monthly @weekly @daily @midnight @hourly``, spelled
  exactly (lowercase, no surrounding space);
* ``@every <Go duration>`` (``time.ParseDuration``: ``1h30m``, ``90s``, ``1.5h``, ``300ms``,
  ``-1h``). Like robfig's ``Every``, a duration below 1s becomes 1s (0 and negative
  included) and a fractional second is truncated; ``CronSchedule.every`` is that effective
  delay and ``CronSchedule.warnings`` says when it differs from what was written;
* nothing else: no seconds field, no ``L``/``W``/``#``, no ``TZ=``/``CRON_TZ=`` prefix.

Day matching follows robfig (and Vixie cron): when the day-of-month or the day-of-week
field starts with ``*`` or ``?`` (``*/2`` included) a day must match both fields, otherwise
a day matching either field is enough. Run times are computed in UTC, the time zone the
CronJob runs in on a usual cluster (Longhorn sets no ``timeZone``).

Error messages are robfig's own wording, followed in parentheses by a hint where the
robfig text alone does not tell the user what to do.
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_left, bisect_right
from calendar import monthrange
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import MAXYEAR, MINYEAR, UTC, datetime, timedelta
from functools import cached_property, lru_cache

from cron_descriptor import DescriptionTypeEnum, ExpressionDescriptor, Options

__all__ = [
    "DESCRIPTORS",
    "CronError",
    "CronSchedule",
    "describe",
    "format_utc",
    "parse",
]

logger = logging.getLogger(__name__)

DESCRIPTORS: tuple[str, ...] = (
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
    "@every",
)
"""The descriptors Longhorn accepts; ``@every`` needs a Go duration after one space."""

# robfig's Next() gives up when no time matches within five years and returns the zero time.
_YEAR_LIMIT = 5
_EVERY_PREFIX = "@every "
_NANOS_PER_SECOND = 1_000_000_000
_MAX_INT64 = (1 << 63) - 1

_DESCRIPTOR_FIELDS: dict[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_DESCRIPTOR_SENTENCES: dict[str, str] = {
    "@yearly": "Once a year, at 00:00 on 1 January",
    "@annually": "Once a year, at 00:00 on 1 January",
    "@monthly": "Once a month, at 00:00 on day 1",
    "@weekly": "Once a week, at 00:00 on Sunday",
    "@daily": "Once a day, at 00:00",
    "@midnight": "Once a day, at 00:00",
    "@hourly": "Once an hour, at minute 0",
}


class CronError(ValueError):
    """A cron expression Longhorn would refuse, or a schedule with no run.

    ``str(error)`` is the message for the user. ``robfig`` holds robfig/cron's own text
    (what the Longhorn webhook would say after "invalid cron format(...)"), ``hint`` the
    extra advice, if any.
    """

    def __init__(self, robfig: str, hint: str | None = None) -> None:
        self.robfig = robfig
        self.hint = hint
        super().__init__(f"{robfig} ({hint})" if hint else robfig)


# ---------------------------------------------------------------------------------------
# Go compatibility helpers


# unicode.IsSpace in Go; Python's str.split() also splits on U+001C..U+001F, Go does not.
_GO_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)


def _go_fields(text: str) -> list[str]:
    """strings.Fields: split on runs of Go white space, dropping empty pieces."""
    out: list[str] = []
    current: list[str] = []
    for char in text:
        if char in _GO_SPACE:
            if current:
                out.append("".join(current))
                current = []
        else:
            current.append(char)
    if current:
        out.append("".join(current))
    return out


def _go_lower(text: str) -> str:
    """strings.ToLower (simple case mapping: U+0130 becomes a plain ``i``)."""
    return "".join("i" if char == "\u0130" else char.lower() for char in text)


def _strconv_quote(text: str) -> str:
    """Close enough to Go's strconv.Quote for error messages."""
    out = ['"']
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


def _time_quote(text: str) -> str:
    """The time package's quote(): non-ASCII and control bytes as \\xNN."""
    out = ['"']
    for char in text:
        if ord(char) >= 0x80 or char < " ":
            out.extend(f"\\x{byte:02x}" for byte in char.encode("utf-8", "surrogatepass"))
        else:
            if char in '"\\':
                out.append("\\")
            out.append(char)
    out.append('"')
    return "".join(out)


_ATOI = re.compile(r"[+-]?[0-9]+")


def _atoi(text: str) -> int:
    """strconv.Atoi on a 64-bit platform; raises CronError with robfig's wrapping."""
    if not _ATOI.fullmatch(text):
        raise CronError(
            f"Failed to parse int from {text}: strconv.Atoi: parsing {_strconv_quote(text)}: invalid syntax"
        )
    value = int(text)
    if not -_MAX_INT64 - 1 <= value <= _MAX_INT64:
        raise CronError(
            f"Failed to parse int from {text}: strconv.Atoi: parsing {_strconv_quote(text)}: "
            "value out of range"
        )
    return value


_DURATION_UNITS: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek small letter mu
    "ms": 1_000_000,
    "s": _NANOS_PER_SECOND,
    "m": 60 * _NANOS_PER_SECOND,
    "h": 3600 * _NANOS_PER_SECOND,
}


def _parse_go_duration(text: str) -> int:
    """time.ParseDuration: returns nanoseconds, raises ValueError with Go's message."""
    original = text
    invalid = f"time: invalid duration {_time_quote(original)}"
    negative = False
    if text and text[0] in "+-":
        negative = text[0] == "-"
        text = text[1:]
    if text == "0":
        return 0
    if not text:
        raise ValueError(invalid)
    total = 0
    while text:
        if not (text[0] == "." or "0" <= text[0] <= "9"):
            raise ValueError(invalid)
        # [0-9]*
        index = 0
        whole = 0
        while index < len(text) and "0" <= text[index] <= "9":
            whole = whole * 10 + ord(text[index]) - 48
            if whole > 1 << 63:
                raise ValueError(invalid)
            index += 1
        has_whole = index > 0
        text = text[index:]
        # (\.[0-9]*)?
        fraction = 0
        scale = 1.0
        has_fraction = False
        if text.startswith("."):
            text = text[1:]
            index = 0
            overflow = False
            while index < len(text) and "0" <= text[index] <= "9":
                if not overflow:
                    candidate = fraction * 10 + ord(text[index]) - 48
                    if fraction > _MAX_INT64 // 10 or candidate > 1 << 63:
                        overflow = True
                    else:
                        fraction = candidate
                        scale *= 10
                index += 1
            has_fraction = index > 0
            text = text[index:]
        if not has_whole and not has_fraction:
            raise ValueError(invalid)
        # unit: everything up to the next digit or dot
        index = 0
        while index < len(text) and not (text[index] == "." or "0" <= text[index] <= "9"):
            index += 1
        if index == 0:
            raise ValueError(f"time: missing unit in duration {_time_quote(original)}")
        unit_text, text = text[:index], text[index:]
        unit = _DURATION_UNITS.get(unit_text)
        if unit is None:
            raise ValueError(
                f"time: unknown unit {_time_quote(unit_text)} in duration {_time_quote(original)}"
            )
        if whole > (1 << 63) // unit:
            raise ValueError(invalid)
        value = whole * unit
        if fraction > 0:
            value += int(float(fraction) * (float(unit) / scale))
            if value > 1 << 63:
                raise ValueError(invalid)
        total += value
        if total > 1 << 63:
            raise ValueError(invalid)
    if negative:
        return -total
    if total > _MAX_INT64:
        raise ValueError(invalid)
    return total


def _format_go_duration(nanos: int) -> str:
    """time.Duration.String() for the values this module shows (whole or sub-second)."""
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    if nanos < _NANOS_PER_SECOND:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if nanos >= size:
                text = f"{nanos / size:.9f}".rstrip("0").rstrip(".")
                return f"{sign}{text}{unit}"
    hours, rest = divmod(nanos, 3600 * _NANOS_PER_SECOND)
    minutes, rest = divmod(rest, 60 * _NANOS_PER_SECOND)
    seconds = f"{rest / _NANOS_PER_SECOND:.9f}".rstrip("0").rstrip(".")
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{sign}{minutes}m{seconds}s"
    return f"{sign}{seconds}s"


# ---------------------------------------------------------------------------------------
# Field parsing (robfig getField / getRange)


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: the five below are all there are
class _Bounds:
    name: str
    low: int
    high: int
    names: dict[str, int] = field(default_factory=dict)


_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_MINUTE = _Bounds("minute", 0, 59)
_HOUR = _Bounds("hour", 0, 23)
_DOM = _Bounds("day-of-month", 1, 31)
_MONTH = _Bounds(
    "month",
    1,
    12,
    {m: i + 1 for i, m in enumerate(_MONTH_NAMES)},
)
_DOW = _Bounds("day-of-week", 0, 6, {d: i for i, d in enumerate(_DAY_NAMES)})
_FIELDS = (_MINUTE, _HOUR, _DOM, _MONTH, _DOW)

_QUARTZ = re.compile(r"^(?:L|LW|[0-9]+[LW]|[0-9]*L-[0-9]+)$|#", re.IGNORECASE)


@dataclass(frozen=True)
class _Field:
    values: frozenset[int]
    star: bool
    text: str  # normalised for cron-descriptor: numbers, "*", ranges and steps only


def _parse_int_or_name(text: str, bounds: _Bounds) -> int:
    if bounds.names:
        named = bounds.names.get(_go_lower(text))
        if named is not None:
            return named
    return _parse_unsigned(text)


def _parse_unsigned(text: str) -> int:
    value = _atoi(text)
    if value < 0:
        raise CronError(f"Negative number ({value}) not allowed: {text}")
    return value


def _parse_range(expr: str, bounds: _Bounds) -> tuple[frozenset[int], bool, str]:
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    single = len(low_and_high) == 1
    star = low_and_high[0] in ("*", "?")
    if star:
        start, end = bounds.low, bounds.high
        text = "*"
    else:
        start = _parse_int_or_name(low_and_high[0], bounds)
        if len(low_and_high) == 1:
            end = start
            text = str(start)
        elif len(low_and_high) == 2:
            end = _parse_int_or_name(low_and_high[1], bounds)
            text = f"{start}-{end}"
        else:
            raise CronError(f"Too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _parse_unsigned(range_and_step[1])
        if single:
            end = bounds.high
        text = f"{text}/{step}"
    else:
        raise CronError(f"Too many slashes: {expr}")
    if start < bounds.low:
        raise CronError(f"Beginning of range ({start}) below minimum ({bounds.low}): {expr}")
    if end > bounds.high:
        raise CronError(f"End of range ({end}) above maximum ({bounds.high}): {expr}")
    if start > end:
        raise CronError(f"Beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"Step of range should be a positive number: {expr}")
    return frozenset(range(start, end + 1, step)), star, text


@lru_cache(maxsize=2048)  # "*" and small numbers recur in nearly every expression
def _parse_field(text: str, bounds: _Bounds) -> _Field:
    values: set[int] = set()
    star = False
    texts: list[str] = []
    for expr in (piece for piece in text.split(",") if piece):
        try:
            bits, is_star, normalised = _parse_range(expr, bounds)
        except CronError as error:
            raise CronError(error.robfig, _field_hint(expr, bounds)) from None
        values |= bits
        star = star or is_star
        texts.append(normalised)
    return _Field(frozenset(values), star, ",".join(texts))


def _field_hint(expr: str, bounds: _Bounds) -> str:
    if _QUARTZ.search(expr):
        return "the Quartz extensions L, W and # are not supported"
    if bounds is _DOW and re.search(r"(^|-)\+?0*7($|[-/])", expr):
        return "day-of-week is 0-6 or SUN-SAT; Sunday is 0, not 7"
    if bounds.names:
        first, last = next(iter(bounds.names)), list(bounds.names)[-1]
        return (
            f"{bounds.name} is {bounds.low}-{bounds.high} or {first.upper()}-{last.upper()}, "
            "with * ? , - / allowed"
        )
    return f"{bounds.name} is {bounds.low}-{bounds.high}, with * ? , - / allowed"


def _count_hint(fields: list[str]) -> str:
    layout = "Longhorn takes 5 fields: minute hour day-of-month month day-of-week"
    if fields and fields[0].startswith(("TZ=", "CRON_TZ=")):
        return (
            "TZ= and CRON_TZ= prefixes are not supported; "
            "the schedule runs in the cluster's time zone, usually UTC"
        )
    if len(fields) == 6:
        return f"{layout}; a seconds field is not supported"
    return layout


def _descriptor_hint(spec: str) -> str:
    if spec.rstrip() == "@every" or spec.startswith("@every\t"):
        return "write @every, one space, then a Go duration such as 1h30m"
    if _go_lower(spec.strip()) in _DESCRIPTOR_FIELDS:
        return "descriptors must be written exactly, in lowercase and without surrounding spaces"
    return "known descriptors: " + ", ".join(DESCRIPTORS[:-1]) + " and @every <duration>"


# ---------------------------------------------------------------------------------------
# The schedule


def _utc(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime (got naive {moment.isoformat()})")
    return moment.astimezone(UTC)


def _days_in_month(month: int) -> int:
    return 29 if month == 2 else 30 if month in (4, 6, 9, 11) else 31


@dataclass(frozen=True)
class CronSchedule:
    """A parsed Longhorn cron expression.

    For 5-field expressions and the calendar descriptors the sets hold the matching
    minutes, hours, days of month, months (1-12) and days of week (0 = Sunday); ``every``
    is None. For ``@every`` the sets are empty and ``every`` is the delay robfig/cron
    really uses (whole seconds, at least 1s).

    All times in and out are aware datetimes; results are in UTC.
    """

    expr: str
    every: timedelta | None = None
    minutes: frozenset[int] = frozenset()
    hours: frozenset[int] = frozenset()
    days_of_month: frozenset[int] = frozenset()
    months: frozenset[int] = frozenset()
    days_of_week: frozenset[int] = frozenset()
    dom_star: bool = False
    dow_star: bool = False
    warnings: tuple[str, ...] = ()
    """Things that are accepted by Longhorn but almost surely not what was meant."""
    normalized: str = ""
    """For 5-field schedules: the expression with names, ``?`` and robfig quirks removed."""

    @property
    def is_every(self) -> bool:
        return self.every is not None

    @property
    def day_or(self) -> bool:
        """True when a day matching day-of-month OR day-of-week is enough (no ``*``/``?``)."""
        return not (self.dom_star or self.dow_star)

    @cached_property
    def can_run(self) -> bool:
        """False when no date can ever match (``30 2`` = 30 February, or an empty list)."""
        if self.is_every:
            return True
        if not (self.minutes and self.hours and self.months):
            return False
        longest_month = max(_days_in_month(m) for m in self.months)
        dom_ok = bool(self.days_of_month) and min(self.days_of_month) <= longest_month
        if self.day_or:
            return dom_ok or bool(self.days_of_week)
        return dom_ok and bool(self.days_of_week)

    def matches(self, moment: datetime) -> bool:
        """Whether a 5-field schedule fires at this minute (seconds are ignored)."""
        if self.is_every:
            raise ValueError("an @every schedule has no calendar; use an anchor")
        t = _utc(moment, "moment")
        if t.minute not in self.minutes or t.hour not in self.hours or t.month not in self.months:
            return False
        dom_match = t.day in self.days_of_month
        dow_match = (t.weekday() + 1) % 7 in self.days_of_week
        return (dom_match or dow_match) if self.day_or else (dom_match and dow_match)

    # -- run times -----------------------------------------------------------------------

    @cached_property
    def _times(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        return tuple(sorted(self.hours)), tuple(sorted(self.minutes))

    def _day_matches(self, day: int, weekday: int) -> bool:
        """``weekday`` counts from 0 = Sunday."""
        dom_match = day in self.days_of_month
        dow_match = weekday in self.days_of_week
        return (dom_match or dow_match) if self.day_or else (dom_match and dow_match)

    def _first_time(self, hour: int, minute: int) -> tuple[int, int] | None:
        """The first (hour, minute) of this schedule at or after ``hour:minute`` in a day."""
        hours, minutes = self._times
        i = bisect_left(hours, hour)
        if i < len(hours) and hours[i] == hour:
            j = bisect_left(minutes, minute)
            if j < len(minutes):
                return hour, minutes[j]
            i += 1
        return (hours[i], minutes[0]) if i < len(hours) else None

    def _last_time(self, hour: int, minute: int) -> tuple[int, int] | None:
        """The last (hour, minute) of this schedule at or before ``hour:minute`` in a day."""
        hours, minutes = self._times
        i = bisect_right(hours, hour) - 1
        if i >= 0 and hours[i] == hour:
            j = bisect_right(minutes, minute) - 1
            if j >= 0:
                return hour, minutes[j]
            i -= 1
        return (hours[i], minutes[-1]) if i >= 0 else None

    def _scan_forward(self, start: datetime, last_year: int) -> datetime | None:
        """The first matching minute after ``start``'s minute, in a year up to ``last_year``.

        Walks months, then days, then jumps to the time of day with a bisection; robfig's
        ``SpecSchedule.Next`` steps the same calendar one unit at a time.
        """
        year, month, day = start.year, start.month, start.day
        hour, minute = start.hour, start.minute + 1
        while year <= last_year:
            if month in self.months:
                first_weekday, days = monthrange(year, month)  # Monday = 0
                for d in range(day, days + 1):
                    if self._day_matches(d, (first_weekday + d) % 7):
                        found = self._first_time(hour, minute)
                        if found is not None:
                            return datetime(year, month, d, *found, tzinfo=UTC)
                    hour = minute = 0
            day, hour, minute = 1, 0, 0
            month, year = (1, year + 1) if month == 12 else (month + 1, year)
        return None

    def _scan_backward(self, end: datetime, first_year: int) -> datetime | None:
        """The last matching minute at or before ``end``'s minute, in a year from ``first_year``."""
        year, month, day = end.year, end.month, end.day
        hour, minute = end.hour, end.minute
        while year >= first_year:
            if month in self.months:
                first_weekday, days = monthrange(year, month)
                for d in range(min(day, days), 0, -1):
                    if self._day_matches(d, (first_weekday + d) % 7):
                        found = self._last_time(hour, minute)
                        if found is not None:
                            return datetime(year, month, d, *found, tzinfo=UTC)
                    hour, minute = 23, 59
            day, hour, minute = 31, 23, 59
            month, year = (12, year - 1) if month == 1 else (month - 1, year)
        return None

    def next_after(self, t: datetime, anchor: datetime | None = None) -> datetime:
        """The first run strictly after ``t``.

        5-field schedules fire at whole minutes. Raises CronError when there is no run
        within robfig's five-year search (for example ``0 0 30 2 *``).

        ``@every``: with ``anchor`` (the CronJob's creation time, or a previous run), runs
        are ``anchor + k*every`` for k >= 1, and the first one after ``t`` is returned.
        Without an anchor this is robfig's ``Next``: ``t`` truncated to the second plus
        ``every``.
        """
        start = _utc(t, "t")
        try:
            return self._next_after(start, anchor)
        except OverflowError:  # datetime arithmetic past 9999-12-31
            raise self._calendar_end() from None

    def _calendar_end(self) -> CronError:
        return CronError(f"no run of {self.expr!r} before the end of year {MAXYEAR}")

    def _next_after(self, start: datetime, anchor: datetime | None) -> datetime:
        if self.every is not None:
            if anchor is None:
                return start.replace(microsecond=0) + self.every
            base = _utc(anchor, "anchor")
            if start < base:
                return base + self.every
            k = (start - base) // self.every + 1
            return base + k * self.every
        if not self.can_run:
            raise CronError(f"no run ever matches {self.expr!r}")
        limit_year = (start.replace(microsecond=0) + timedelta(seconds=1)).year + _YEAR_LIMIT
        result = self._scan_forward(start, min(limit_year, MAXYEAR))
        if result is not None:
            return result
        if limit_year > MAXYEAR:
            raise self._calendar_end()
        raise CronError(f"no run of {self.expr!r} within {_YEAR_LIMIT} years after {format_utc(start)}")

    def next_runs(self, start: datetime, count: int, anchor: datetime | None = None) -> list[datetime]:
        """Up to ``count`` runs strictly after ``start``; fewer when the schedule stops.

        For ``@every`` the anchor defaults to ``start`` (runs at start + every, + 2*every...).
        """
        if count < 0:
            raise ValueError("count must not be negative")
        runs: list[datetime] = []
        current = _utc(start, "start")
        if self.every is not None and anchor is None:
            anchor = current.replace(microsecond=0)
        for _ in range(count):
            try:
                current = self.next_after(current, anchor)
            except CronError:
                break
            runs.append(current)
        return runs

    def previous_at_or_before(self, t: datetime, anchor: datetime | None = None) -> datetime | None:
        """The latest run at or before ``t`` ("which slot is due now"), or None.

        5-field schedules: the latest matching minute <= ``t``, looking back at most five
        years. ``@every`` needs ``anchor``: runs are ``anchor + k*every`` for k >= 1, so
        None is returned before the first one.
        """
        moment = _utc(t, "t")
        if self.every is not None:
            if anchor is None:
                raise ValueError("an @every schedule needs an anchor to define its runs")
            base = _utc(anchor, "anchor")
            k = (moment - base) // self.every
            return base + k * self.every if k >= 1 else None
        if not self.can_run:
            return None
        return self._scan_backward(moment, max(moment.year - _YEAR_LIMIT, MINYEAR))


def format_utc(moment: datetime) -> str:
    """ISO 8601 in UTC to the second, e.g. ``2026-12-04T21:00:00Z``."""
    return _utc(moment, "moment").strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_every(expr: str) -> CronSchedule:
    written = expr[len(_EVERY_PREFIX) :]
    try:
        nanos = _parse_go_duration(written)
    except ValueError as error:
        raise CronError(
            f"Failed to parse duration {expr}: {error}",
            "write a Go duration such as 1h30m, 90s or 1.5h; units are h, m, s, ms, us and ns",
        ) from None
    effective = max(nanos, _NANOS_PER_SECOND)
    effective -= effective % _NANOS_PER_SECOND
    warnings: list[str] = []
    if nanos < _NANOS_PER_SECOND:
        warnings.append(f"robfig/cron runs durations below one second every second: {written} becomes 1s")
    elif effective != nanos:
        warnings.append(
            f"robfig/cron drops fractions of a second: {written} becomes {_format_go_duration(effective)}"
        )
    return CronSchedule(
        expr=expr,
        every=timedelta(seconds=effective // _NANOS_PER_SECOND),
        warnings=tuple(warnings),
    )


def _parse_fields(expr: str, fields: Iterable[str]) -> CronSchedule:
    minute, hour, dom, month, dow = (
        _parse_field(text, bounds) for text, bounds in zip(fields, _FIELDS, strict=True)
    )
    schedule = CronSchedule(
        expr=expr,
        minutes=minute.values,
        hours=hour.values,
        days_of_month=dom.values,
        months=month.values,
        days_of_week=dow.values,
        dom_star=dom.star,
        dow_star=dow.star,
        normalized=" ".join(f.text for f in (minute, hour, dom, month, dow)),
    )
    if not schedule.can_run:
        empty = [
            b.name for f, b in zip((minute, hour, dom, month, dow), _FIELDS, strict=True) if not f.values
        ]
        reason = f"the {' and '.join(empty)} list is empty" if empty else "no month in it has such a day"
        schedule = replace(schedule, warnings=(f"this schedule never runs: {reason}",))
    return schedule


def parse(expr: str) -> CronSchedule:
    """Parse a cron expression exactly as Longhorn's webhook (robfig/cron v1.2.0) does.

    Raises CronError for everything robfig refuses. Things robfig accepts but that are
    surely mistakes (``@every 0s``, ``0 0 30 2 *``) parse fine and are listed in
    ``CronSchedule.warnings``.
    """
    if not isinstance(expr, str):
        raise CronError(f"expected a string, got {type(expr).__name__}")
    if len(expr) == 0:
        raise CronError("Empty spec string", "write 5 fields or a descriptor such as @daily")
    if expr[0] == "@":
        if expr in _DESCRIPTOR_FIELDS:
            return _parse_fields(expr, _DESCRIPTOR_FIELDS[expr].split())
        if expr.startswith(_EVERY_PREFIX):
            return _parse_every(expr)
        raise CronError(f"Unrecognized descriptor: {expr}", _descriptor_hint(expr))
    fields = _go_fields(expr)
    if len(fields) != 5:
        raise CronError(f"Expected exactly 5 fields, found {len(fields)}: {expr}", _count_hint(fields))
    return _parse_fields(expr, fields)


# ---------------------------------------------------------------------------------------
# Descriptions


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def _describe_every(every: timedelta) -> str:
    seconds = int(every.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        _plural(value, unit)
        for value, unit in ((hours, "hour"), (minutes, "minute"), (secs, "second"))
        if value
    ]
    return "Every " + " ".join(parts)


def _descriptor(text: str, part: DescriptionTypeEnum = DescriptionTypeEnum.FULL) -> str:
    options = Options()
    options.use_24hour_time_format = True
    return str(ExpressionDescriptor(text, options).get_description(part))


def _compress(values: frozenset[int]) -> str:
    """``1,2,3,7`` -> ``1-3,7``."""
    parts: list[str] = []
    ordered = sorted(values)
    run_start = previous = ordered[0]
    for value in [*ordered[1:], None]:
        if value is not None and value == previous + 1:
            previous = value
            continue
        parts.append(str(run_start) if run_start == previous else f"{run_start}-{previous}")
        if value is not None:
            run_start = previous = value
    return ",".join(parts)


def _description_fields(schedule: CronSchedule) -> list[str]:
    """Fields cron-descriptor reads well: a single written token, ``*`` or compressed lists.

    The day fields are reduced to what really decides the day (robfig's OR/AND rule), so
    ``1-31`` with a weekday reads as every day, which is what it is.
    """
    sets = (schedule.minutes, schedule.hours, schedule.days_of_month, schedule.months, schedule.days_of_week)
    texts = []
    for values, written, bounds in zip(sets, schedule.normalized.split(" "), _FIELDS, strict=True):
        if len(values) == bounds.high - bounds.low + 1:
            texts.append("*")
        elif "," not in written:
            texts.append(written)
        else:
            texts.append(_compress(values))
    if schedule.day_or and "*" in (texts[2], texts[4]):
        texts[2] = texts[4] = "*"
    return texts


def _describe_fields(schedule: CronSchedule) -> str:
    if not schedule.can_run:
        return "Never runs (" + "; ".join(schedule.warnings).removeprefix("this schedule never runs: ") + ")"
    minute, hour, dom, month, dow = _description_fields(schedule)
    plain = f"{minute} {hour} {dom} {month} {dow}"
    if dom == "*" or dow == "*":
        return _descriptor(plain)
    # cron-descriptor joins both day fields inconsistently ("or" for some shapes, nothing for
    # others) and never knows robfig's AND rule, so the day-of-week clause is built here.
    without_dow = _descriptor(f"{minute} {hour} {dom} {month} *")
    month_part = _descriptor(plain, DescriptionTypeEnum.MONTH)
    if month_part and without_dow.endswith(month_part):
        without_dow = without_dow[: -len(month_part)]
    dow_text = _descriptor(f"0 0 * * {dow}", DescriptionTypeEnum.DAYOFWEEK).lstrip(", ")
    for prefix in ("or ", "only "):
        dow_text = dow_text.removeprefix(prefix)
    joiner = ", or " if schedule.day_or else ", but only "
    return f"{without_dow}{joiner}{dow_text}{month_part}"


def describe(expr: str) -> str:
    """An English sentence for a valid expression; raises CronError for an invalid one.

    Times are the cluster's (usually UTC), written in 24-hour form.
    """
    schedule = parse(expr)
    if schedule.every is not None:
        return _describe_every(schedule.every)
    if expr in _DESCRIPTOR_SENTENCES:
        return _DESCRIPTOR_SENTENCES[expr]
    try:
        return _describe_fields(schedule)
    except Exception:  # cron-descriptor has its own notion of validity; never fail here
        logger.debug("cron-descriptor could not describe %r", schedule.normalized, exc_info=True)
        return f"Cron schedule {schedule.normalized} (minute hour day-of-month month day-of-week)"
