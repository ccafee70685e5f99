"""quell: incident response for AI systems.

The SDK's names load on first use, so ``import quell`` stays light:
``quell.Monitor`` wraps model calls, ``quell.guard`` lets agents ask before acting,
``quell.Signal`` is the one normalised signal shape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Monitor", "Signal", "__version__", "guard"]

if TYPE_CHECKING:
    from quell import guard
    from quell.ingest.signal import Signal
    from quell.sdk import Monitor


def __getattr__(name: str) -> Any:
    if name == "Monitor":
        from quell.sdk import Monitor

        return Monitor
    if name == "guard":
        import importlib

        return importlib.import_module("quell.guard")
    if name == "Signal":
        from quell.ingest.signal import Signal

        return Signal
    raise AttributeError(f"module 'quell' has no attribute {name!r}")
