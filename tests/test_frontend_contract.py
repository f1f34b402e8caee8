"""Lists the front end keeps in TypeScript must equal the Python ones (read from the source, no browser)."""
from __future__ import annotations

import re
from pathlib import Path

from scope_widgets.steering import METHODS, POSITIONS
from scope_widgets.widgets._attribution import AttributionTraits
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


def synced_names(cls) -> set[str]:
    return {n for n, t in cls.class_traits().items() if t.metadata.get("sync")}


def ts_interface(name: str) -> set[str]:
    src = (JS / "types.ts").read_text(encoding="utf-8")
    block = src.split(f"export interface {name} {{")[1].split("\n}")[0]
    return set(re.findall(r"^\s*(\w+):", block, flags=re.M))


def test_activation_traits_are_typed_in_the_front_end():
    assert ts_interface("ActivationTraits") == synced_names(ActivationTraits)


def test_attribution_traits_are_typed_in_the_front_end():
    assert ts_interface("AttributionTraits") == synced_names(AttributionTraits)
