"""confine(): names from requests stay inside their folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunesmith.web.paths import OutsideFolder, confine


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "run").mkdir(parents=True)
    (root / "run" / "a.mid").write_bytes(b"MThd")
    (tmp_path / "elsewhere").mkdir()
    (root / "out-link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (root / "in-link").symlink_to(root / "run", target_is_directory=True)
    return root


def test_plain_names_resolve_inside(root: Path) -> None:
    assert confine(root, "run") == (root / "run").resolve()
    assert confine(root, "run/a.mid", parts=2) == (root / "run" / "a.mid").resolve()
    assert confine(root, "not-yet") == (root / "not-yet").resolve()  # need not exist
    assert confine(root, "in-link") == (root / "run").resolve()  # a symlink that stays inside


@pytest.mark.parametrize(
    "name",
    [
        "..",
        "../run",
        "run/..",
        ".",
        "",
        "/etc",
        "/",
        "run/",
        "a\\b",
        "..\\run",
        ".hidden",
        "run\0",
        "~",
        "-rf" * 50,
    ],
)
def test_escapes_and_odd_names_are_refused(root: Path, name: str) -> None:
    with pytest.raises(OutsideFolder, match="must be a folder name"):
        confine(root, name, what="run")


@pytest.mark.parametrize("name", ["run", "run/a.mid/x", "run//a.mid", "/run/a.mid", "run/../a"])
def test_wrong_number_of_parts_is_refused(root: Path, name: str) -> None:
    with pytest.raises(OutsideFolder):
        confine(root, name, what="file", parts=2)


def test_a_symlink_out_is_refused(root: Path) -> None:
    with pytest.raises(OutsideFolder, match="'out-link' points outside its folder"):
        confine(root, "out-link", what="run")
    with pytest.raises(OutsideFolder, match="points outside"):
        confine(root, "out-link/anything", what="file", parts=2)
