"""The house rules of the package, checked by walking its source with ``ast`` (nothing is imported).

- imports only go down the list of layers in ``LAYERS`` (the same list ``docs/internals.md`` shows);
- no import cycle between modules;
- no module imports another module's underscore names;
- no file is much over 400 lines.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "scope_widgets"

#: Layer of each module, by the longest matching prefix (lower numbers are lower layers).
LAYERS: dict[str, int] = {
    "scope_widgets.runtime": 1,
    "scope_widgets.saes": 2,
    "scope_widgets.engine": 3,
    "scope_widgets.features": 4,
    "scope_widgets.steering": 4,
    "scope_widgets.corpus": 4,
    "scope_widgets.analysis": 5,
    "scope_widgets.training": 5,
    "scope_widgets.attribution": 5,
    "scope_widgets.scope": 6,
    "scope_widgets.widgets": 7,
    "scope_widgets": 9,  # the package's own __init__: the public face, lazily importing everything
}
#: Command-line entry points sit on top of everything.
ENTRY_POINT = re.compile(r"\.__main__$")
MAX_LINES = 450


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def layer(mod: str) -> int:
    if ENTRY_POINT.search(mod):
        return 10
    best = max((k for k in LAYERS if mod == k or mod.startswith(k + ".")), key=len)
    return LAYERS[best]


def _resolve(mod: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of import nodes under ``if TYPE_CHECKING:`` (annotations only: never run)."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for b in node.body for n in ast.walk(b)}
    return skip


def imports(mods: dict[str, Path]):
    """``(importer, imported module, names, line)`` for every import of a package module, anywhere in a file
    (inside functions too); ``from package import submodule`` counts as importing the submodule only."""
    for mod, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        is_pkg = path.name == "__init__.py"
        skip = _type_checking_only(tree)
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("scope_widgets"):
                        yield mod, alias.name, [], node.lineno
            elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
                target = _resolve(mod, is_pkg, node)
                if not target.startswith("scope_widgets"):
                    continue
                names = [a.name for a in node.names]
                sub = [f"{target}.{n}" for n in names if f"{target}.{n}" in mods]
                rest = [n for n in names if f"{target}.{n}" not in mods]
                if rest:
                    yield mod, target, rest, node.lineno
                for s in sub:
                    yield mod, s, [], node.lineno


@pytest.fixture(scope="module")
def graph():
    mods = modules()
    return mods, list(imports(mods))


def test_every_import_goes_down_the_layers(graph):
    mods, edges = graph
    upward = []
    for src, dst, _, line in edges:
        if dst not in mods:
            upward.append(f"{src}:{line} imports {dst}, which does not exist")
        elif layer(dst) > layer(src):
            upward.append(f"{src} (layer {layer(src)}):{line} imports {dst} (layer {layer(dst)})")
    assert not upward, "imports that go up the layers:\n" + "\n".join(upward)


def test_there_is_no_import_cycle(graph):
    mods, edges = graph
    succ: dict[str, set[str]] = {m: set() for m in mods}
    for src, dst, _, _ in edges:
        if dst in mods and dst != src:
            succ[src].add(dst)
    # Tarjan's strongly connected components
    index, low, stack, on, sccs = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in succ[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    for m in mods:
        if m not in index:
            visit(m)
    assert not sccs, f"import cycles: {sccs}"


def test_no_module_imports_another_modules_private_names(graph):
    _, edges = graph
    private = [f"{src}:{line} imports {n} from {dst}" for src, dst, names, line in edges
               for n in names if n.startswith("_") and not n.startswith("__")]
    assert not private, "\n".join(private)


def test_no_module_reaches_into_another_modules_private_attributes(graph):
    mods, _ = graph
    bad = []
    for mod, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("scope_widgets")):
                imported |= {a.asname or a.name for a in node.names}
            elif isinstance(node, ast.Import):
                imported |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name.startswith("scope_widgets")}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in imported
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                bad.append(f"{mod}:{node.lineno} uses {node.value.id}.{node.attr}")
    assert not bad, "\n".join(bad)


def test_no_file_is_much_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in PKG.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"files over {MAX_LINES} lines: {long}"


def test_internals_doc_shows_the_same_layers():
    doc = (ROOT / "docs" / "internals.md").read_text(encoding="utf-8")
    block = doc.split("<!-- layers -->")[1].split("<!-- /layers -->")[0]
    shown = {}
    for line in block.splitlines():
        cells = [c.strip() for c in line.split("|")]
        m = re.match(r"\d+$", cells[1]) if len(cells) > 3 else None
        if m:
            for name in re.findall(r"`([^`]+)`", cells[2]):
                shown["scope_widgets" if name == "scope_widgets/__init__" else "scope_widgets." + name.strip("/").replace("/", ".").removesuffix(".py")] = int(cells[1])
    assert shown == LAYERS, f"docs/internals.md's layer table differs from the test's LAYERS: {shown} vs {LAYERS}"


def test_test_modules_have_unique_names():
    """pytest imports test modules by their basename (no packages under tests/): two with one name break a run."""
    names: dict[str, list[str]] = {}
    for p in (ROOT / "tests").rglob("*.py"):
        names.setdefault(p.name, []).append(str(p.relative_to(ROOT)))
    clashes = {n: ps for n, ps in names.items() if len(ps) > 1 and n != "conftest.py"}
    assert not clashes, f"test modules share a name: {clashes}"
