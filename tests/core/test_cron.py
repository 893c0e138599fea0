"""core.cron: Longhorn's robfig/cron v1 ParseStandard dialect, run times and descriptions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from croniter import CroniterBadDateError, croniter  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from lhdesk.core.cron import CronError, CronSchedule, describe, format_utc, parse

T0 = datetime(2026, 12, 4, 20, 30, 15, tzinfo=UTC)  # a Friday


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# --------------------------------------------------------------------------- acceptance


@pytest.mark.parametrize(
    "expr",
    [
        "* * * * *",
        "? ? ? ? ?",
        "0 0 * * *",  # the Longhorn UI default
        "59 23 31 12 6",  # every field at its maximum
        "0 0 1 1 0",  # every field at its minimum
        "0-59 0-23 1-31 1-12 0-6",
        "*/5 * * * *",
        "0 */2 * * *",
        "0 2 * * 1-5",
        "0,30 9-17 * * mon-fri",
        "0 0 1 jan-dec sun-sat",
        "0 0 1 JAN SUN",
        "0 0 1 Jan Sun",
        "0 0 1 jAn sUn",
        "0 0 ? * *",
        "5/15 * * * *",  # robfig: N/step means N-max/step
        "1-30/7 * * * *",
        "+5 * * * *",  # strconv.Atoi takes a plus sign
        "05 * * * *",
        "1,,2 * * * *",  # strings.FieldsFunc drops empty list items
        "*-5 * * * *",  # robfig ignores what follows a leading * or ?
        "0\t0  *   *\t*",
        "0\u00a00 * * *",  # Go's strings.Fields splits on NBSP too
        "@yearly",
        "@annually",
        "@monthly",
        "@weekly",
        "@daily",
        "@midnight",
        "@hourly",
        "@every 1h30m",
        "@every 90s",
        "@every 1.5h",
        "@every 300ms",
        "@every 0s",
        "@every 0",
        "@every -1h",
        "@every 1h0m0s",
        "@every .5h",
        "@every 1.h",
        "@every 5µs",
        "@every 5μs",
        "@every 10us",
        "@every 1000000000ns",
    ],
)
def test_longhorn_accepts(expr: str) -> None:
    schedule = parse(expr)
    assert schedule.expr == expr


@pytest.mark.parametrize(
    ("expr", "robfig"),
    [
        ("", "Empty spec string"),
        ("60 * * * *", "End of range (60) above maximum (59): 60"),
        ("* 24 * * *", "End of range (24) above maximum (23): 24"),
        ("* * 0 * *", "Beginning of range (0) below minimum (1): 0"),
        ("* * 32 * *", "End of range (32) above maximum (31): 32"),
        ("* * * 0 *", "Beginning of range (0) below minimum (1): 0"),
        ("* * * 13 *", "End of range (13) above maximum (12): 13"),
        ("* * * * 7", "End of range (7) above maximum (6): 7"),
        ("* * * * 1-7", "End of range (7) above maximum (6): 1-7"),
        ("* * * *", "Expected exactly 5 fields, found 4: * * * *"),
        ("0 0 * * * *", "Expected exactly 5 fields, found 6: 0 0 * * * *"),
        ("0 0 0 * * * *", "Expected exactly 5 fields, found 7: 0 0 0 * * * *"),
        ("   ", "Expected exactly 5 fields, found 0:    "),
        ("TZ=UTC 0 0 * * *", "Expected exactly 5 fields, found 6: TZ=UTC 0 0 * * *"),
        ("CRON_TZ=Europe/Berlin 0 0 * * *", "Expected exactly 5 fields, found 6"),
        ("0 0 L * *", 'Failed to parse int from L: strconv.Atoi: parsing "L": invalid syntax'),
        ("0 0 15W * *", 'Failed to parse int from 15W: strconv.Atoi: parsing "15W": invalid syntax'),
        ("0 0 LW * *", "Failed to parse int from LW"),
        ("0 0 * * 5L", "Failed to parse int from 5L"),
        ("0 0 * * 1#2", "Failed to parse int from 1#2"),
        ("0 0 * * MON#2", "Failed to parse int from MON#2"),
        ("1-2-3 * * * *", "Too many hyphens: 1-2-3"),
        ("1/2/3 * * * *", "Too many slashes: 1/2/3"),
        ("*/0 * * * *", "Step of range should be a positive number: */0"),
        ("5-1 * * * *", "Beginning of range (5) beyond end of range (1): 5-1"),
        ("-5 * * * *", 'Failed to parse int from : strconv.Atoi: parsing "": invalid syntax'),
        ("*/-1 * * * *", "Negative number (-1) not allowed: -1"),
        ("*/x * * * *", "Failed to parse int from x"),
        ("99999999999999999999 * * * *", "value out of range"),
        ("0 0 * * mo", "Failed to parse int from mo"),
        ("0 0 * january *", "Failed to parse int from january"),
        ("jan * * * *", "Failed to parse int from jan"),  # names only in month and day-of-week
        ("0 0 * * \uff14", "Failed to parse int from \uff14"),  # Atoi takes ASCII digits only
        ("0\x1c0 * * *", "Expected exactly 5 fields, found 4"),  # not Go white space
        (" @daily", "Expected exactly 5 fields, found 1"),
        ("@daily ", "Unrecognized descriptor: @daily "),
        ("@DAILY", "Unrecognized descriptor: @DAILY"),
        ("@reboot", "Unrecognized descriptor: @reboot"),
        ("@every", "Unrecognized descriptor: @every"),
        ("@every ", 'Failed to parse duration @every : time: invalid duration ""'),
        ("@every 1", 'time: missing unit in duration "1"'),
        ("@every 1d", 'time: unknown unit "d" in duration "1d"'),
        ("@every 1h 30m", 'time: unknown unit "h " in duration "1h 30m"'),
        ("@every  1h", 'time: invalid duration " 1h"'),
        ("@every .", 'time: invalid duration "."'),
        ("@every h", 'time: invalid duration "h"'),
        ("@every -", 'time: invalid duration "-"'),
        ("@every 1H", 'time: unknown unit "H" in duration "1H"'),
        ("@every 9999999999h", 'time: invalid duration "9999999999h"'),
        ("@every garbage", 'time: invalid duration "garbage"'),
    ],
)
def test_longhorn_refuses_with_robfigs_words(expr: str, robfig: str) -> None:
    with pytest.raises(CronError) as caught:
        parse(expr)
    assert robfig in caught.value.robfig
    assert str(caught.value).startswith(caught.value.robfig)


@pytest.mark.parametrize(
    ("expr", "hint"),
    [
        ("TZ=UTC 0 0 * * *", "TZ= and CRON_TZ= prefixes are not supported"),
        ("0 0 0 * * *", "a seconds field is not supported"),
        ("0 0 L * *", "L, W and # are not supported"),
        ("0 0 * * 1#2", "L, W and # are not supported"),
        ("0 0 * * 7", "Sunday is 0, not 7"),
        ("0 0 * 13 *", "month is 1-12 or JAN-DEC"),
        ("@Daily", "written exactly, in lowercase"),
        ("@every 1d", "Go duration such as 1h30m"),
    ],
)
def test_errors_carry_a_hint(expr: str, hint: str) -> None:
    with pytest.raises(CronError, match=None) as caught:
        parse(expr)
    assert caught.value.hint is not None
    assert hint in caught.value.hint
    assert hint in str(caught.value)


def test_cron_error_is_a_value_error() -> None:
    assert issubclass(CronError, ValueError)


# --------------------------------------------------------------------------- parsed values


def test_fields_are_expanded_like_robfig() -> None:
    s = parse("5/15 1-10/3 */10 jan,JUN-aug SAT,sun")
    assert s.minutes == {5, 20, 35, 50}
    assert s.hours == {1, 4, 7, 10}
    assert s.days_of_month == {1, 11, 21, 31}
    assert s.months == {1, 6, 7, 8}
    assert s.days_of_week == {0, 6}
    assert s.dom_star
    assert not s.dow_star
    assert s.normalized == "5/15 1-10/3 */10 1,6-8 6,0"


def test_robfig_quirks() -> None:
    assert parse("*-5 * * * *").minutes == set(range(60))
    assert parse("?/20 * * * *").minutes == {0, 20, 40}
    assert parse("1,,2 * * * *").minutes == {1, 2}
    assert parse("+5 * * * *").minutes == {5}
    assert parse("0 0 * * FRİ").days_of_week == {5}  # Go's ToLower maps U+0130 to "i"


def test_star_flag_follows_the_first_character() -> None:
    assert parse("0 0 */2 * 1").dom_star
    assert parse("0 0 ? * 1").dom_star
    assert not parse("0 0 1-31 * 1").dom_star
    assert parse("0 0 1 * ?").dow_star


@pytest.mark.parametrize(
    ("expr", "seconds"),
    [
        ("@every 1h30m", 5400),
        ("@every 90s", 90),
        ("@every 1.5h", 5400),
        ("@every .5h", 1800),
        ("@every 1.h", 3600),
        ("@every 2h45m30s", 9930),
        ("@every 1000000000ns", 1),
        ("@every 1500ms", 1),  # fractions of a second are dropped
        ("@every 300ms", 1),  # below 1s becomes 1s
        ("@every 0s", 1),
        ("@every -1h", 1),
    ],
)
def test_every_uses_robfigs_effective_delay(expr: str, seconds: int) -> None:
    schedule = parse(expr)
    assert schedule.is_every
    assert schedule.every == timedelta(seconds=seconds)


def test_every_warns_when_robfig_changes_the_duration() -> None:
    assert parse("@every 1h").warnings == ()
    assert "300ms becomes 1s" in parse("@every 300ms").warnings[0]
    assert "0s becomes 1s" in parse("@every 0s").warnings[0]
    assert "-5m becomes 1s" in parse("@every -5m").warnings[0]
    assert "1.5s becomes 1s" in parse("@every 1.5s").warnings[0]
    assert "90.5s becomes 1m30s" in parse("@every 90.5s").warnings[0]


def test_descriptors_are_their_5_field_equivalents() -> None:
    pairs = {
        "@yearly": "0 0 1 1 *",
        "@annually": "0 0 1 1 *",
        "@monthly": "0 0 1 * *",
        "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *",
        "@midnight": "0 0 * * *",
        "@hourly": "0 * * * *",
    }
    for descriptor, fields in pairs.items():
        a, b = parse(descriptor), parse(fields)
        assert not a.is_every
        assert a.next_runs(T0, 5) == b.next_runs(T0, 5), descriptor


# --------------------------------------------------------------------------- run times


def test_next_after_is_strictly_after() -> None:
    s = parse("0 21 * * *")
    assert s.next_after(utc(2026, 12, 4, 20, 59)) == utc(2026, 12, 4, 21, 0)
    assert s.next_after(utc(2026, 12, 4, 21, 0)) == utc(2026, 12, 5, 21, 0)
    assert s.next_after(utc(2026, 12, 4, 21, 0, 0) - timedelta(microseconds=1)) == utc(2026, 12, 4, 21, 0)


def test_next_runs() -> None:
    runs = parse("*/15 9-10 * * *").next_runs(utc(2026, 12, 4, 10, 31), 4)
    assert runs == [
        utc(2026, 12, 4, 10, 45),
        utc(2026, 12, 5, 9, 0),
        utc(2026, 12, 5, 9, 15),
        utc(2026, 12, 5, 9, 30),
    ]
    assert parse("* * * * *").next_runs(T0, 0) == []
    with pytest.raises(ValueError, match="negative"):
        parse("* * * * *").next_runs(T0, -1)


def test_times_are_aware_and_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    s = parse("0 12 * * *")
    result = s.next_after(datetime(2026, 12, 4, 13, 30, tzinfo=plus_two))  # 11:30 UTC
    assert result == utc(2026, 12, 4, 12, 0)
    assert result.tzinfo is UTC
    with pytest.raises(ValueError, match="aware"):
        s.next_after(datetime(2026, 12, 4, 12, 0))  # naive on purpose


def test_utc_has_no_dst_gaps() -> None:
    # 02:30 does not exist in Europe on the last Sunday of March; in UTC every day has it.
    runs = parse("30 2 * * *").next_runs(utc(2026, 3, 27, 0, 0), 4)
    assert [r.day for r in runs] == [27, 28, 29, 30]
    assert all(r.hour == 2 and r.minute == 30 for r in runs)


def test_day_of_month_or_day_of_week_when_both_restricted() -> None:
    # Vixie/robfig: the 1st and 15th of each month, AND every Monday.
    runs = parse("0 0 1,15 * 1").next_runs(utc(2026, 6, 1, 0, 0), 6)
    assert runs == [
        utc(2026, 6, 8),  # Monday
        utc(2026, 6, 15),  # 15th and Monday
        utc(2026, 6, 22),
        utc(2026, 6, 29),
        utc(2026, 7, 1),  # Wednesday, the 1st
        utc(2026, 7, 6),
    ]


def test_day_of_month_and_day_of_week_when_one_starts_with_a_star() -> None:
    # "*/2" in day-of-month sets robfig's star bit: odd days that are also Mondays.
    runs = parse("0 0 */2 * 1").next_runs(utc(2026, 12, 1), 3)
    assert runs == [utc(2026, 12, 7), utc(2026, 12, 21), utc(2027, 1, 11)]
    # "?" in day-of-month: Mondays only.
    assert parse("0 0 ? * 1").next_runs(utc(2026, 12, 1), 2) == [utc(2026, 12, 7), utc(2026, 12, 14)]
    # a full range without a star is not a star: every day matches day-of-month, so every day runs
    assert parse("0 0 1-31 * 1").next_runs(utc(2026, 12, 1), 2) == [utc(2026, 12, 2), utc(2026, 12, 3)]


def test_leap_day() -> None:
    runs = parse("0 0 29 2 *").next_runs(utc(2026, 1, 1), 2)
    assert runs == [utc(2028, 2, 29), utc(2032, 2, 29)]


@pytest.mark.parametrize("expr", ["0 0 30 2 *", "0 0 31 4,6,9,11 *", ", * * * *", "0 0 * * ,"])
def test_a_schedule_that_never_runs(expr: str) -> None:
    s = parse(expr)  # robfig accepts it ...
    assert not s.can_run
    assert s.warnings
    assert "never runs" in s.warnings[0]
    with pytest.raises(CronError, match="no run"):
        s.next_after(T0)
    assert s.next_runs(T0, 3) == []
    assert s.previous_at_or_before(T0) is None
    assert describe(expr).startswith("Never runs")


def test_robfig_gives_up_after_five_years() -> None:
    # 29 February that is also a Sunday (AND, because day-of-week starts with "*"): the
    # next one after 2026 is in 2032, which is past robfig's five-year horizon.
    s = parse("0 0 29 2 */7")
    assert s.can_run
    with pytest.raises(CronError, match="within 5 years"):
        s.next_after(utc(2026, 3, 1))
    assert s.next_after(utc(2027, 3, 1)) == utc(2032, 2, 29)


def test_previous_at_or_before() -> None:
    s = parse("0 */6 * * *")
    assert s.previous_at_or_before(utc(2026, 12, 4, 12, 0)) == utc(2026, 12, 4, 12, 0)
    assert s.previous_at_or_before(utc(2026, 12, 4, 12, 0, 59)) == utc(2026, 12, 4, 12, 0)
    assert s.previous_at_or_before(utc(2026, 12, 4, 11, 59, 59)) == utc(2026, 12, 4, 6, 0)
    assert s.previous_at_or_before(utc(2026, 1, 1, 5, 0)) == utc(2026, 1, 1, 0, 0)
    assert parse("0 0 1 1 *").previous_at_or_before(utc(2026, 1, 1, 0, 0, 30)) == utc(2026, 1, 1)


def test_every_runs_relative_to_an_anchor() -> None:
    s = parse("@every 1h30m")
    anchor = utc(2026, 12, 4, 8, 0, 0)
    assert s.next_after(utc(2026, 12, 4, 9, 0), anchor) == utc(2026, 12, 4, 9, 30)
    assert s.next_after(utc(2026, 12, 4, 9, 30), anchor) == utc(2026, 12, 4, 11, 0)
    assert s.next_after(utc(2026, 12, 4, 7, 0), anchor) == utc(
        2026, 12, 4, 9, 30
    )  # first slot = anchor + every
    assert s.previous_at_or_before(utc(2026, 12, 4, 9, 29), anchor) is None
    assert s.previous_at_or_before(utc(2026, 12, 4, 9, 30), anchor) == utc(2026, 12, 4, 9, 30)
    assert s.previous_at_or_before(utc(2026, 12, 4, 12, 29), anchor) == utc(2026, 12, 4, 11, 0)
    assert s.previous_at_or_before(utc(2026, 12, 4, 12, 59), anchor) == utc(2026, 12, 4, 12, 30)
    assert s.next_runs(utc(2026, 12, 4, 9, 0), 2, anchor) == [
        utc(2026, 12, 4, 9, 30),
        utc(2026, 12, 4, 11, 0),
    ]
    with pytest.raises(ValueError, match="anchor"):
        s.previous_at_or_before(T0)
    with pytest.raises(ValueError, match="anchor"):
        s.matches(T0)


def test_every_without_anchor_is_robfigs_next() -> None:
    s = parse("@every 90s")
    assert s.next_after(utc(2026, 12, 4, 9, 0, 0) + timedelta(milliseconds=700)) == utc(2026, 12, 4, 9, 1, 30)
    # next_runs anchors at the start (truncated to the second)
    assert s.next_runs(utc(2026, 12, 4, 9, 0, 0) + timedelta(milliseconds=700), 2) == [
        utc(2026, 12, 4, 9, 1, 30),
        utc(2026, 12, 4, 9, 3, 0),
    ]


def test_the_end_of_the_calendar_is_no_crash() -> None:
    end = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
    for expr in ("0 0 * * *", "@every 1h"):
        with pytest.raises(CronError, match="year 9999"):
            parse(expr).next_after(end, end if expr.startswith("@") else None)
        assert parse(expr).next_runs(end, 3) == []


def test_format_utc() -> None:
    assert format_utc(utc(2026, 12, 4, 21, 0)) == "2026-12-04T21:00:00Z"
    assert format_utc(datetime(2026, 12, 4, 23, 0, 0, 999, tzinfo=timezone(timedelta(hours=2)))) == (
        "2026-12-04T21:00:00Z"
    )


# --------------------------------------------------------------------------- descriptions


@pytest.mark.parametrize(
    ("expr", "sentence"),
    [
        ("0 2 * * *", "At 02:00"),
        ("*/5 * * * *", "Every 5 minutes"),
        ("0 0 * * 0", "At 00:00, only on Sunday"),
        ("0 0 * * SUN", "At 00:00, only on Sunday"),
        ("0 0 ? * *", "At 00:00"),
        ("0 0 1,15 * 1-5", "At 00:00, on day 1 and 15 of the month, or Monday through Friday"),
        ("0 0 */2 * 1", "At 00:00, every 2 days, but only on Monday"),
        ("30 1 1 jan *", "At 01:30, on day 1 of the month, only in January"),
        ("30 1 1-7 jan mon", "At 01:30, between day 1 and 7 of the month, or on Monday, only in January"),
        ("0 0 1-31 * 1", "At 00:00"),  # OR with a day-of-month that matches every day
        ("0 0 1 * 0-6", "At 00:00"),
        ("*/15,5 * * * *", "At 0, 5, 15, 30, and 45 minutes past the hour"),
        ("@yearly", "Once a year, at 00:00 on 1 January"),
        ("@annually", "Once a year, at 00:00 on 1 January"),
        ("@monthly", "Once a month, at 00:00 on day 1"),
        ("@weekly", "Once a week, at 00:00 on Sunday"),
        ("@daily", "Once a day, at 00:00"),
        ("@midnight", "Once a day, at 00:00"),
        ("@hourly", "Once an hour, at minute 0"),
        ("@every 1h30m", "Every 1 hour 30 minutes"),
        ("@every 90s", "Every 1 minute 30 seconds"),
        ("@every 48h", "Every 48 hours"),
        ("@every 300ms", "Every 1 second"),
        ("0 0 30 2 *", "Never runs (no month in it has such a day)"),
    ],
)
def test_describe(expr: str, sentence: str) -> None:
    assert describe(expr) == sentence


def test_describe_refuses_invalid_expressions() -> None:
    with pytest.raises(CronError):
        describe("0 0 * * 7")


# --------------------------------------------------------------------------- properties


def _reference_next(schedule: CronSchedule, t: datetime, days: int) -> datetime | None:
    """Brute force of robfig's SpecSchedule.Next: first matching minute after t."""
    day = t.replace(hour=0, minute=0, second=0, microsecond=0)
    for _ in range(days):
        dom_ok = day.day in schedule.days_of_month
        dow_ok = (day.weekday() + 1) % 7 in schedule.days_of_week
        star = schedule.dom_star or schedule.dow_star
        if day.month in schedule.months and ((dom_ok and dow_ok) if star else (dom_ok or dow_ok)):
            for hour in sorted(schedule.hours):
                for minute in sorted(schedule.minutes):
                    candidate = day.replace(hour=hour, minute=minute)
                    if candidate > t:
                        return candidate
        day += timedelta(days=1)
    return None


