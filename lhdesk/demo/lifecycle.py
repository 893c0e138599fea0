"""The shape every part of the demo cluster shares: ``start()``, ``stop()``, and ``with`` for both."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Self


class Service(ABC):
    """A part that runs between ``start()`` and ``stop()``; a ``with`` block does both."""

    @abstractmethod
    def start(self) -> object: ...

    @abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
