"""Shared fixtures for the end-to-end tests (run by tests/e2e/run)."""
import hashlib
import os
import pathlib

import psycopg
import pytest


@pytest.fixture
def db():
    """An autocommit connection to the test database (PG* environment)."""
    with psycopg.connect(autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def shared_fixtures() -> pathlib.Path:
    """The shared fixtures, copied where the postgres OS user can read them."""
    return pathlib.Path(os.environ["SENSOR_SHARED_FIXTURES"])


@pytest.fixture
def server_dir(tmp_path_factory) -> pathlib.Path:
    """A fresh directory that both this client and the database server can read and write."""
    base = pathlib.Path(os.environ["SENSOR_E2E_DIR"]) / "server"
    path = pathlib.Path(tmp_path_factory.mktemp("srv", numbered=True).name)
    out = base / path
    out.mkdir(mode=0o777)
    os.chmod(out, 0o777)
    return out


def close(ours, expected, rel=1e-9):
    """|a-b| <= rel*max(1,|b|), the tolerance the reference vectors promise."""
    if ours is None or expected is None:
        return ours is expected
    return abs(ours - expected) <= rel * max(1.0, abs(expected))


def timescaledb_available() -> bool:
    """Whether the test cluster can create TimescaleDB (preloaded when its library exists)."""
    with psycopg.connect(autocommit=True) as conn:
        return conn.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') "
            "AND current_setting('shared_preload_libraries') LIKE '%timescaledb%'"
        ).fetchone()[0]


# Databases with and without TimescaleDB: tests that must hold on both take `flavour`.
FLAVOURS = ["plain", "timescaledb"]


@pytest.fixture(params=FLAVOURS)
def flavour(request):
    if request.param == "timescaledb" and not timescaledb_available():
        pytest.skip("SKIP: TimescaleDB is not installed: the TimescaleDB variant is skipped")
    return request.param


class Database:
    """A database of its own, dropped at the end: for tests that dump, restore, update or
    drop the extension."""

    def __init__(self, name: str):
        self.name = name

    def connect(self, **kwargs):
        return psycopg.connect(dbname=self.name, autocommit=True, **kwargs)

    def execute(self, sql, params=None):
        with self.connect() as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else None

    def one(self, sql, params=None):
        rows = self.execute(sql, params)
        return rows[0][0] if rows else None


@pytest.fixture
def make_database(request, make_role):  # roles outlive the databases that grant them
    """make_database(suffix, timescaledb=…, extension_version=…) creates a fresh database
    (TimescaleDB first when asked, then sensor_analytics unless extension_version is False)."""
    made = []

    def make(suffix: str, timescaledb: bool, extension_version=None) -> Database:
        # Short and unique per test and suffix (identifiers stop at 63 bytes).
        test = hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:10]
        name = "".join(c if c.isalnum() else "_" for c in f"e2e_{test}_{suffix}".lower())
        with psycopg.connect(dbname="postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        database = Database(name)
        with database.connect() as conn:
            conn.execute("SET client_min_messages = warning")
            if timescaledb:
                conn.execute("CREATE EXTENSION timescaledb")
            if extension_version is not False:
                version = f" VERSION '{extension_version}'" if extension_version else ""
                conn.execute(f"CREATE EXTENSION sensor_analytics{version}")
        return database

    yield make
    with psycopg.connect(dbname="postgres", autocommit=True) as conn:
        for name in made:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def make_role(request):
    """make_role(suffix) creates a NOLOGIN role; every role made is dropped at the end
    (after the databases, whose privileges go with them)."""
    made = []

    def make(suffix: str) -> str:
        name = f"e2e_{suffix}_{os.getpid()}"
        with psycopg.connect(dbname="postgres", autocommit=True) as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{name}"')
            conn.execute(f'CREATE ROLE "{name}" NOLOGIN')
        made.append(name)
        return name

    yield make
    with psycopg.connect(autocommit=True) as conn:
        for name in made:
            conn.execute(f'DROP OWNED BY "{name}"')
    with psycopg.connect(dbname="postgres", autocommit=True) as conn:
        for name in made:
            conn.execute(f'DROP ROLE IF EXISTS "{name}"')
