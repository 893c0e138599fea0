"""Runner and engine logic on an in-memory API and a fake clock (pure logic; the cluster parts are
tested against the demo cluster in test_runner_demo.py)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from lhdesk.core.errors import Invalid
from lhdesk.schedule.engine import Engine, EngineEvent, RunFinished, RunStarted, ScheduleChanged
from lhdesk.schedule.model import KIND_RECURRING_JOB, Schedule
from lhdesk.schedule.naming import RECURRING_JOB_LABEL, backup_name, schedule_labels
from lhdesk.schedule.runner import apply_retention, observe_cluster_runs, run_once
from lhdesk.schedule.store import Store

# The fakes live in conftest.py (fixtures `fake_api`, `clock`); tests only use them through fixtures.
FakeApi = Any
FakeClock = Any


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def sched(clock: FakeClock, **kw: object) -> Schedule:
    base = Schedule(
        id="night-abc123",
        name="Night",
        context="demo-admin",
        cron="*/5 * * * *",
        retain=2,
        active_since=clock.now(),
    )
    return base.replace(**kw)


SLOT = t("2026-03-02T10:05:00")


def test_a_run_creates_the_named_labelled_backup_and_records_ready(
    fake_api: FakeApi, store: Store, clock: FakeClock
) -> None:
    s = store.add_schedule(sched(clock, volume_backup_policy="always"))
    started: list[int | None] = []
    record = run_once(fake_api, s, SLOT, store, on_started=lambda r: started.append(r.id), clock=clock)
    name = backup_name(s.id, SLOT)
    assert record.outcome == "ready"
    assert record.backup == name
    assert started == [record.id]
    obj = fake_api.objects[name]
    assert obj["metadata"]["labels"] == schedule_labels(s.id)
    assert obj["spec"] == {"volumeBackupPolicy": "always"}
    assert store.get_run(record.id or 0) == record
    assert store.last_slot(s.id) == SLOT


def test_an_existing_backup_of_this_schedule_is_adopted_not_duplicated(
    fake_api: FakeApi, store: Store, clock: FakeClock
) -> None:
    s = store.add_schedule(sched(clock))
    name = backup_name(s.id, SLOT)
    fake_api.put(name, "Generating", schedule_labels(s.id))
    fake_api.objects[name]["status"]["state"] = ""
    fake_api._progress[name] = 0
    fake_api._final[name] = "Ready"
    record = run_once(fake_api, s, SLOT, store, clock=clock)
    assert record.outcome == "adopted"
    assert "earlier attempt" in record.message
    assert fake_api.created == []


def test_a_foreign_backup_with_our_name_is_left_alone(
    fake_api: FakeApi, store: Store, clock: FakeClock
) -> None:
    s = store.add_schedule(sched(clock))
    name = backup_name(s.id, SLOT)
    fake_api.put(name, "Ready", {"app": "other"}, created=SLOT)
    record = run_once(fake_api, s, SLOT, store, clock=clock)
    assert record.outcome == "error"
    assert "not made by this schedule" in record.message
    assert name in fake_api.objects


def test_a_failed_backup_is_an_error_with_longhorns_reason(
    fake_api: FakeApi, store: Store, clock: FakeClock
) -> None:
    s = store.add_schedule(sched(clock))
    fake_api.fail_next = 1
    record = run_once(fake_api, s, SLOT, store, clock=clock)
    assert record.outcome == "error"
    assert "Generate: failed to generate system backup file" in record.message


def test_a_refused_create_is_an_error_with_the_servers_message(
    fake_api: FakeApi, store: Store, clock: FakeClock
) -> None:
    s = store.add_schedule(sched(clock))
    fake_api.create_error = Invalid(
        "The server rejected SystemBackup: backup target default is not available."
    )
    record = run_once(fake_api, s, SLOT, store, clock=clock)
    assert record.outcome == "error"
    assert "backup target default is not available" in record.message


def test_retention_deletes_failed_first_then_oldest_and_only_its_own(
    fake_api: FakeApi, store: Store, clock: FakeClock
) -> None:
    s = sched(clock, retain=2)
    own = schedule_labels(s.id)
    fake_api.put("old-ready", "Ready", own, created=t("2026-03-01T00:00:00"))
    fake_api.put("mid-ready", "Ready", own, created=t("2026-03-01T06:00:00"))
    fake_api.put("new-ready", "Ready", own, created=t("2026-03-01T12:00:00"))
    fake_api.put("failed", "Error", own)
    fake_api.put("busy", "Uploading", own)
    fake_api.put("someone-elses", "Ready", schedule_labels("other-zzz999"), created=t("2026-02-01T00:00:00"))
    fake_api.put("job-made", "Ready", {RECURRING_JOB_LABEL: "nightly"}, created=t("2026-02-01T00:00:00"))
    result = apply_retention(fake_api, s)
    assert set(result.pruned) == {"failed", "old-ready"}
    assert result.problems == ()
    assert set(fake_api.objects) == {"mid-ready", "new-ready", "busy", "someone-elses", "job-made"}


def test_stop_leaves_the_run_running_and_the_next_attempt_adopts(
    fake_api: FakeApi, store: Store, clock: FakeClock
) -> None:
    s = store.add_schedule(sched(clock))
    stop = threading.Event()
    fake_api.steps = 100
    fake_api.on_watch = stop.set
    interrupted = run_once(fake_api, s, SLOT, store, stop_event=stop, clock=clock)
    assert interrupted.outcome == "running"
    assert store.unfinished_runs() == [interrupted]
    fake_api.steps = 1
    fake_api.on_watch = None
    finished = run_once(fake_api, s, SLOT, store, resume=interrupted, clock=clock)
    assert finished.outcome == "adopted"
    assert finished.id == interrupted.id
    assert fake_api.created == [backup_name(s.id, SLOT)]
    assert store.unfinished_runs() == []


def test_a_run_that_never_ends_times_out_as_an_error(
    fake_api: FakeApi, store: Store, clock: FakeClock
) -> None:
    s = store.add_schedule(sched(clock))
    fake_api.steps = 10**9
    fake_api.on_watch = lambda: clock.advance(30)
    record = run_once(fake_api, s, SLOT, store, timeout=timedelta(minutes=2), clock=clock)
    assert record.outcome == "error"
    assert "gave up after 0:02:00" in record.message
    assert "Generating" in record.message


def test_observed_recurring_job_runs_are_recorded_once_and_updated(
    fake_api: FakeApi, store: Store, clock: FakeClock
) -> None:
    fake_api.put("nightly--aaaa", "Uploading", {RECURRING_JOB_LABEL: "nightly"})
    fake_api.put("nightly--bbbb", "Error", {RECURRING_JOB_LABEL: "nightly"})
    fake_api.put("manual", "Ready", {}, created=SLOT)
    first = observe_cluster_runs(fake_api, store, "demo-admin", clock=clock)
    assert sorted((r.backup, r.outcome) for r in first) == [
        ("nightly--aaaa", "running"),
        ("nightly--bbbb", "error"),
    ]
    assert all(r.kind == KIND_RECURRING_JOB and r.schedule_id == "nightly" for r in first)
    assert observe_cluster_runs(fake_api, store, "demo-admin", clock=clock) == []
    fake_api.objects["nightly--aaaa"]["status"]["state"] = "Ready"
    (changed,) = observe_cluster_runs(fake_api, store, "demo-admin", clock=clock)
    assert (changed.backup, changed.outcome) == ("nightly--aaaa", "ready")
    del fake_api.objects["nightly--bbbb"]  # Longhorn's retention pruned it: the history keeps it
    assert observe_cluster_runs(fake_api, store, "demo-admin", clock=clock) == []
    assert len(store.history(kind=KIND_RECURRING_JOB)) == 2


# -- engine --------------------------------------------------------------------------------------


def make_engine(store: Store, api: FakeApi, clock: FakeClock, events: list[EngineEvent]) -> Engine:
    return Engine(store, lambda context: api, clock, listener=events.append, observe_interval=None)


def test_engine_runs_each_slot_once_and_reports_events(
    fake_api: FakeApi, store: Store, clock: FakeClock
) -> None:
    s = store.add_schedule(sched(clock, cron="@every 2s"))
    events: list[EngineEvent] = []
    engine = make_engine(store, fake_api, clock, events)
    assert engine.tick() == []
    assert engine.decisions()[s.id].next_slot == t("2026-03-02T10:00:02")
    assert engine.next_wakeup() == 1.0
    clock.advance(1.6)
    assert 0 <= engine.next_wakeup() < 0.5
    (record,) = engine.tick()
    assert (record.slot, record.outcome) == (t("2026-03-02T10:00:02"), "ready")
    assert [type(e) for e in events] == [RunStarted, RunFinished]
    assert engine.tick() == []
    clock.advance(2)
    assert [r.slot for r in engine.tick()] == [t("2026-03-02T10:00:04")]


def test_engine_treats_a_sleep_as_missed_slots_under_the_catch_up_policy(
    fake_api: FakeApi, store: Store, clock: FakeClock
) -> None:
    s = store.add_schedule(sched(clock, catch_up="skip"))
    events: list[EngineEvent] = []
    engine = make_engine(store, fake_api, clock, events)
    engine.tick()
    clock.advance(1)
    engine.tick()
    clock.jump(3 * 3600)  # the laptop slept for three hours
    made = engine.tick()
    assert [r.outcome for r in made] == ["missed"]
    assert "36 slots" in made[0].message
    assert "catch-up policy is skip" in made[0].message
    assert fake_api.created == []
    # Had the engine been awake (wall and monotonic agree), the newest slot would have run late.
    clock.advance(300)
    assert [r.outcome for r in engine.tick()] == ["ready"]
    assert store.last_slot(s.id) == t("2026-03-02T13:05:00")


def test_engine_run_once_policy_catches_up_after_a_short_sleep(
    fake_api: FakeApi, store: Store, clock: FakeClock
) -> None:
    store.add_schedule(sched(clock, catch_up="run-once"))
    engine = make_engine(store, fake_api, clock, [])
    engine.tick()
    clock.jump(1800)
    made = engine.tick()
    assert [r.outcome for r in made] == ["missed", "ready"]
    assert "catch-up" in made[1].message


def test_engine_clock_going_back_never_reruns(fake_api: FakeApi, store: Store, clock: FakeClock) -> None:
    store.add_schedule(sched(clock))
    engine = make_engine(store, fake_api, clock, [])
    engine.tick()
    clock.advance(300)
    assert [r.outcome for r in engine.tick()] == ["ready"]
    clock.jump(-600)
    for _ in range(5):
        clock.advance(60)
        assert engine.tick() == []
    assert len(fake_api.created) == 1


def test_engine_recovers_an_interrupted_run_by_adoption(
    fake_api: FakeApi, store: Store, clock: FakeClock
) -> None:
    s = store.add_schedule(sched(clock))
    stop = threading.Event()
    fake_api.steps = 100
    fake_api.on_watch = stop.set
    slot = t("2026-03-02T10:00:00")
    run_once(fake_api, s, slot, store, stop_event=stop, clock=clock)
    fake_api.steps = 1
    fake_api.on_watch = None
    events: list[EngineEvent] = []
    made = make_engine(store, fake_api, clock, events).tick()
    assert [(r.slot, r.outcome) for r in made] == [(slot, "adopted")]
    assert len(fake_api.created) == 1


def test_engine_does_not_create_a_stale_interrupted_run(
    fake_api: FakeApi, store: Store, clock: FakeClock
) -> None:
    s = store.add_schedule(sched(clock, grace=timedelta(minutes=10)))
    from lhdesk.schedule.model import RunRecord

    store.record_run(RunRecord(s.id, t("2026-03-02T09:00:00"), context=s.context, backup="x"))
    (record, *_) = make_engine(store, fake_api, clock, []).tick()
    assert record.outcome == "missed"
    assert "before its SystemBackup was created" in record.message
    assert fake_api.created == []


def test_a_missing_context_is_recorded_in_the_history(store: Store, clock: FakeClock) -> None:
    store.add_schedule(sched(clock, context="gone"))

    def factory(context: str) -> FakeApi:
        raise LookupError(f"context {context!r} is no longer in the kubeconfig")

    events: list[EngineEvent] = []
    engine = Engine(store, factory, clock, listener=events.append, observe_interval=None)  # type: ignore[arg-type]
    engine.tick()
    clock.advance(300)
    (record,) = engine.tick()
    assert record.outcome == "error"
    assert "'gone' cannot be used" in record.message
    assert "no longer in the kubeconfig" in record.message
    assert isinstance(events[-1], RunFinished)


def test_pause_resume_and_run_now(fake_api: FakeApi, store: Store, clock: FakeClock) -> None:
    s = store.add_schedule(sched(clock))
    events: list[EngineEvent] = []
    engine = make_engine(store, fake_api, clock, events)
    engine.tick()
    paused = engine.pause(s.id)
    assert not paused.enabled
    assert isinstance(events[-1], ScheduleChanged)
    clock.advance(3600)
    assert engine.tick() == []
    resumed = engine.resume(s.id)
    assert resumed.active_since == clock.now()
    assert engine.tick() == []  # the paused hour is not caught up
    record = engine.run_now(s.id)
    assert record is not None
    assert record.outcome == "ready"
    assert "Run now" in record.message
    assert engine.run_now(s.id) is None  # same second: the slot is taken


def test_engine_observes_recurring_job_runs(fake_api: FakeApi, store: Store, clock: FakeClock) -> None:
    store.add_schedule(sched(clock))
    fake_api.put("nightly--cccc", "Error", {RECURRING_JOB_LABEL: "nightly"})
    events: list[EngineEvent] = []
    engine = Engine(store, lambda c: fake_api, clock, listener=events.append)
    engine.tick()
    finished = [e.run for e in events if isinstance(e, RunFinished)]
    assert [(r.kind, r.outcome) for r in finished] == [(KIND_RECURRING_JOB, "error")]
    clock.advance(5)
    engine.tick()
    assert len(events) == 1  # not observed again before the interval


def test_stop_interrupts_serve(fake_api: FakeApi, store: Store, clock: FakeClock) -> None:
    engine = make_engine(store, fake_api, clock, [])
    thread = threading.Thread(target=engine.serve)
    thread.start()
    engine.stop()
    thread.join(10)
    assert not thread.is_alive()
