"""The notebooks: committed clean, and each one runs from top to bottom, headless and offline.

Every notebook under ``notebooks/`` (quickstart, steering, Gemma Scope 2, the course lessons and their
solutions) is executed with nbclient on the embedded default (Gemma 3 270M + the bundled SAE) with
``HF_HUB_OFFLINE=1`` and ``SCOPE_WIDGETS_OFFLINE=1``; any cell error fails the test. Widgets render
nothing headless, but their Python side runs. Each notebook's wall time is recorded, printed at the end
of the module and written to ``test-artifacts/notebook_times.json``; in CI the total must stay under
``SCOPE_WIDGETS_NOTEBOOK_BUDGET_S`` (default 1200 s: 20 minutes on 2 cores).

    pytest tests/test_notebooks.py                  # all of them (about 10-15 minutes on 2 cores)
    pytest tests/test_notebooks.py -k lesson_3      # one
    pytest tests/test_notebooks.py -k clean         # only the fast "committed without outputs" check
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
CELL_TIMEOUT_S = 900
DEFAULT_BUDGET_S = 1200.0

# run order: the short ones first, so a broken install fails fast
_ORDER = ("quickstart", "steering", "gemma_scope_2", "course/lesson", "course/solutions")


def _rank(path: Path) -> tuple:
    rel = path.relative_to(NOTEBOOK_DIR).as_posix()
    for i, prefix in enumerate(_ORDER):
        if rel.startswith(prefix):
            return (i, rel)
    return (len(_ORDER), rel)


NOTEBOOKS = sorted(
    (p for p in NOTEBOOK_DIR.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts),
    key=_rank,
)
IDS = [p.relative_to(NOTEBOOK_DIR).as_posix() for p in NOTEBOOKS]

_TIMES: dict[str, float] = {}


def test_notebooks_exist():
    names = set(IDS)
    for required in ("quickstart.ipynb", "steering.ipynb", "gemma_scope_2.ipynb"):
        assert required in names, f"notebooks/{required} is missing"
    lessons = [n for n in names if n.startswith("course/lesson_")]
    assert len(lessons) >= 5, f"the course needs five lessons, found {sorted(lessons)}"
    for lesson in lessons:
        solution = lesson.replace("course/", "course/solutions/", 1)
        assert solution in names, f"{lesson} has no solutions notebook ({solution})"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_is_committed_clean(path: Path):
    """No outputs, no execution counts, the standard kernel: diffs stay readable and nothing stale ships."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", f"{path.name}: kernel name must be python3"
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, (
        f"{path.name}: cells {dirty} have outputs or execution counts; clear them with "
        f"`jupyter nbconvert --clear-output --inplace {path.relative_to(REPO_ROOT)}`"
    )


@pytest.fixture(scope="module")
def notebook_times(request):
    yield _TIMES
    if not _TIMES:
        return
    total = sum(_TIMES.values())
    lines = [f"{name:55s} {seconds:7.1f} s" for name, seconds in _TIMES.items()]
    lines.append(f"{'total':55s} {total:7.1f} s")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_sep("-", "notebook wall times")
        for line in lines:
            reporter.write_line(line)
    out = REPO_ROOT / "test-artifacts"
    try:
        out.mkdir(exist_ok=True)
        (out / "notebook_times.json").write_text(
            json.dumps({"seconds": _TIMES, "total_s": round(total, 1), "cpus": os.cpu_count()}, indent=2) + "\n"
        )
    except OSError:
        pass


def _kernel_env() -> dict[str, str]:
    env = dict(os.environ)
    env["HF_HUB_OFFLINE"] = "1"
    env["TRANSFORMERS_OFFLINE"] = "1"
    env["SCOPE_WIDGETS_OFFLINE"] = "1"  # gemma_scope_2.ipynb: the embedded default, not the hub
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env.setdefault("TQDM_DISABLE", "1")
    env.setdefault("MPLBACKEND", "Agg")
    return env


@pytest.mark.slow
@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_runs(path: Path, notebook_times):
    """Execute the notebook top to bottom in its own folder; any cell error fails the test."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(str(path), as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        allow_errors=False,
    )
    start = time.perf_counter()
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(_kernel_env())  # the kernel inherits this process's environment
    try:
        client.execute()
    except CellExecutionError as err:
        pytest.fail(f"{path.relative_to(REPO_ROOT)} failed:\n{err}", pytrace=False)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        notebook_times[path.relative_to(NOTEBOOK_DIR).as_posix()] = time.perf_counter() - start
    failed_checks = [
        out.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream" and "❌" in out.get("text", "")
    ]
    if "solutions" in path.parts:
        assert not failed_checks, f"{path.name}: a check failed in the solutions notebook:\n" + "\n".join(failed_checks)


@pytest.mark.slow
@pytest.mark.notebooks
def test_notebook_time_budget(notebook_times):
    """In CI (or with SCOPE_WIDGETS_NOTEBOOK_BUDGET_S set), all notebooks together stay within budget."""
    budget = os.environ.get("SCOPE_WIDGETS_NOTEBOOK_BUDGET_S")
    in_ci = (os.environ.get("CI") or "").lower() not in ("", "0", "false", "no")
    ran_all = len(notebook_times) == len(NOTEBOOKS)
    if not ran_all:
        pytest.skip("not every notebook ran in this session")
    if budget is None and not in_ci:
        pytest.skip("the time budget is enforced in CI (or set SCOPE_WIDGETS_NOTEBOOK_BUDGET_S)")
    limit = float(budget) if budget else DEFAULT_BUDGET_S
    total = sum(notebook_times.values())
    assert total <= limit, f"the notebooks took {total:.0f} s in all, over the {limit:.0f} s budget: {notebook_times}"
