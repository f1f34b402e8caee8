"""Feature labels: the user's own, saved to disk, over the automatic ones.

    store = labels_for(sae)            # one store per SAE object in this process
    store.get(123)                     # the user's label if set, else the automatic one, else None
    store.get_with_source(123)         # (label, "user" | "auto" | None)
    store.set(123, "French words")     # saved at once; store.set(123, None) removes it

User labels live in ``<cache_dir>/labels/<safe SAE name>.json`` (``scope_widgets.runtime.cache_dir()``,
so ``$SCOPE_WIDGETS_CACHE`` moves them), written atomically (a temporary file renamed into place) and
read back in later sessions. The file is keyed by the SAE's *name*, so two SAE objects with the same name
share user labels; a store re-reads the file when another store or process has changed it.

Automatic labels (``label_source == "auto"``) are attached by whoever has them (``analysis.sources``: the
shipped dashboards for the default SAE, computed dashboards or a Gemma Scope 2 examples file for others).
"""

from __future__ import annotations

import json
import os
import re
import threading
import warnings
import weakref
from pathlib import Path

from ..runtime import atomic_write_json, cache_dir, check_feature

LABELS_FORMAT = 1
MAX_LABEL_CHARS = 200

_stores: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def safe_name(name: str) -> str:
    """An SAE name as a file name: ``google/gemma-scope-2-1b-pt/resid_post/...`` -> ``google__gemma-scope-2-1b-pt__resid_post__...``."""
    text = re.sub(r"[\\/]+", "__", str(name).strip())
    text = re.sub(r"[^A-Za-z0-9._=+-]+", "_", text).strip("._") or "sae"
    return text[:180]


def labels_path(sae_name: str) -> Path:
    return cache_dir() / "labels" / f"{safe_name(sae_name)}.json"


class LabelStore:
    """User and automatic labels of one SAE's features. Thread-safe."""

    def __init__(self, sae_name: str, d_sae: int | None = None, path: str | os.PathLike | None = None) -> None:
        self.sae_name = str(sae_name)
        self.d_sae = d_sae
        self.path = Path(path) if path is not None else labels_path(self.sae_name)
        self._user: dict[int, str] = {}
        self._auto: list | dict | None = None
        self._auto_loader = None  # called once, on first need, to fill self._auto
        self._stamp = None
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ reading
    def _check(self, feature) -> int:
        if isinstance(feature, str):  # the store takes ints only (check_feature also reads digit strings)
            raise ValueError(f"feature ids are integers; got {feature!r}")
        return check_feature(feature, self.d_sae if self.d_sae is not None else 1 << 62, self.sae_name)

    def _file_stamp(self):
        try:
            st = self.path.stat()
            return (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            return None

    def _refresh(self) -> None:
        """Re-read the file when it changed on disk (another store, kernel or process wrote it)."""
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return
        self._stamp = stamp
        if stamp is None:
            self._user = {}
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            raw = data.get("labels", {}) if isinstance(data, dict) else {}
            self._user = {int(k): str(v) for k, v in raw.items() if str(k).lstrip("-").isdigit() and v}
        except (OSError, ValueError) as err:
            warnings.warn(f"could not read the labels file {self.path} ({err}); starting with no user labels "
                          "(the file is left as it is until you set a label)", stacklevel=3)
            self._user = {}

    def _auto_label(self, feature: int) -> str | None:
        if self._auto is None and self._auto_loader is not None:
            loader, self._auto_loader = self._auto_loader, None
            try:
                self._auto = loader()
            except Exception as err:  # automatic labels are a convenience: never fail a lookup over them
                warnings.warn(f"could not load the automatic labels of {self.sae_name!r}: {err}", stacklevel=3)
        auto = self._auto
        if auto is None:
            return None
        if hasattr(auto, "get"):  # a dict, or a lazy mapping that makes labels on demand
            return auto.get(feature)
        return auto[feature] if feature < len(auto) else None

    def get_with_source(self, feature: int) -> tuple[str | None, str | None]:
        """``(label, "user")``, ``(label, "auto")`` or ``(None, None)``."""
        feature = self._check(feature)
        with self._lock:
            self._refresh()
            if feature in self._user:
                return self._user[feature], "user"
            auto = self._auto_label(feature)
            return (auto, "auto") if auto else (None, None)

    def get(self, feature: int) -> str | None:
        """The user's label if set, else the automatic one, else None."""
        return self.get_with_source(feature)[0]

    def user_labels(self) -> dict[int, str]:
        """All user labels (a copy)."""
        with self._lock:
            self._refresh()
            return dict(self._user)

    # ------------------------------------------------------------------ writing
    def set(self, feature: int, text: str | None) -> None:
        """Set (or, with None or an empty string, remove) the user's label of ``feature``; saved at once."""
        feature = self._check(feature)
        if text is not None and not isinstance(text, str):
            raise TypeError(f"a label is a string (or None to remove it), not {type(text).__name__}")
        text = " ".join(text.split()) if text else ""
        if len(text) > MAX_LABEL_CHARS:
            raise ValueError(f"labels are at most {MAX_LABEL_CHARS} characters; this one has {len(text)}")
        with self._lock:
            self._refresh()
            if text:
                self._user[feature] = text
            else:
                self._user.pop(feature, None)
            self._write()

    def _write(self) -> None:
        data = {"format": LABELS_FORMAT, "sae": self.sae_name,
                "labels": {str(k): v for k, v in sorted(self._user.items())}}
        atomic_write_json(self.path, data, indent=1)
        self._stamp = self._file_stamp()

    def set_auto_labels(self, labels) -> None:
        """Attach automatic labels: a list indexed by feature (None for none), a dict, or any object
        with ``get(feature) -> str | None`` (labels made on demand)."""
        with self._lock:
            self._auto = labels
            self._auto_loader = None

    def set_auto_loader(self, loader) -> None:
        """Attach automatic labels lazily: ``loader()`` is called once, when a label is first needed."""
        with self._lock:
            if self._auto is None:
                self._auto_loader = loader

    def __repr__(self) -> str:
        return f"LabelStore({self.sae_name!r}, {len(self.user_labels())} user labels, file {self.path})"


def labels_for(sae) -> LabelStore:
    """The label store of an SAE: the same object for the same SAE within a process (no automatic labels
    attached; ``analysis.sources.label_store`` attaches the ones it knows)."""
    with _lock:
        store = _stores.get(sae)
        if store is None:
            store = LabelStore(sae.name, getattr(sae, "d_sae", None))
            _stores[sae] = store
        return store
