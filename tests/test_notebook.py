"""examples/*.ipynb run top to bottom on the shipped models (CI runs them from the wheel too)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tunesmith.shipped import shipped_models

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")


@pytest.mark.skipif("essen" not in shipped_models(), reason="the shipped essen model is absent")
@pytest.mark.parametrize("notebook", sorted(EXAMPLES.glob("*.ipynb")), ids=lambda p: p.name)
def test_notebook_runs_top_to_bottom(notebook: Path, tmp_path: Path) -> None:
    shutil.copy(notebook, tmp_path)
    nb = nbformat.read(tmp_path / notebook.name, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={
        "metadata": {"path": str(tmp_path)}
    }).execute()  # fmt: skip
    html = [
        o["data"]["text/html"]
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "text/html" in o.get("data", {})
    ]
    assert html and all("data:image/png;base64," in h and "<audio" in h for h in html)
    assert (tmp_path / "tune.mid").is_file()
