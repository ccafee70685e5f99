"""The one layer through which quell reaches its database.

SQLite (one file, WAL mode) by default; PostgreSQL through the same code when
``QUELL_DATABASE_URL`` names it. Migrations run with Alembic.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from typing import Any, ClassVar, Self, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, Select, create_engine, event, inspect
from sqlalchemy.orm import Session, sessionmaker

from quell.errors import NotFound

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def normalise_url(url: str) -> str:
    """Accept the bare ``postgresql://`` spelling and use psycopg 3 for it."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def get_engine(url: str) -> Engine:
    """One engine per database URL for the life of the process."""
    url = normalise_url(url)
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            if url.startswith("sqlite"):
                engine = create_engine(
                    url, connect_args={"check_same_thread": False, "timeout": 10}
                )
                event.listen(engine, "connect", _sqlite_pragmas)
            else:
                engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
            _engines[url] = engine
        return engine


def dispose_engines() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on any exception."""
    session = Session(bind=engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


T = TypeVar("T")


def first_or_missing(session: Session, query: Select[T], missing: str) -> T:
    """The query's first row, or NotFound (HTTP 404, CLI exit 2) with `missing` as its message."""
    row = session.scalars(query).first()
    if row is None:
        raise NotFound(missing)
    return row


def run_rows(cursor: Any, sql: str, params: Sequence[Sequence[Any]]) -> None:
    """Run `sql` once per parameter row on a DB-API cursor: `execute` for a single row (the
    drivers' executemany costs more setup than one statement is worth), else `executemany`."""
    if len(params) == 1:
        cursor.execute(sql, params[0])
    else:
        cursor.executemany(sql, params)


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("quell.store") / "migrations"))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision (every branch head)."""
    with _lock:
        command.upgrade(alembic_config(engine), "heads")


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return set()
        rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").fetchall()
        return {row[0] for row in rows}


class PerEngine:
    """A process-wide object per database engine: `for_engine` makes it at first use and then
    hands back the same one (a fresh one when the engine at that address was replaced).
    Each subclass keeps its own instances."""

    engine: Any  # subclasses narrow it
    _instances: ClassVar[dict[int, Any]]
    _instances_lock: ClassVar[threading.Lock]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._instances = {}
        cls._instances_lock = threading.Lock()

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def for_engine(cls, engine: Engine) -> Self:
        with cls._instances_lock:
            found = cls._instances.get(id(engine))
            if found is None or found.engine is not engine:
                found = cls._instances[id(engine)] = cls(engine)
            return found

    @classmethod
    def forget(cls, engine: Engine) -> None:
        """Drop the instance of `engine` (tests, after the engine is disposed)."""
        with cls._instances_lock:
            cls._instances.pop(id(engine), None)
