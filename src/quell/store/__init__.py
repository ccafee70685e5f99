"""Storage: engine, sessions, tables and migrations."""

from quell.store.base import Base
from quell.store.db import get_engine, session_scope, upgrade

__all__ = ["Base", "get_engine", "session_scope", "upgrade"]
