"""The shape every part of the demo cluster shares: ``start()``, ``stop()``, and ``with`` for both."""

from __future__ import annotations

from typing import Self


class Service:
    """A part that runs between ``start()`` and ``stop()``; a ``with`` block does both."""

    def start(self) -> object:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
