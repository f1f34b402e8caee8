"""Browser test harness: one JupyterLab server per session, headless Debian Chromium via Playwright.

Fixtures
  jupyter_server   session: a Jupyter server (JupyterLab 4 and Notebook 7) on a free loopback port,
                   token-protected, rooted in a temporary copy of notebooks/; isolated config, data,
                   settings and workspace dirs; its own `python3` kernelspec running this interpreter.
  browser          session: Chromium from /usr/bin/chromium (never a Playwright download).
  page             module: a fresh browser context + page; console messages are recorded.
  lab              module: a `Lab` helper bound to `page` and the server (open notebooks, run cells,
                   read values back from the kernel).
  write_notebook   session: writes a notebook (a list of code-cell sources) into the server's root.

On a failed test, every open page is saved to test-artifacts/: a screenshot, its console log and its
HTML; the server log is test-artifacts/jupyter-server.log.

The test kernel runs with HF_HUB_OFFLINE=1: nothing may download from a hub.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("SCOPE_WIDGETS_ARTIFACTS", REPO_ROOT / "test-artifacts"))

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]

SERVER_START_TIMEOUT = float(os.environ.get("SCOPE_WIDGETS_SERVER_TIMEOUT", 120))

# ----------------------------------------------------------------------------- readiness of the widgets


@pytest.fixture(scope="session")
def widgets_built() -> None:
    """Fail (not skip) when the widgets exist but do not import or the bundle is missing."""
    import importlib

    widgets = importlib.import_module("scope_widgets.widgets")
    assert hasattr(widgets, "Explorer") and hasattr(widgets, "SteeringPanel")
    bundle = REPO_ROOT / "scope_widgets" / "static" / "widget.js"
    assert bundle.is_file(), f"{bundle} missing: the front-end build (npm run build) did not run or failed"


# ----------------------------------------------------------------------------- the Jupyter server


@dataclass
class JupyterServer:
    url: str  # http://127.0.0.1:<port>
    token: str
    root: Path  # the server's root directory (a temporary copy of notebooks/ lives in root/notebooks)
    log_path: Path
    process: subprocess.Popen = field(repr=False)

    def __iter__(self):  # `url, token = jupyter_server`
        return iter((self.url, self.token))

    def lab_url(self, path: str, reset: bool = True) -> str:
        """JupyterLab on `path`; `reset` starts from an empty workspace (no tabs restored)."""
        return f"{self.url}/lab/tree/{path}?token={self.token}" + ("&reset" if reset else "")

    def notebook7_url(self, path: str) -> str:
        return f"{self.url}/notebooks/{path}?token={self.token}"

    def tree_url(self, path: str = "") -> str:
        return f"{self.url}/tree/{path}?token={self.token}".replace("/tree/?", "/tree?")

    def api(self, method: str, path: str, body: Any = None, timeout: float = 10) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _jupyter_dirs(base: Path) -> dict[str, str]:
    """Isolated Jupyter dirs: no user config, workspace or kernelspec leaks into the tests."""
    config, data, runtime = base / "config", base / "data", base / "runtime"
    settings, workspaces = base / "lab-settings", base / "lab-workspaces"
    for d in (config, data, runtime, settings, workspaces):
        d.mkdir(parents=True, exist_ok=True)

    # the kernel is exactly the interpreter running the tests
    kdir = data / "kernels" / "python3"
    kdir.mkdir(parents=True, exist_ok=True)
    (kdir / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
                "metadata": {"debugger": False},
            }
        )
    )

    # no news/update pop-ups; every cell attached to the DOM (no virtual scrolling)
    def setting(plugin: str, values: dict) -> None:
        pkg, name = plugin.rsplit(":", 1) if ":" in plugin else plugin.rsplit("/", 1)
        p = settings / pkg / f"{name}.jupyterlab-settings"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(values))

    setting("@jupyterlab/apputils-extension:notification", {"fetchNews": "false", "checkForUpdates": False})
    setting("@jupyterlab/notebook-extension:tracker", {"windowingMode": "none"})

    (config / "jupyter_server_config.py").write_text(
        textwrap.dedent(
            """
            c.LabApp.news_url = None
            c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
            c.LabApp.expose_app_in_browser = True
            c.JupyterNotebookApp.expose_app_in_browser = True
            c.ServerApp.terminals_enabled = False
            c.LanguageServerManager.autodetect = False
            c.LabApp.extension_manager = "readonly"
            """
        )
    )
    return {
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_DATA_DIR": str(data),
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(workspaces),
        "JUPYTER_PLATFORM_DIRS": "1",
    }


def _start_server(root: Path, base: Path, log_path: Path) -> JupyterServer:
    env = dict(os.environ)
    env.update(_jupyter_dirs(base))
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "ANYWIDGET_HMR": "0",
        }
    )
    env.pop("JUPYTER_PATH", None)
    # the kernel imports scope_widgets from this working tree even where it is not pip-installed
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    last_error = "no attempt"
    for _attempt in range(3):
        port, token = _free_port(), secrets.token_hex(16)
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.root_dir={root}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        log = open(log_path, "ab")
        log.write(f"\n$ {' '.join(cmd)}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            cmd,
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        server = JupyterServer(f"http://127.0.0.1:{port}", token, root, log_path, proc)
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                last_error = f"jupyter lab exited with {proc.returncode}"
                break
            try:
                server.api("GET", "/api/status", timeout=2)
                return server
            except (urllib.error.URLError, ConnectionError, OSError, ValueError):
                time.sleep(0.3)
        else:
            last_error = f"no answer within {SERVER_START_TIMEOUT:.0f} s"
            _stop_server(server)
    tail = log_path.read_text(errors="replace")[-3000:] if log_path.exists() else ""
    raise RuntimeError(f"could not start JupyterLab ({last_error}); log tail:\n{tail}")


def _stop_server(server: JupyterServer) -> None:
    proc = server.process
    if proc.poll() is None:
        try:  # shuts the kernels down too
            server.api("POST", "/api/shutdown", timeout=5)
        except Exception:
            pass
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
    # anything left in the server's own process group (never anything else)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@pytest.fixture(scope="session")
def jupyter_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    base = tmp_path_factory.mktemp("jupyter")
    root = base / "root"
    root.mkdir()
    notebooks = REPO_ROOT / "notebooks"
    if notebooks.is_dir():
        shutil.copytree(notebooks, root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    log_path = ARTIFACTS / "jupyter-server.log"
    if log_path.exists():
        log_path.unlink()
    server = _start_server(root, base, log_path)
    try:
        yield server
    finally:
        _stop_server(server)


@pytest.fixture(scope="session")
def write_notebook(jupyter_server: JupyterServer) -> Callable[..., str]:
    """write_notebook("name.ipynb", [cell source, ...]) -> path relative to the server root."""

    def write(name: str, cells: list[str]) -> str:
        nb = {
            "cells": [
                {
                    "cell_type": "code",
                    "execution_count": None,
                    "id": f"cell-{i}",
                    "metadata": {},
                    "outputs": [],
                    "source": textwrap.dedent(src).strip("\n"),
                }
                for i, src in enumerate(cells)
            ],
            "metadata": {
                "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
                "language_info": {"name": "python"},
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        path = jupyter_server.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(nb, indent=1))
        return name

    return write


# ----------------------------------------------------------------------------- the browser

_OPEN_PAGES: list[tuple[Any, list[str]]] = []  # (page, console lines) for failure artifacts


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("SCOPE_WIDGETS_CHROMIUM", "/usr/bin/chromium")
    if not os.access(executable, os.X_OK):  # tests/conftest.py skips or fails these tests first
        pytest.skip(f"no Chromium at {executable}")
    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
    finally:
        pw.stop()


@pytest.fixture(scope="module")
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    pg = context.new_page()
    console: list[str] = []
    pg.on("console", lambda m: console.append(f"[{m.type}] {m.text}"))
    pg.on("pageerror", lambda e: console.append(f"[pageerror] {e}"))
    def on_dialog(d: Any) -> None:
        # leaving a page with unsaved changes asks 'beforeunload': leave; record and dismiss the rest
        # (a test checks the record for alerts, e.g. from injected script)
        console.append(f"[dialog:{d.type}] {d.message}")
        d.accept() if d.type == "beforeunload" else d.dismiss()

    pg.on("dialog", on_dialog)
    entry = (pg, console)
    _OPEN_PAGES.append(entry)
    try:
        yield pg
    finally:
        _OPEN_PAGES.remove(entry)
        context.close()


@pytest.fixture(scope="module")
def page_console(page: Any) -> list[str]:
    """The console lines recorded for `page` so far (dialogs appear as '[dialog:alert] ...')."""
    for p, lines in _OPEN_PAGES:
        if p is page:
            return lines
    raise LookupError("page not registered")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if not report.failed or report.when not in ("setup", "call"):
        return
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid)[-150:]
    saved = []
    for n, (pg, console) in enumerate(list(_OPEN_PAGES)):
        prefix = ARTIFACTS / f"{stem}-{n}"
        try:
            pg.screenshot(path=f"{prefix}.png", full_page=True)
            saved.append(f"{prefix}.png")
        except Exception as e:  # the page may be gone
            console.append(f"[harness] screenshot failed: {e}")
        try:
            Path(f"{prefix}.html").write_text(pg.content())
        except Exception:
            pass
        Path(f"{prefix}-console.log").write_text("\n".join(console) + "\n")
    if saved:
        report.sections.append(("browser artifacts", "\n".join(saved)))


# ----------------------------------------------------------------------------- driving Jupyter


class CellError(AssertionError):
    """A cell raised: carries the traceback text."""


# JS run in the page; `window.jupyterapp` exists because expose_app_in_browser is on
_JS_PANEL = """
(path) => {
  const app = window.jupyterapp;
  if (!app) return false;
  const w = app.shell.currentWidget;
  return !!(w && w.content && w.sessionContext && w.context && w.context.path === path
            && app.commands.isEnabled('notebook:run-all-cells'));
}
"""

_JS_STATE = """
() => {
  const app = window.jupyterapp;
  const w = app && app.shell.currentWidget;
  if (!w || !w.sessionContext || !w.content) return {ready: false};
  const kernel = w.sessionContext.session && w.sessionContext.session.kernel;
  const cells = [];
  const model = w.content.model;
  for (let i = 0; i < model.cells.length; i++) {
    const c = model.cells.get(i);
    if (c.type !== 'code') { cells.push(null); continue; }
    const outs = c.outputs.toJSON();
    const err = outs.find(o => o.output_type === 'error');
    cells.push({
      count: c.executionCount,
      running: c.executionState === 'running',
      error: err ? (err.ename + ': ' + err.evalue + '\\n' + (err.traceback || []).join('\\n')) : null,
    });
  }
  return {ready: true, path: w.context.path, status: kernel ? kernel.status : 'none', cells};
}
"""


def _strip_ansi(s: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", s)


@dataclass
class Lab:
    """Drives one notebook in JupyterLab 4 or Notebook 7 (both expose `window.jupyterapp`)."""

    page: Any
    server: JupyterServer
    path: str | None = None  # the notebook opened last

    # -- opening
    def open(self, path: str, ui: str = "lab", timeout: float = 90) -> None:
        url = self.server.lab_url(path) if ui == "lab" else self.server.notebook7_url(path)
        self.page.goto(url)
        self.page.locator(".jp-Notebook").first.wait_for(state="visible", timeout=timeout * 1000)
        self.page.wait_for_function(_JS_PANEL, arg=path, timeout=timeout * 1000)
        self.path = path
        self.wait_kernel_idle(timeout)  # accepts the kernel dialog if one shows

    def accept_kernel_dialog(self, wait: float = 3) -> bool:
        """JupyterLab 4 may ask which kernel to start: take the proposed one."""
        dialog = self.page.locator(".jp-Dialog")
        try:
            dialog.first.wait_for(state="visible", timeout=wait * 1000)
        except Exception:
            return False
        dialog.locator(".jp-mod-accept").first.click()
        dialog.first.wait_for(state="hidden", timeout=10_000)
        return True

    def state(self) -> dict:
        return self.page.evaluate(_JS_STATE)

    def wait_kernel_idle(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        status = None
        while time.monotonic() < deadline:
            st = self.state()
            status = st.get("status")
            if st.get("ready") and status == "idle":
                return
            if not st.get("ready") or status in (None, "none", "unknown", "starting"):
                # JupyterLab asks which kernel to start when the notebook names none it knows
                if self.page.locator(".jp-Dialog .jp-mod-accept").count():
                    self.accept_kernel_dialog(wait=0.5)
            time.sleep(0.25)
        raise TimeoutError(f"kernel not idle after {timeout:.0f} s (status {status!r})")

    # -- running
    def _wait_cells(self, indices: list[int] | None, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            st = self.state()
            cells = st.get("cells", [])
            idx = [i for i, c in enumerate(cells) if c is not None] if indices is None else indices
            for i in idx:
                if i < len(cells) and cells[i] and cells[i]["error"]:
                    raise CellError(f"cell {i} raised:\n{_strip_ansi(cells[i]['error'])}")
            done = all(
                i < len(cells) and cells[i] and cells[i]["count"] is not None and not cells[i]["running"]
                for i in idx
            )
            if done:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"cells {idx} not done after {timeout:.0f} s (kernel {st.get('status')!r})")
            time.sleep(0.25)

    def run_all(self, timeout: float = 300) -> None:
        """Run > Run All Cells, then wait until every code cell has run; raise CellError on an error."""
        self._check_current()
        self.page.evaluate(
            """async () => {
              const c = window.jupyterapp.commands;
              await c.execute('notebook:clear-all-cell-outputs');  // also resets execution counts
              c.execute('notebook:run-all-cells');
            }"""
        )
        self._wait_cells(None, timeout)

    def _check_current(self) -> None:
        if self.path is not None and not self.page.evaluate(_JS_PANEL, self.path):
            raise AssertionError(f"{self.path} is not the current notebook (or cannot run cells)")

    def run_code(self, code: str, timeout: float = 120, wait: bool = True, keep: bool = True) -> str:
        """Append a code cell with `code`, run it, return its text output (stdout + text/plain).

        With wait=False, return "" at once, while the cell runs (see start_code); with keep=False,
        delete the cell once read."""
        idx = self.start_code(code)
        if not wait:
            return ""
        self._wait_cells([idx], timeout)
        text = self.cell_text(idx)
        if not keep:
            self.page.evaluate(
                "(i) => window.jupyterapp.shell.currentWidget.content.model.sharedModel.deleteCell(i)", idx
            )
        return text

    def start_code(self, code: str) -> int:
        """Append a code cell with `code` and start it; return its index without waiting."""
        self._check_current()
        return self.page.evaluate(
            """
            async (code) => {
              const app = window.jupyterapp;
              const nb = app.shell.currentWidget.content;
              nb.activeCellIndex = nb.widgets.length - 1;
              await app.commands.execute('notebook:insert-cell-below');
              const cell = nb.activeCell;
              if (cell.model.type !== 'code') await app.commands.execute('notebook:change-cell-to-code');
              nb.activeCell.model.sharedModel.setSource(code);
              app.commands.execute('notebook:run-cell');
              return nb.activeCellIndex;
            }
            """,
            textwrap.dedent(code).strip("\n"),
        )

    def wait_cell(self, index: int, timeout: float = 120) -> None:
        """Wait until code cell `index` has finished; raise CellError if it raised."""
        self._wait_cells([index], timeout)

    def cell_running(self, index: int) -> bool:
        cells = self.state().get("cells", [])
        return bool(index < len(cells) and cells[index] and cells[index]["running"])

    def cell_text(self, index: int) -> str:
        outs = self.page.evaluate(
            "(i) => window.jupyterapp.shell.currentWidget.content.model.cells.get(i).outputs.toJSON()", index
        )
        parts = []
        for o in outs:
            if o.get("output_type") == "stream":
                t = o.get("text", "")
                parts.append("".join(t) if isinstance(t, list) else t)
            elif "data" in o and "text/plain" in o["data"]:
                t = o["data"]["text/plain"]
                parts.append(("".join(t) if isinstance(t, list) else t) + "\n")
        return "".join(parts)

    def eval(self, expr: str, timeout: float = 120) -> Any:
        """The value of a Python expression in the kernel, round-tripped through JSON (printed by a cell)."""
        marker = secrets.token_hex(4)
        out = self.run_code(
            f"import json as _j\nprint('{marker}' + _j.dumps({expr}, default=str))", timeout, keep=False
        )
        for line in out.splitlines():
            if line.startswith(marker):
                return json.loads(line[len(marker):])
        raise AssertionError(f"no value printed for {expr!r}; output was:\n{out}")

    def wait_eval(self, expr: str, predicate: Callable[[Any], bool], timeout: float = 30) -> Any:
        """Re-evaluate `expr` until predicate(value) holds (widget changes reach the kernel when idle)."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.eval(expr)
            if predicate(value) or time.monotonic() > deadline:
                return value
            time.sleep(0.5)

    # -- the DOM
    def cell_output(self, index: int) -> Any:
        """Locator of code cell `index`'s output area."""
        return self.page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-OutputArea")

    def wait_for(self, selector: str, timeout: float = 60, within: Any = None) -> Any:
        """Wait until `selector` is visible (optionally inside a locator); return its first match."""
        loc = (within or self.page).locator(selector).first
        loc.wait_for(state="visible", timeout=timeout * 1000)
        return loc


@pytest.fixture(scope="module")
def lab(page: Any, jupyter_server: JupyterServer) -> Iterator[Lab]:
    yield Lab(page, jupyter_server)
    # free the module's kernels (each may hold a model) before the next module starts its own
    try:
        for session in jupyter_server.api("GET", "/api/sessions"):
            jupyter_server.api("DELETE", f"/api/sessions/{session['id']}", timeout=30)
    except Exception:
        pass
