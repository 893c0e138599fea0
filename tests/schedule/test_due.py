"""Due times and catch-up, on a fake clock: cron and @every, missed slots, clock jumps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lhdesk.schedule.due import COUNT_LIMIT, EPOCH, due, due_all, next_slots
from lhdesk.schedule.model import Schedule


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def sched(cron: str = "*/5 * * * *", *, since: str = "2026-03-02T10:00:30", **kw: object) -> Schedule:
    base = Schedule(id="s1-abcdef", name="s1", context="ctx", cron=cron, retain=2, active_since=t(since))
    return base.replace(**kw)


# -- cron ------------------------------------------------------------------------------------


def test_nothing_due_before_the_first_slot_and_next_slot_is_reported() -> None:
    d = due(sched(), None, t("2026-03-02T10:04:59"), running_since=t("2026-03-02T10:00:30"))
    assert not d.has_work
    assert d.next_slot == t("2026-03-02T10:05:00")


def test_slot_is_due_at_its_time_then_not_again() -> None:
    s = sched()
    d = due(s, None, t("2026-03-02T10:05:00.300"), running_since=t("2026-03-02T10:00:30"))
    assert d.run == t("2026-03-02T10:05:00")
    assert d.missed is None
    assert d.skipped is None
    assert not d.catch_up
    assert d.next_slot == t("2026-03-02T10:10:00")
    again = due(s, d.run, t("2026-03-02T10:05:01"), running_since=t("2026-03-02T10:00:30"))
    assert not again.has_work
    assert again.next_slot == t("2026-03-02T10:10:00")


def test_slots_at_or_before_active_since_never_run() -> None:
    s = sched(since="2026-03-02T10:05:00")
    d = due(s, None, t("2026-03-02T10:05:00.5"), running_since=t("2026-03-02T10:00:00"))
    assert not d.has_work
    assert d.next_slot == t("2026-03-02T10:10:00")


def test_late_slots_while_running_run_the_newest_and_skip_the_rest() -> None:
    """Slots that came while the engine was busy: the newest runs, older ones are skipped."""
    d = due(
        sched(), t("2026-03-02T10:05:00"), t("2026-03-02T10:17:00"), running_since=t("2026-03-02T10:00:30")
    )
    assert d.run == t("2026-03-02T10:15:00")
    assert d.skipped is not None
    assert (d.skipped.first, d.skipped.last, d.skipped.count) == (t("2026-03-02T10:10:00"),) * 2 + (1,)
    assert d.missed is None


def test_missed_while_not_running_under_skip_records_them_and_runs_nothing() -> None:
    s = sched(catch_up="skip")
    now = t("2026-03-02T12:00:10")
    d = due(s, t("2026-03-02T10:05:00"), now, running_since=now)
    assert d.run is None
    assert d.missed is not None
    assert d.missed.first == t("2026-03-02T10:10:00")
    assert d.missed.last == t("2026-03-02T12:00:00")
    assert d.missed.count == 23
    assert not d.missed.capped
    assert d.next_slot == t("2026-03-02T12:05:00")


def test_missed_under_run_once_within_grace_runs_the_newest_once() -> None:
    s = sched(catch_up="run-once")
    now = t("2026-03-02T10:31:00")
    d = due(s, t("2026-03-02T10:05:00"), now, running_since=now)
    assert d.run == t("2026-03-02T10:30:00")
    assert d.catch_up
    assert d.missed is not None
    assert (d.missed.first, d.missed.last, d.missed.count) == (
        t("2026-03-02T10:10:00"),
        t("2026-03-02T10:25:00"),
        4,
    )
    # Once that run is recorded, nothing else of the gap comes back.
    after = due(s, d.run, t("2026-03-02T10:31:05"), running_since=now)
    assert not after.has_work


def test_missed_under_run_once_outside_grace_is_only_recorded() -> None:
    s = sched("@hourly", since="2026-03-02T07:30:00", catch_up="run-once", grace=timedelta(minutes=20))
    now = t("2026-03-02T11:30:00")
    d = due(s, t("2026-03-02T08:00:00"), now, running_since=now)
    assert d.run is None
    assert d.missed is not None
    assert (d.missed.first, d.missed.last, d.missed.count) == (
        t("2026-03-02T09:00:00"),
        t("2026-03-02T11:00:00"),
        3,
    )
    within = due(s.replace(grace=timedelta(hours=1)), t("2026-03-02T08:00:00"), now, running_since=now)
    assert within.run == t("2026-03-02T11:00:00")
    assert within.catch_up
    assert within.missed is not None
    assert within.missed.count == 2


def test_a_single_missed_slot_under_run_once_runs_without_a_missed_record() -> None:
    s = sched(catch_up="run-once")
    now = t("2026-03-02T10:12:00")
    d = due(s, t("2026-03-02T10:05:00"), now, running_since=now)
    assert d.run == t("2026-03-02T10:10:00")
    assert d.catch_up
    assert d.missed is None


def test_gap_split_between_missed_before_start_and_skipped_after_start() -> None:
    """Engine started at 10:22 (after a gap), then stayed busy until 10:41: 10:10-10:20 were missed,
    10:25-10:35 skipped, 10:40 runs."""
    d = due(
        sched(), t("2026-03-02T10:05:00"), t("2026-03-02T10:41:00"), running_since=t("2026-03-02T10:22:00")
    )
    assert d.run == t("2026-03-02T10:40:00")
    assert not d.catch_up
    assert d.missed is not None
    assert d.skipped is not None
    assert (d.missed.first, d.missed.last, d.missed.count) == (
        t("2026-03-02T10:10:00"),
        t("2026-03-02T10:20:00"),
        3,
    )
    assert (d.skipped.first, d.skipped.last, d.skipped.count) == (
        t("2026-03-02T10:25:00"),
        t("2026-03-02T10:35:00"),
        3,
    )


def test_clock_jump_backwards_never_runs_a_slot_again() -> None:
    s = sched()
    last = t("2026-03-02T10:05:00")
    for back in ("2026-03-02T10:05:00", "2026-03-02T09:50:00", "2026-03-01T10:05:00"):
        d = due(s, last, t(back), running_since=t(back))
        assert not d.has_work
        assert d.next_slot == t("2026-03-02T10:10:00")


def test_clock_jump_forward_counts_the_gap_as_missed() -> None:
    """After a resume the engine restarts running_since: the gap follows the catch-up policy."""
    s = sched(catch_up="skip")
    resumed = t("2026-03-02T18:00:02")
    d = due(s, t("2026-03-02T10:05:00"), resumed, running_since=resumed)
    assert d.run is None
    assert d.missed is not None
    assert d.missed.last == t("2026-03-02T18:00:00")
    # The same gap without the reset would run the newest slot as a late one.
    late = due(s, t("2026-03-02T10:05:00"), resumed, running_since=t("2026-03-02T10:00:00"))
    assert late.run == t("2026-03-02T18:00:00")


def test_paused_schedule_has_nothing_due() -> None:
    d = due(sched(enabled=False), None, t("2026-03-09T00:00:00"))
    assert not d.has_work
    assert d.next_slot is None


def test_without_running_since_every_past_slot_counts_as_missed() -> None:
    d = due(sched(catch_up="skip"), None, t("2026-03-02T10:05:00.300"))
    assert d.run is None
    assert d.missed is not None
    assert d.missed.count == 1


def test_counting_a_long_cron_gap_is_capped() -> None:
    s = sched("* * * * *", catch_up="skip")
    now = t("2026-04-02T10:00:00.5")
    d = due(s, t("2026-03-02T10:05:00"), now, running_since=now)
    assert d.missed is not None
    assert d.missed.capped
    assert d.missed.count == COUNT_LIMIT
    assert d.missed.last == t("2026-04-02T10:00:00")
    assert "more than 1000" in d.missed.describe()


def test_cron_is_evaluated_in_utc() -> None:
    s = sched("0 3 * * 1", since="2026-03-01T00:00:00")  # Mondays 03:00 UTC
    assert next_slots(s, t("2026-03-01T00:00:00"), 2) == [t("2026-03-02T03:00:00"), t("2026-03-09T03:00:00")]


# -- @every ----------------------------------------------------------------------------------


def test_every_slots_are_anchored_at_the_unix_epoch() -> None:
    s = sched("@every 2s", since="2026-03-02T10:00:00.5")
    d = due(s, None, t("2026-03-02T10:00:02.1"), running_since=t("2026-03-02T10:00:00.5"))
    assert d.run == t("2026-03-02T10:00:02")
    assert d.next_slot == t("2026-03-02T10:00:04")
    # Another active_since (a restart, a resume) does not shift the slots.
    other = due(s.replace(active_since=t("2026-03-02T10:00:01.9")), None, t("2026-03-02T10:00:03"))
    assert other.next_slot == t("2026-03-02T10:00:04")


def test_every_odd_interval_uses_epoch_multiples() -> None:
    s = sched("@every 1h30m", since="2026-03-02T00:00:00")
    slots = next_slots(s, t("2026-03-02T00:00:00"), 3)
    for slot in slots:
        assert (slot - EPOCH) % timedelta(minutes=90) == timedelta(0)
    assert slots[1] - slots[0] == timedelta(minutes=90)


def test_every_missed_count_is_exact_for_any_gap() -> None:
    s = sched("@every 2s", catch_up="skip")
    now = t("2026-04-02T10:00:00.5")
    d = due(s, t("2026-03-02T10:05:00"), now, running_since=now)
    assert d.missed is not None
    assert not d.missed.capped
    assert d.missed.count == (t("2026-04-02T10:00:00") - t("2026-03-02T10:05:00")) // timedelta(seconds=2)


def test_a_slot_exactly_at_the_engine_start_is_on_time_not_missed() -> None:
    now = t("2026-03-02T10:10:00")
    d = due(sched(catch_up="skip"), t("2026-03-02T10:05:00"), now, running_since=now)
    assert d.run == now
    assert d.missed is None


def test_every_late_runs_skip_what_came_during_a_long_run() -> None:
    s = sched("@every 2s", since="2026-03-02T10:00:00")
    d = due(s, t("2026-03-02T10:00:02"), t("2026-03-02T10:00:09.5"), running_since=t("2026-03-02T10:00:00"))
    assert d.run == t("2026-03-02T10:00:08")
    assert d.skipped is not None
    assert d.skipped.count == 2


def test_due_all_keeps_order_and_uses_each_last_slot() -> None:
    a = sched(since="2026-03-02T10:00:30")
    b = sched("@every 2s", since="2026-03-02T10:00:30").replace(id="s2-abcdef")
    now = t("2026-03-02T10:05:00.5")
    out = due_all(
        [a, b], {"s2-abcdef": t("2026-03-02T10:05:00")}, now, running_since=t("2026-03-02T10:00:30")
    )
    assert [d.schedule_id for d in out] == ["s1-abcdef", "s2-abcdef"]
    assert out[0].run == t("2026-03-02T10:05:00")
    assert not out[1].has_work


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        due(sched(), None, datetime(2026, 3, 2, 10, 5))


# -- property: whatever the clock does, no slot runs twice and runs only go forward ----------


@settings(max_examples=200, deadline=None)
@given(
    cron=st.sampled_from(["*/5 * * * *", "@every 7s", "@every 2m", "0 * * * *", "*/1 * * * *"]),
    catch_up=st.sampled_from(["skip", "run-once"]),
    steps=st.lists(
        st.tuples(st.integers(min_value=-4000, max_value=8000), st.booleans()), min_size=1, max_size=40
    ),
)
def test_no_slot_ever_runs_twice(cron: str, catch_up: str, steps: list[tuple[int, bool]]) -> None:
    s = sched(cron, catch_up=catch_up, since="2026-03-02T10:00:00")
    now = t("2026-03-02T10:00:00")
    running_since = now
    last: datetime | None = None
    recorded: set[datetime] = set()
    for delta, reset in steps:
        now = now + timedelta(seconds=delta)
        if reset or delta < 0:
            running_since = now
        d = due(s, last, now, running_since)
        marks = [x.last for x in (d.missed, d.skipped) if x is not None]
        if d.run is not None:
            assert d.run <= now
            assert d.next_slot is None or d.next_slot > d.run
            marks.append(d.run)
        for mark in marks:
            assert last is None or mark > last, "a slot at or before the last recorded one came back"
            assert mark > s.active_since
            assert mark not in recorded
            recorded.add(mark)
        if marks:
            last = max(marks)
