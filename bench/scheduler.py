"""The workstation scheduler's three numbers (issue: scheduler).

1. Due-time computation for 1,000 schedules (``due_all``), goal under 50 ms: cold (nothing cached,
   as on the first tick after start) and warm (every later tick, the steady state).
2. Firing latency against the due time over 30 runs, median and worst, goal under 1 s: the headless
   engine (``Engine.serve``, as ``lhdesk scheduler run`` uses it) runs an ``@every 2s`` schedule
   against the demo cluster over HTTPS; latency is the moment a run starts (its record is written,
   just before the SystemBackup is created) minus its slot.
3. The engine thread's CPU time while idle for 60 s, goal under 0.5 s: ten schedules that are not
   due, observation of in-cluster runs on (once a minute), measured with ``time.thread_time()``
   inside the engine thread.

    python bench/scheduler.py [--schedules 1000] [--runs 30] [--idle-seconds 60] [--speed 50]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lhdesk.core import cron as core_cron
from lhdesk.demo.cluster import ADMIN_CONTEXT, DemoCluster
from lhdesk.schedule import due as due_mod
from lhdesk.schedule.contexts import KubeconfigApiFactory
from lhdesk.schedule.engine import Engine, EngineEvent, RunFinished, RunStarted
from lhdesk.schedule.model import Schedule
from lhdesk.schedule.store import Store

CRONS = (
    "0 2 * * *",
    "*/15 * * * *",
    "30 3 * * 1-5",
    "@daily",
    "0 */6 * * *",
    "5 4 1 * *",
    "@every 2h",
    "@every 90m",
    "0 0 * * 0",
    "15 1,13 * * *",
)


def bench_due(count: int) -> None:
    rng = random.Random(7)
    now = datetime(2026, 3, 2, 10, 0, 0, 500000, tzinfo=UTC)
    schedules = [
        Schedule(
            id=f"s{i:04d}-bench",
            name=f"s{i}",
            context=f"ctx{i % 7}",
            # Half share a handful of common crons; half are distinct (minute/hour spread), so the
            # cold number is not flattered by the cache.
            cron=rng.choice(CRONS)
            if i % 2
            else f"{rng.randrange(60)} {rng.randrange(24)} * * {rng.randrange(7)}",
            retain=3,
            active_since=now - timedelta(days=30),
        )
        for i in range(count)
    ]
    # Each has run at its latest slot, as in the steady state.
    last = {s.id: due_mod.latest_slot_at_or_before(s.cron, now) for s in schedules}
    last_slots = {k: v for k, v in last.items() if v is not None}
    cold: list[float] = []
    for _ in range(5):
        due_mod.next_slot_after.cache_clear()
        due_mod._parsed.cache_clear()
        core_cron._parse_field.cache_clear()
        began = time.perf_counter()
        decisions = due_mod.due_all(schedules, last_slots, now, now - timedelta(hours=1))
        cold.append(time.perf_counter() - began)
    assert not any(d.has_work for d in decisions)
    warm: list[float] = []
    for step in range(50):
        moment = now + timedelta(seconds=step)
        began = time.perf_counter()
        due_mod.due_all(schedules, last_slots, moment, now - timedelta(hours=1))
        warm.append(time.perf_counter() - began)
    print(f"due_all for {count} schedules (goal < 50 ms):")
    ms = 1000
    for label, times in (("warm tick (steady state)", warm), ("cold (first tick, nothing cached)", cold)):
        print(f"  {label}: median {statistics.median(times) * ms:.2f} ms, worst {max(times) * ms:.2f} ms")


def bench_latency(demo: DemoCluster, workdir: Path, runs: int) -> None:
    store = Store.in_dir(workdir / "latency")
    factory = KubeconfigApiFactory(demo.kubeconfig_path)
    store.add_schedule(
        Schedule(
            id="every-bench1",
            name="every",
            context=ADMIN_CONTEXT,
            cron="@every 2s",
            retain=2,
            active_since=datetime.now(UTC),
        )
    )
    latencies: list[float] = []
    outcomes: list[str] = []
    done = threading.Event()

    def listener(event: EngineEvent) -> None:
        if isinstance(event, RunStarted) and event.run.kind == "schedule":
            latencies.append((datetime.now(UTC) - event.run.slot).total_seconds())
        elif isinstance(event, RunFinished) and event.run.kind == "schedule":
            outcomes.append(event.run.outcome)
            if len([o for o in outcomes if o in ("ready", "error", "adopted")]) >= runs:
                engine.stop()
                done.set()

    engine = Engine(store, factory, listener=listener, observe_interval=None)
    thread = threading.Thread(target=engine.serve, name="lhdesk-scheduler")
    thread.start()
    finished = done.wait(runs * 10 + 60)
    engine.stop()
    thread.join()
    factory.close()
    store.close()
    counts = {o: outcomes.count(o) for o in sorted(set(outcomes))}
    print(f"firing latency over {len(latencies)} runs of an @every 2s schedule (goal < 1 s):")
    if latencies:
        print(f"  median {statistics.median(latencies) * 1000:.1f} ms, worst {max(latencies) * 1000:.1f} ms")
    print(f"  outcomes: {counts}{'' if finished else ' (timed out before all runs)'}")


def bench_idle(demo: DemoCluster, workdir: Path, seconds: float) -> None:
    store = Store.in_dir(workdir / "idle")
    now = datetime.now(UTC)
    for i in range(10):
        store.add_schedule(
            Schedule(
                id=f"idle-{i:02d}",
                name=f"idle {i}",
                context=ADMIN_CONTEXT,
                cron="0 3 1 1 *",
                retain=3,
                active_since=now,
            )
        )
    factory = KubeconfigApiFactory(demo.kubeconfig_path)
    engine = Engine(store, factory)
    cpu: list[float] = []

    def serve() -> None:
        began = time.thread_time()
        engine.serve(duration=seconds)
        cpu.append(time.thread_time() - began)

    thread = threading.Thread(target=serve, name="lhdesk-scheduler")
    started = time.monotonic()
    thread.start()
    thread.join()
    elapsed = time.monotonic() - started
    factory.close()
    store.close()
    goal = 0.5 * seconds / 60
    print(f"engine thread CPU while idle for {elapsed:.0f} s with 10 schedules (goal < {goal:.2f} s):")
    print(f"  {cpu[0]:.3f} s ({cpu[0] / elapsed * 100:.2f} % of one core)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--schedules", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument(
        "--speed", type=float, default=50.0, help="demo cluster speed (SystemBackups finish fast)"
    )
    args = parser.parse_args()
    bench_due(args.schedules)
    with tempfile.TemporaryDirectory(prefix="lhdesk-bench-") as tmp:
        workdir = Path(tmp)
        with DemoCluster(workdir / "demo", seed="none", speed=args.speed) as demo:
            bench_latency(demo, workdir, args.runs)
            bench_idle(demo, workdir, args.idle_seconds)


if __name__ == "__main__":
    main()
