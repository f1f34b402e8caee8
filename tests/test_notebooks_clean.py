"""Committed notebooks carry no outputs, execution counts or saved widget state.

Outputs in git make diffs unreadable, bloat the repo (widget state and plots are large) and can leak
paths or data from whoever ran them last. Clear them before committing: in JupyterLab, Edit > Clear
Outputs of All Cells, or `jupyter nbconvert --clear-output --inplace notebooks/*.ipynb`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PATHS = sorted(
    p for p in NOTEBOOKS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
) if NOTEBOOKS.is_dir() else []


def problems(nb: dict) -> list[str]:
    found = []
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            if cell.get("outputs"):
                found.append(f"cell {i} ({cell.get('cell_type')}) has outputs")
            continue
        if cell.get("outputs"):
            found.append(f"cell {i} has {len(cell['outputs'])} output(s)")
        if cell.get("execution_count") is not None:
            found.append(f"cell {i} has execution_count {cell['execution_count']}")
        meta = cell.get("metadata", {})
        if "execution" in meta:
            found.append(f"cell {i} has execution timing metadata")
    if "widgets" in nb.get("metadata", {}):
        found.append("notebook metadata holds saved widget state ('widgets')")
    return found


def test_clean_check_catches_outputs():
    dirty = {
        "cells": [
            {"cell_type": "code", "execution_count": 3, "metadata": {}, "outputs": [{"output_type": "stream"}],
             "source": "1"},
            {"cell_type": "markdown", "metadata": {}, "source": "x"},
        ],
        "metadata": {"widgets": {}},
    }
    assert len(problems(dirty)) == 3
    clean = {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                        "source": "1"}], "metadata": {}}
    assert problems(clean) == []


@pytest.mark.parametrize("path", PATHS, ids=[str(p.relative_to(NOTEBOOKS)) for p in PATHS])
def test_notebook_is_clean(path: Path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb.get("nbformat") == 4, f"{path.name}: not an nbformat 4 notebook"
    found = problems(nb)
    assert not found, (
        f"notebooks/{path.relative_to(NOTEBOOKS)} is not clean: " + "; ".join(found)
        + ". Clear outputs: jupyter nbconvert --clear-output --inplace " + str(path.relative_to(NOTEBOOKS.parent))
    )
