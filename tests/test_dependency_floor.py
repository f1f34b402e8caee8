"""The declared dependency floors are tested, not just declared (issue 10, point 1).

``pyproject.toml`` says ``transformers>=A`` and ``huggingface_hub>=B``; the suite otherwise runs on the newest
releases. This test installs exactly A and B (and the lowest ``tokenizers`` that transformers A accepts) with
``pip install --no-deps --target`` into a cache folder outside the repo, puts that folder first on
PYTHONPATH and runs, in a child process, the tests where those versions matter: SAE loading and the hub's
error classes, SAELens conversion, hooks on tiny Gemma 3 / Gemma 2 models, and the embedded Gemma 3 270M
(load, features, generate, steer, stream). Everything else comes from the environment.

The wheels are downloaded once (about 15 MB) and kept in ``<scope_widgets cache>/floor-deps``; later runs
reuse them. Skipped, saying so, only when pip cannot reach the package registry.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from scope_widgets.runtime import cache_dir

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
#: The tests whose outcome depends on the transformers / huggingface_hub versions.
FLOOR_TESTS = (
    "tests/test_saes.py",
    "tests/test_saelens.py",
    "tests/test_engine.py",
    "tests/test_gemma_scope_1_transcoder.py",
    "tests/test_embedded.py",
)
_NETWORK_ERRORS = ("NewConnectionError", "Max retries exceeded", "Temporary failure in name resolution",
                   "Network is unreachable", "ConnectTimeout", "ProxyError", "Connection refused")
# The child checks it imports the floor versions before it runs anything.
_CHILD = """
import sys
import huggingface_hub, tokenizers, transformers
want = sys.argv[1:4]
got = [transformers.__version__, huggingface_hub.__version__, tokenizers.__version__]
if got != want:
    sys.exit(f"floor child imported transformers/huggingface_hub/tokenizers {got}, expected {want}")
import pytest
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", *sys.argv[4:]]))
"""


def declared_floor(package: str) -> str:
    """The ``>=`` bound pyproject.toml declares for a dependency, as an exact version (``4.56`` -> ``4.56.0``)."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    m = re.search(rf'"{re.escape(package)}\s*>=\s*([0-9][0-9.]*)"', text)
    assert m, f"pyproject.toml declares no '{package}>=' floor"
    parts = m.group(1).split(".")
    return ".".join(parts + ["0"] * (3 - len(parts)))


def pip_target(target: Path, *requirements: str) -> None:
    """``pip install --no-deps --target`` of binary wheels; skips the test when the registry is unreachable."""
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--only-binary=:all:", "--no-input",
           "--disable-pip-version-check", "--retries", "1", "--timeout", "60", "--target", str(target), *requirements]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        out = done.stdout + done.stderr
        if any(e in out for e in _NETWORK_ERRORS):
            pytest.skip(f"pip cannot reach the package registry to fetch the floor versions ({' '.join(requirements)})")
        pytest.fail(f"pip could not install the floor versions {requirements}:\n{out[-3000:]}")


def tokenizers_floor(target: Path, transformers_version: str) -> str:
    """The lowest tokenizers the given transformers wheel accepts (its ``Requires-Dist`` lower bound)."""
    meta = target / f"transformers-{transformers_version}.dist-info" / "METADATA"
    for line in meta.read_text(encoding="utf-8").splitlines():
        m = re.match(r"Requires-Dist: tokenizers\b([^;]*)$", line)
        if m:
            low = re.search(r">=\s*([0-9][0-9.]*)", m.group(1))
            assert low, f"transformers {transformers_version} requires tokenizers{m.group(1)} with no lower bound"
            return low.group(1)
    raise AssertionError(f"{meta} names no tokenizers requirement")


def floor_site(transformers_version: str, hub_version: str) -> tuple[Path, str]:
    """The folder holding the floor packages (built once, atomically) and the tokenizers version in it."""
    root = cache_dir() / "floor-deps"
    site = root / f"transformers-{transformers_version}_huggingface_hub-{hub_version}"
    if not (site / "COMPLETE").exists():
        root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".building-", dir=root))
        try:
            pip_target(work, f"transformers=={transformers_version}", f"huggingface_hub=={hub_version}")
            tok = tokenizers_floor(work, transformers_version)
            pip_target(work, f"tokenizers=={tok}")
            (work / "COMPLETE").write_text(f"{tok}\n")
            shutil.rmtree(site, ignore_errors=True)
            work.rename(site)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return site, (site / "COMPLETE").read_text().strip()


def test_the_declared_floor_versions_pass_the_version_sensitive_tests(record_property):
    from scope_widgets.engine.models import default_model_dir

    tf, hub = declared_floor("transformers"), declared_floor("huggingface_hub")
    t0 = time.perf_counter()
    site, tok = floor_site(tf, hub)
    default_model_dir()  # the embedded model's float copy, built (if missing) by the versions tested everywhere else
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p)}
    done = subprocess.run([sys.executable, "-c", _CHILD, tf, hub, tok, *FLOOR_TESTS], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    out = done.stdout + done.stderr
    summary = (re.findall(r"^=*\s*(\d+ (?:passed|failed).*?)\s*=*$", out, re.M) or ["no summary"])[-1]
    record_property("floor", f"transformers {tf}, huggingface_hub {hub}, tokenizers {tok}: {summary}")
    print(f"floor (transformers {tf}, huggingface_hub {hub}, tokenizers {tok}): {summary} "
          f"in {time.perf_counter() - t0:.0f} s")
    assert done.returncode == 0, (
        f"the tests fail on the declared floor (transformers {tf}, huggingface_hub {hub}, tokenizers {tok}): "
        f"raise the floor in pyproject.toml or fix the code\n{out[-6000:]}"
    )
