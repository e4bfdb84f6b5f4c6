"""Fixtures for the web studio: a runs folder holding the tiny run, and an app on it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tunesmith.web import create_app


@pytest.fixture(scope="session")
def runs_dir(tmp_path_factory: pytest.TempPathFactory, tiny_run: Path) -> Path:
    """``runs/tiny`` (a copy of the tiny run), ``runs/broken`` (a damaged config.json) and
    ``runs/escape``, a symlink to a good run outside the runs folder."""
    base = tmp_path_factory.mktemp("web")
    runs = base / "runs"
    runs.mkdir()
    shutil.copytree(tiny_run, runs / "tiny")
    (runs / "broken").mkdir()
    (runs / "broken" / "config.json").write_text("{not json", encoding="utf-8")
    shutil.copytree(tiny_run, base / "outside-run")
    (runs / "escape").symlink_to(base / "outside-run", target_is_directory=True)
    return runs


@pytest.fixture(scope="module")
def client(runs_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    out = tmp_path_factory.mktemp("web-out")
    with TestClient(create_app(runs_dir, out, workers=2)) as c:
        yield c