_number = {
    "minute": st.integers(0, 59),
    "hour": st.integers(0, 23),
    "dom": st.integers(1, 31),
    "month": st.integers(1, 12),
    "dow": st.integers(0, 6),
}


@st.composite
def _field(draw: st.DrawFn, kind: str) -> str:
    num = _number[kind]
    pieces = []
    for _ in range(draw(st.integers(1, 3))):
        shape = draw(st.sampled_from(["*", "?", "n", "a-b", "*/s", "a-b/s", "n/s"]))
        a, b = sorted((draw(num), draw(num)))
        step = draw(st.integers(1, 13))
        pieces.append(
            shape.replace("a", str(a)).replace("b", str(b)).replace("n", str(a)).replace("s", str(step))
        )
    return ",".join(pieces)


@st.composite
def _valid_expr(draw: st.DrawFn) -> str:
    return " ".join(draw(_field(kind)) for kind in ("minute", "hour", "dom", "month", "dow"))


def _croniter_run(schedule: CronSchedule, t: datetime, forward: bool) -> datetime | None:
    """croniter's next (or previous) run, set up to fire like robfig, within robfig's 5 years.

    croniter is the independent oracle for core.cron's own calendar scan: plain numbers, and
    croniter's ``day_or`` only where robfig ORs the two day fields.
    """

    def text(values: frozenset[int], size: int) -> str:
        return "*" if len(values) == size else ",".join(map(str, sorted(values)))

    dom, dow = schedule.days_of_month, schedule.days_of_week
    if schedule.day_or and (len(dom) == 31 or len(dow) == 7):
        dom_text, dow_text, day_or = "*", "*", False  # every day matches one side
    elif schedule.day_or and not (dom and dow):
        dom_text, dow_text, day_or = text(dom, 31) or "*", text(dow, 7) or "*", False  # the other side alone
    else:
        dom_text, dow_text, day_or = text(dom, 31), text(dow, 7), schedule.day_or
    minute, hour, month = text(schedule.minutes, 60), text(schedule.hours, 24), text(schedule.months, 12)
    oracle = croniter(
        f"{minute} {hour} {dom_text} {month} {dow_text}", t, day_or=day_or, max_years_between_matches=7
    )
    try:
        run: datetime = oracle.get_next(datetime) if forward else oracle.get_prev(datetime)
    except CroniterBadDateError:
        return None
    within = run.year <= (t + timedelta(seconds=1)).year + 5 if forward else run.year >= t.year - 5
    return run if within else None


