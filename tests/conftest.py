"""Shared fixtures: every test that touches the store runs on SQLite and, when
QUELL_TEST_POSTGRES_URL is set (CI sets it), on PostgreSQL too."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session

import quell.models  # noqa: F401  (registers every table)
from quell.api.app import create_app
from quell.auth.service import create_token
from quell.settings import Settings
from quell.store.base import Base
from quell.store.db import _sqlite_pragmas, session_scope, upgrade

POSTGRES_URL = os.environ.get("QUELL_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", *(["postgresql"] if POSTGRES_URL else [])]


def _postgres_engine(schema: str) -> Engine:
    url = POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    # Each test run gets its own schema, so parallel runs on one database do not collide.
    return create_engine(url, connect_args={"options": f"-csearch_path={schema}"})


@pytest.fixture(scope="session", params=BACKENDS)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "quell-test.db"
        eng = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})
        event.listen(eng, "connect", _sqlite_pragmas)
        upgrade(eng)
        yield eng
        eng.dispose()
        return
    schema = f"quell_test_{uuid.uuid4().hex[:10]}"
    eng = _postgres_engine(schema)
    upgrade(eng)
    yield eng
    eng.dispose()
    url = POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _empty_tables(engine: Engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture()
def db(engine: Engine) -> Iterator[Engine]:
    """The migrated test database, emptied before each test.

    Process-wide in-memory state built from the store (the correlation index) is dropped
    with it, so no test sees another's incidents.
    """
    from quell.detection.pipeline import Correlator

    _empty_tables(engine)
    Correlator.forget(engine)
    yield engine


@pytest.fixture()
def session(db: Engine) -> Iterator[Session]:
    with session_scope(db) as s:
        yield s


@pytest.fixture()
def app_client(db: Engine) -> Iterator[TestClient]:
    app = create_app(Settings(database_url="sqlite://"), engine=db)
    with TestClient(app) as client:
        yield client


@pytest.fixture()
def tokens(db: Engine) -> dict[str, str]:
    """A token per role: 'ada' admin, 'rui' responder, 'vic' viewer, 'rex' reporter."""
    out = {}
    with session_scope(db) as s:
        for role, name in (
            ("admin", "ada"),
            ("responder", "rui"),
            ("viewer", "vic"),
            ("reporter", "rex"),
        ):
            out[role], _ = create_token(s, name=name, role=role)
    return out


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture()
def demo_yaml(tmp_path: Path) -> Path:
    """A small quell.yaml with a team and three systems chained by dependencies."""
    path = tmp_path / "quell.yaml"
    path.write_text(
        """
teams:
  - name: core
    members:
      - {name: Ada, email: ada@example.com}
      - {name: Rui, timezone: Europe/Lisbon}
systems:
  - {name: chat, kind: generative, owner_team: core, depends_on: [agent], criticality: high,
     regimes: [gdpr_art33], data_classes: [personal_data]}
  - {name: agent, kind: agent, owner_team: core, depends_on: [scorer]}
  - {name: scorer, kind: predictive, current_model_version: v2, previous_model_version: v1}
risks:
  - {key: R1, title: Injection leaks data, system: chat, likelihood: 4, impact: 5}
""",
        encoding="utf-8",
    )
    return path
