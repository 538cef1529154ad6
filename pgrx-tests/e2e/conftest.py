"""Shared fixtures for the end-to-end tests (run by pgrx-tests/e2e/run)."""
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
