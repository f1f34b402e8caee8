"""Lists the front end keeps in TypeScript must equal the Python ones (read from the source, no browser)."""
from __future__ import annotations

import re
from pathlib import Path

from scope_widgets.steering import METHODS, POSITIONS
from scope_widgets.widgets.wire import ActivationTraits

JS = Path(__file__).resolve().parents[1] / "js"


def ts_const(file: str, name: str) -> tuple[str, ...]:
    src = (JS / file).read_text(encoding="utf-8")
    m = re.search(rf"export const {name} = \[([^\]]*)\] as const;", src)
    assert m, f"{name} not found in js/{file}"
    return tuple(re.findall(r'"([^"]+)"', m.group(1)))


def ts_union(name: str) -> tuple[str, ...]:
    src = (JS / "types.ts").read_text(encoding="utf-8")
    m = re.search(rf"export type {name} = ([^;]+);", src)
    assert m, f"type {name} not found in js/types.ts"
    return tuple(re.findall(r'"([^"]+)"', m.group(1)))


def test_steering_methods_and_positions_match_python():
    assert ts_const("steering.ts", "METHODS") == METHODS == ts_union("Method")
    assert ts_const("steering.ts", "POSITIONS") == POSITIONS == ts_union("Positions")


def test_activation_traits_are_typed_in_the_front_end():
    src = (JS / "types.ts").read_text(encoding="utf-8")
    block = src.split("export interface ActivationTraits {")[1].split("}")[0]
    ts_names = set(re.findall(r"^\s*(\w+):", block, flags=re.M))
    py_names = {n for n in ActivationTraits.class_trait_names() if ActivationTraits.class_traits()[n].metadata.get("sync")}
    assert ts_names == py_names