@settings(max_examples=300, deadline=None)
@given(_valid_expr(), st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)))
def test_run_times_agree_with_croniter_and_a_brute_force_of_robfig(expr: str, start: datetime) -> None:
    schedule = parse(expr)
    assert not describe(expr).startswith("Cron schedule")  # cron-descriptor copes with every shape
    if not schedule.can_run:
        return  # test_a_schedule_that_never_runs
    t = start.replace(tzinfo=UTC)
    try:
        following: datetime | None = schedule.next_after(t)
    except CronError:
        following = None
    assert following == _croniter_run(schedule, t, forward=True)
    minute_after = t.replace(second=0, microsecond=0) + timedelta(minutes=1)
    assert schedule.previous_at_or_before(t) == _croniter_run(schedule, minute_after, forward=False)
    expected = _reference_next(schedule, t, 800)
    if expected is not None:  # else beyond the brute force's window
        assert following == expected
    if following is not None:
        assert schedule.previous_at_or_before(following) == following
        assert schedule.matches(following)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_parse_and_describe_raise_only_cron_error_on_any_text(text: str) -> None:
    try:
        schedule = parse(text)
    except CronError:
        return
    assert describe(text)
    assert isinstance(schedule.warnings, tuple)


_CRON_ALPHABET = st.text(alphabet="0123456789*?,-/ @LW#abcdefghijklmnopqrstuvwxyzJANSUNMON\tµ.", max_size=30)


@settings(max_examples=200, deadline=None)
@given(_CRON_ALPHABET)
def test_parse_raises_only_cron_error_on_cron_like_text(text: str) -> None:
    try:
        schedule = parse(text)
    except CronError:
        return
    assert describe(text)
    runs = schedule.next_runs(T0, 2)  # never raises; may be empty (never runs, or past 5 years)
    assert all(run > T0 for run in runs)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789.hmsnuµ-+", max_size=12))
def test_every_raises_only_cron_error(duration: str) -> None:
    try:
        schedule = parse("@every " + duration)
    except CronError as error:
        message = error.robfig
        schedule = None
    if schedule is None:
        assert message.startswith("Failed to parse duration @every ")
        return
    assert schedule.every is not None
    assert schedule.every >= timedelta(seconds=1)
