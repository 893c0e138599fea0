"""The object store: every object, a global resourceVersion counter, and the watch event history.

One re-entrant lock guards everything. Stored objects are never mutated after they are stored
(writers store new dicts), so readers may hand them out without copying while they serialise.
Watchers receive events through their own queue, filled under the lock, so a watch that starts
at the resourceVersion a list returned sees every later change exactly once.
"""

from __future__ import annotations

import collections
import json
import logging
import queue
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lhdesk.demo.apiserver.errors import gone

logger = logging.getLogger(__name__)

Key = tuple[str, str]  # (group, plural)
ObjKey = tuple[str, str]  # (namespace, name)


@dataclass(frozen=True)
class Event:
    rv: int
    type: str  # ADDED / MODIFIED / DELETED
    key: Key
    obj: dict[str, Any]
    old: dict[str, Any] | None


class Watcher:
    """One open watch: a queue of events for one resource, closed by the server or the client."""

    CLOSED = object()

    def __init__(self, key: Key) -> None:
        self.key = key
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.closed = threading.Event()
        self.dropped = threading.Event()

    def push(self, event: Event) -> None:
        if not self.closed.is_set():
            self.queue.put(event)

    def close(self, drop: bool = False) -> None:
        if drop:
            self.dropped.set()
        self.closed.set()
        self.queue.put(Watcher.CLOSED)


def encode(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class Store:
    def __init__(self, history: int = 5000) -> None:
        self.lock = threading.RLock()
        self._rv = 0
        self._data: dict[Key, dict[ObjKey, dict[str, Any]]] = collections.defaultdict(dict)
        self._raw: dict[Key, dict[ObjKey, bytes]] = collections.defaultdict(dict)
        # Like kube's watch cache, each resource keeps its own window of recent events, so a busy
        # resource does not push another resource's watchers out of their window.
        self._history_size = max(1, history)
        self._history: dict[Key, collections.deque[Event]] = {}
        # Per resource: events up to and including this rv are no longer in its window.
        self._compacted: dict[Key, int] = collections.defaultdict(int)
        self._watchers: dict[Key, set[Watcher]] = collections.defaultdict(set)

    # ----------------------------------------------------------------- counters

    @property
    def resource_version(self) -> int:
        with self.lock:
            return self._rv

    def next_rv(self) -> int:
        with self.lock:
            self._rv += 1
            return self._rv

    # ----------------------------------------------------------------- reads

    def get(self, key: Key, namespace: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            return self._data[key].get((namespace, name))

    def get_raw(self, key: Key, namespace: str, name: str) -> bytes | None:
        with self.lock:
            obj = self._data[key].get((namespace, name))
            if obj is None:
                return None
            return self._raw_of(key, (namespace, name), obj)

    def _raw_of(self, key: Key, okey: ObjKey, obj: dict[str, Any]) -> bytes:
        raw = self._raw[key].get(okey)
        if raw is None:
            raw = encode(obj)
            self._raw[key][okey] = raw
        return raw

    def items(self, key: Key, namespace: str | None = None) -> tuple[list[dict[str, Any]], int]:
        """Objects of one resource (in one namespace, or all), sorted like etcd keys; and the list rv."""
        with self.lock:
            items = self._data[key]
            if namespace is None:
                keys = sorted(items, key=lambda k: f"{k[0]}/{k[1]}")
            else:
                keys = sorted(k for k in items if k[0] == namespace)
            return [items[k] for k in keys], self._rv

    def encoded(self, key: Key, obj: dict[str, Any]) -> bytes:
        """The JSON of ``obj``, cached while it is the stored version of its object."""
        meta = obj.get("metadata") or {}
        okey = (meta.get("namespace") or "", meta.get("name", ""))
        with self.lock:
            if self._data[key].get(okey) is obj:
                return self._raw_of(key, okey, obj)
        return encode(obj)

    def count(self, key: Key, namespace: str | None = None) -> int:
        with self.lock:
            if namespace is None:
                return len(self._data[key])
            return sum(1 for k in self._data[key] if k[0] == namespace)

    def namespaces_in_use(self, key: Key) -> set[str]:
        with self.lock:
            return {k[0] for k in self._data[key]}

    # ----------------------------------------------------------------- writes

    def _emit(self, event: Event) -> None:
        window = self._history.get(event.key)
        if window is None:
            window = self._history[event.key] = collections.deque(maxlen=self._history_size)
        if len(window) == window.maxlen:
            self._compacted[event.key] = window[0].rv
        window.append(event)
        for w in list(self._watchers.get(event.key, ())):
            w.push(event)

    def put(self, key: Key, obj: dict[str, Any]) -> dict[str, Any]:
        """Store ``obj`` (a fresh dict the caller hands over) with a new resourceVersion."""
        with self.lock:
            rv = self.next_rv()
            meta = obj.setdefault("metadata", {})
            meta["resourceVersion"] = str(rv)
            okey = (meta.get("namespace") or "", meta["name"])
            old = self._data[key].get(okey)
            self._data[key][okey] = obj
            self._raw[key].pop(okey, None)
            self._emit(Event(rv, "MODIFIED" if old is not None else "ADDED", key, obj, old))
            return obj

    def remove(self, key: Key, obj: dict[str, Any]) -> dict[str, Any]:
        """Delete the object; the DELETED event (and the return value) carry a new resourceVersion."""
        with self.lock:
            meta = obj["metadata"]
            okey = (meta.get("namespace") or "", meta["name"])
            old = self._data[key].pop(okey, None)
            self._raw[key].pop(okey, None)
            rv = self.next_rv()
            final = dict(obj)
            final["metadata"] = dict(meta, resourceVersion=str(rv))
            self._emit(Event(rv, "DELETED", key, final, old))
            return final

    def drop_resource(self, key: Key) -> None:
        """Forget every object of a resource without events (its CRD is gone)."""
        with self.lock:
            self._data.pop(key, None)
            self._raw.pop(key, None)
            self._history.pop(key, None)
            self._compacted[key] = self._rv
            for w in list(self._watchers.pop(key, ())):
                w.close()

    # ----------------------------------------------------------------- watch

    def watch(
        self, key: Key, since: int | None, initial: bool, namespace: str | None = None
    ) -> tuple[Watcher, list[Event]]:
        """Open a watch.

        ``since`` None means "from now"; with ``initial`` the current objects come first as ADDED
        events. A ``since`` older than the kept history raises 410 Expired.
        """
        with self.lock:
            backlog: list[Event] = []
            if since is not None and since < self._rv:
                if since < self._compacted[key]:
                    raise gone(f"too old resource version: {since} ({self._compacted[key] + 1})")
                backlog = [e for e in self._history.get(key, ()) if e.rv > since]
            elif initial:
                items, _rv = self.items(key, namespace)
                backlog = [Event(int(o["metadata"]["resourceVersion"]), "ADDED", key, o, None) for o in items]
            w = Watcher(key)
            self._watchers[key].add(w)
            return w, backlog

    def unwatch(self, w: Watcher) -> None:
        with self.lock:
            self._watchers.get(w.key, set()).discard(w)

    def watchers(self) -> Iterable[Watcher]:
        with self.lock:
            return [w for ws in self._watchers.values() for w in ws]

    def close_watchers(self, drop: bool = False) -> int:
        with self.lock:
            all_w = [w for ws in self._watchers.values() for w in ws]
            for w in all_w:
                w.close(drop=drop)
            return len(all_w)

    def history_window(self, key: Key) -> tuple[int, int]:
        """(oldest resourceVersion a watch of ``key`` may start from, current resourceVersion)."""
        with self.lock:
            return self._compacted[key], self._rv
