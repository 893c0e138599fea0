"""What is due: a pure function of (schedule, last recorded slot, now).

Slots
    A schedule's *slots* are the times its cron fires, in UTC (:mod:`lhdesk.core.cron`).
    ``@every <d>`` slots are anchored at the Unix epoch: ``1970-01-01T00:00:00Z + k*d``. So
    ``@every 2h`` fires at even UTC hours, and a restart, a pause or an edit never shifts the
    slots (robfig anchors ``@every`` at the process start, which a workstation cannot keep).

Rules (``lower`` = the later of the last recorded slot and the schedule's ``active_since``)
    - Only slots strictly after ``lower`` and at or before ``now`` can be due. A slot is never run
      twice: slots at or before the last recorded slot are out, even after the clock jumps back.
    - Slots that came while the scheduler was running (at or after ``running_since``) but were not
      started yet (another run was in progress, the tick was late) are *late*: the newest one runs;
      older late ones are recorded ``skipped`` (like a CronJob's ``concurrencyPolicy: Forbid``).
    - Slots that came while no scheduler was running (before ``running_since``: the machine was
      off or asleep, the wall clock jumped forward) are *missed*, and the catch-up policy says
      what happens: ``skip`` records them ``missed``; ``run-once`` runs the newest of them if it is
      within the grace window of now, and records the others ``missed``.
    - A paused schedule has nothing due and no next slot.

The engine passes ``running_since``: the start of its current uninterrupted stretch of ticking,
reset after a clock jump or a sleep. Without it, every past slot counts as missed.

Counting the slots of a long gap is capped at :data:`COUNT_LIMIT` (a laptop closed for a month
under ``@every 2s`` missed 1.3 million slots; the history says "more than 1000").
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lhdesk.core import cron as core_cron
from lhdesk.schedule.model import Schedule, as_utc

#: The anchor of ``@every`` slots.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
COUNT_LIMIT = 1000
_TINY = timedelta(microseconds=1)


@dataclass(frozen=True)
class SlotSpan:
    """Consecutive slots ``first`` .. ``last`` (inclusive); ``count`` is exact unless ``capped``."""

    first: datetime
    last: datetime
    count: int
    capped: bool = False

    def describe(self) -> str:
        many = f"more than {self.count}" if self.capped else str(self.count)
        if self.count == 1 and not self.capped:
            return f"1 slot ({_fmt(self.first)})"
        return f"{many} slots from {_fmt(self.first)} to {_fmt(self.last)}"


def _fmt(moment: datetime) -> str:
    return core_cron.format_utc(moment)


@dataclass(frozen=True)
class Decision:
    """What to do for one schedule now.

    ``run``: the slot to run now, or None. ``catch_up``: that run is a catch-up of a missed slot.
    ``missed`` / ``skipped``: slots to record as such (all before ``run``). ``next_slot``: the next
    slot after now (and after ``run``), None when paused or when the cron never fires again.
    """

    schedule_id: str
    run: datetime | None = None
    catch_up: bool = False
    missed: SlotSpan | None = None
    skipped: SlotSpan | None = None
    next_slot: datetime | None = None

    @property
    def has_work(self) -> bool:
        return self.run is not None or self.missed is not None or self.skipped is not None


@functools.lru_cache(maxsize=4096)
def _parsed(expr: str) -> core_cron.CronSchedule:
    return core_cron.parse(expr)


@functools.lru_cache(maxsize=65536)
def next_slot_after(expr: str, moment: datetime) -> datetime | None:
    """The first slot strictly after ``moment`` (cached: it is asked again on every tick)."""
    schedule = _parsed(expr)
    if schedule.every is not None:
        return schedule.next_after(moment, EPOCH)
    try:
        return schedule.next_after(moment)
    except core_cron.CronError:
        return None


def latest_slot_at_or_before(expr: str, moment: datetime) -> datetime | None:
    """The newest slot at or before ``moment``, or None."""
    schedule = _parsed(expr)
    if schedule.every is not None:
        return schedule.previous_at_or_before(moment, EPOCH)
    return schedule.previous_at_or_before(moment)


def _span(expr: str, first: datetime, last: datetime) -> SlotSpan:
    """The slots from ``first`` to ``last``, both slots of ``expr`` with ``first <= last``."""
    schedule = _parsed(expr)
    if schedule.every is not None:
        return SlotSpan(first, last, (last - first) // schedule.every + 1)
    count = 1
    current = first
    while current < last:
        if count >= COUNT_LIMIT:
            return SlotSpan(first, last, count, capped=True)
        following = next_slot_after(expr, current)
        if following is None or following > last:
            break
        current = following
        count += 1
    return SlotSpan(first, last, count)


def _span_between(expr: str, after: datetime, before: datetime) -> SlotSpan | None:
    """The slots strictly after ``after`` and strictly before ``before``, or None."""
    first = next_slot_after(expr, after)
    if first is None or first >= before:
        return None
    last = latest_slot_at_or_before(expr, before - _TINY)
    if last is None or last < first:
        return None
    return _span(expr, first, last)


def due(
    schedule: Schedule,
    last_slot: datetime | None,
    now: datetime,
    running_since: datetime | None = None,
) -> Decision:
    """Decide what ``schedule`` needs at ``now`` (see the module docstring for the rules)."""
    if not schedule.enabled:
        return Decision(schedule.id)
    now = as_utc(now)
    lower = as_utc(schedule.active_since)
    if last_slot is not None:
        lower = max(lower, as_utc(last_slot))
    expr = schedule.cron
    first = next_slot_after(expr, lower)
    if first is None or first > now:
        # Nothing due (this also covers the clock going back before the last slot).
        return Decision(schedule.id, next_slot=first)
    newest = latest_slot_at_or_before(expr, now)
    if newest is None or newest < first:  # only possible with a cron that stops (none do in practice)
        return Decision(schedule.id, next_slot=next_slot_after(expr, now))
    following = next_slot_after(expr, now)
    since = now if running_since is None else as_utc(running_since)

    if newest >= since:
        # Late: the newest slot came while we were running. Run it; what lies before it is
        # skipped (it came while we were running) or missed (it came before we were).
        boundary = max(since, lower)
        missed = _span_between(expr, lower, boundary) if boundary > lower else None
        skipped = _span_between(expr, max(lower, boundary - _TINY), newest)
        return Decision(schedule.id, run=newest, missed=missed, skipped=skipped, next_slot=following)

    # Every slot in (lower, now] came while no scheduler was running: the catch-up policy decides.
    if schedule.catch_up == "run-once" and now - newest <= schedule.grace:
        missed = _span_between(expr, lower, newest)
        return Decision(schedule.id, run=newest, catch_up=True, missed=missed, next_slot=following)
    return Decision(schedule.id, missed=_span(expr, first, newest), next_slot=following)


def due_all(
    schedules: Iterable[Schedule],
    last_slots: Mapping[str, datetime],
    now: datetime,
    running_since: datetime | None = None,
) -> list[Decision]:
    """:func:`due` for many schedules, in the order given.

    Fast in the steady state (nothing due): one cached next-slot lookup and a comparison each.
    """
    return [due(s, last_slots.get(s.id), now, running_since) for s in schedules]


def next_slots(schedule: Schedule, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` slots strictly after ``after`` (for the Upcoming list)."""
    slots: list[datetime] = []
    current = as_utc(after)
    for _ in range(count):
        following = next_slot_after(schedule.cron, current)
        if following is None:
            break
        slots.append(following)
        current = following
    return slots
