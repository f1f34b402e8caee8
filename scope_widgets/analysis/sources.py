"""Where an SAE's dashboards and labels come from, once per SAE: the data shipped for the default SAE, a
Gemma Scope 2 ``examples.safetensors``, or a pass over a small built-in corpus.

Everything here takes a model, a tokenizer and an SAE (never a Scope).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import warnings
import weakref
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..features import FeatureReference
from ..runtime import atomic_write, cache_dir, check_feature
from .background import everyday_texts, firing_counts, firing_stats, texts_sha256
from .corpus_pass import compute_dashboards
from .dashboards_file import LABELS_FILE, META_FILE, RATES_FILE, Dashboards
from .gemma_scope_examples import ExampleLabels, GemmaScopeExamples, examples_dashboard
from .label_store import LabelStore, labels_for, safe_name
from .records import FeatureDashboardData
from .stats import sae_fingerprint
from .token_profile import profile_reliability

__all__ = ["DEFAULT_DASHBOARDS_DIR", "SAMPLE_TEXTS", "builtin_texts", "shipped_dashboards", "dashboards_for",
           "feature_labels", "feature_dashboard", "max_activation", "reference_for", "reference_from", "everyday_reference", "levels_path", "everyday_rates",
           "write_everyday_rates"]

DEFAULT_DASHBOARDS_DIR = Path(__file__).resolve().parents[1] / "data" / "default_dashboards"

# ====================================================================================================
# a small built-in corpus, for SAEs with neither shipped dashboards nor examples


SAMPLE_TEXTS: tuple[str, ...] = (
    "The Eiffel Tower is in Paris, the capital of France. Millions of tourists visit it every year, and many of them climb the stairs to the second floor.",
    "Berlin is the capital of Germany, Rome the capital of Italy and Madrid the capital of Spain. London sits on the River Thames.",
    "Tokyo, the capital of Japan, is one of the largest cities in the world. Its trains are famous for running on time.",
    "\"Where are you going?\" asked Anna.\n\"To the market,\" said Ben. \"We need eggs, milk and bread.\"\n\"Can I come too?\"",
    "Customer: Hi, my order arrived yesterday but the box was empty.\nAgent: I'm so sorry to hear that! Could you give me your order number?",
    "Q: What is the largest planet in the solar system?\nA: Jupiter. It is more than twice as massive as all the other planets combined.",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
    "import numpy as np\n\nx = np.linspace(0, 1, 100)\ny = np.sin(2 * np.pi * x)\nprint(y.max(), y.min())\n",
    "for (let i = 0; i < items.length; i++) {\n  if (items[i].price > 100) {\n    console.log(items[i].name);\n  }\n}",
    "SELECT name, COUNT(*) AS orders FROM customers JOIN orders ON customers.id = orders.customer_id GROUP BY name ORDER BY orders DESC;",
    "<html>\n<head><title>My page</title></head>\n<body>\n<p>Hello, <b>world</b>!</p>\n</body>\n</html>",
    "The recipe is simple: mix 200 g of flour, 2 eggs and 300 ml of milk, then fry thin pancakes in a hot pan with a little butter.",
    "In 1969, Neil Armstrong and Buzz Aldrin walked on the Moon while Michael Collins orbited above in the command module.",
    "The French Revolution began in 1789 and ended in 1799. It abolished the monarchy and proclaimed the rights of man.",
    "Photosynthesis turns light, water and carbon dioxide into glucose and oxygen. It happens in the chloroplasts of plant cells.",
    "The mitochondria is often called the powerhouse of the cell, because it produces most of the cell's energy as ATP.",
    "2 + 2 = 4, 3 × 7 = 21, and the square root of 144 is 12. The sum of the angles of a triangle is 180 degrees.",
    "Sales rose from 1,204 units in January to 1,350 in February and 1,512 in March, an increase of 25.6% over the quarter.",
    "The meeting is on Thursday, 14 March 2024, at 3:30 pm in room 2.17. Please bring the quarterly report.",
    "Call us at +1 (555) 123-4567 or write to support@example.com. Our office is open Monday to Friday, 9 am to 5 pm.",
    "Once upon a time, in a village at the edge of a great forest, there lived a girl who could talk to birds.",
    "The dragon had not left its cave in three hundred years, until one morning a knight knocked on the stone door.",
    "It was raining when the detective finally found the letter. It said only: \"Meet me at the old lighthouse at midnight.\"",
    "Roses are red,\nViolets are blue,\nSugar is sweet,\nAnd so are you.",
    "I am writing to complain about the delay of my flight from Amsterdam to New York last Tuesday, which was six hours late.",
    "Dear Emma,\n\nThank you so much for the lovely birthday present. The scarf is beautiful and I wear it every day.\n\nLove,\nSophie",
    "The hotel was clean and the staff were friendly, but the breakfast was disappointing and the Wi-Fi kept dropping out. Three stars.",
    "Top tips for a good night's sleep:\n1. Go to bed at the same time every day.\n2. Avoid coffee after 2 pm.\n3. Keep your bedroom dark and cool.",
    "The football match ended 2-1 after a late goal in the 89th minute. The home fans celebrated long after the final whistle.",
    "The stock market fell sharply on Monday as investors worried about rising interest rates and weak earnings from technology companies.",
    "Il était une fois une petite fille qui vivait avec sa grand-mère dans une maison au bord de la mer.",
    "Es war einmal ein König, der drei Töchter hatte. Die jüngste war die schönste von allen.",
    "Había una vez un niño que vivía en un pequeño pueblo entre las montañas y soñaba con ver el mar.",
    "Die Hauptstadt von Deutschland ist Berlin. Paris ist die Hauptstadt von Frankreich.",
    "東京は日本の首都です。毎年たくさんの観光客が訪れます。",
    "从前有一座山，山上有一座庙，庙里有一个老和尚在给小和尚讲故事。",
    "Жил-был старик со своею старухою у самого синего моря.",
    "The patient reported headaches for three weeks. The doctor prescribed rest, plenty of water and ibuprofen twice a day.",
    "Climate change is raising sea levels, melting glaciers and making heat waves, droughts and floods more frequent.",
    "Error: cannot find module 'express'. Run `npm install express` and try again.",
    "$ git commit -m \"Fix off-by-one error in the parser\"\n[main 3f2a1c9] Fix off-by-one error in the parser\n 1 file changed, 2 insertions(+), 1 deletion(-)",
    "Theorem. There are infinitely many prime numbers.\nProof. Suppose there were finitely many, p1, ..., pn. Then p1 * ... * pn + 1 has a prime factor not in the list.",
    "The cat sat on the mat. The dog lay by the fire. Outside, the snow kept falling on the quiet street.",
    "I think the most important invention of the last century is the internet, because it changed how we learn, work and talk to each other.",
    "Honeybees communicate by dancing: the waggle dance tells other bees the direction and distance of flowers.",
    "Mount Everest, at 8,849 metres, is the highest mountain on Earth. It lies on the border between Nepal and China.",
    "The Amazon rainforest covers much of Brazil, Peru and Colombia and is home to millions of species of insects, plants and birds.",
    "Shopping list:\n- apples\n- bread\n- cheese\n- coffee\n- tomatoes",
    "{\n  \"name\": \"example\",\n  \"version\": \"1.0.0\",\n  \"dependencies\": {\"react\": \"^18.2.0\"}\n}",
    "Knock knock.\nWho's there?\nLettuce.\nLettuce who?\nLettuce in, it's cold out here!",
    "The museum will reopen next month after a two-year renovation, with a new wing for modern art and a rooftop café.",
    "According to the report, unemployment fell to 3.9 percent in April, the lowest level since the year 2000.",
    "He opened the door slowly. The room was dark, and somewhere in the corner a clock was ticking.",
    "Water boils at 100 degrees Celsius at sea level, but at the top of a high mountain it boils at a lower temperature.",
    "The children ran down to the river, laughing, because the first warm day of spring had finally arrived.",
    "Please do not hesitate to contact me if you have any questions. Kind regards, John Smith",
    "The violin, the viola, the cello and the double bass make up the string section of an orchestra.",
    "Abstract. We propose a new method for training sparse autoencoders that improves reconstruction while keeping features interpretable.",
    "The Great Wall of China is more than 20,000 kilometres long and was built over many centuries by different dynasties.",
    "My favourite hobby is gardening: I grow tomatoes, beans, lettuce and a few sunflowers every summer.",
)


def builtin_texts() -> list[str]:
    """The small built-in corpus: the sentences above plus the corpus module's prompt set."""
    from ..corpus.prompts import PROMPTS

    return list(SAMPLE_TEXTS) + [p for p in PROMPTS if len(p) >= 20]


# ====================================================================================================
# the dashboards of an SAE

_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # sae -> Dashboards | GemmaScopeExamples
_locks: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_global_lock = threading.Lock()
_shipped: dict[str, Dashboards] = {}
_references: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_everyday_references: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # sae -> ({model: levels}, lock), no shipped dashboards
_reference_lock = threading.Lock()


def shipped_dashboards(directory: str | os.PathLike = DEFAULT_DASHBOARDS_DIR) -> Dashboards | None:
    """The precomputed dashboards shipped for the default SAE (read once), or None when absent."""
    key = str(directory)
    if key not in _shipped:
        try:
            _shipped[key] = Dashboards.load(directory)
        except FileNotFoundError:
            return None
    return _shipped[key]


def _is_shipped_for(sae) -> bool:
    """Whether the shipped dashboards were made for this very SAE (its name and weights' fingerprint):
    the one test of "is this the default SAE", used for its dashboards, labels and reference levels."""
    meta_path = DEFAULT_DASHBOARDS_DIR / META_FILE
    if not meta_path.is_file():
        return False
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    return meta.get("sae_name") == sae.name and meta.get("sae_fingerprint") == sae_fingerprint(sae)


def dashboards_for(model, tokenizer, sae, *, progress: bool = True) -> Dashboards | GemmaScopeExamples:
    """The dashboard source of an SAE, once per SAE (cached in memory): the shipped data for the
    default SAE; a Gemma Scope 2 ``examples.safetensors`` when the SAE has one; otherwise dashboards
    computed on :func:`builtin_texts` (a few thousand tokens: quick, but small)."""
    with _global_lock:
        lock = _locks.setdefault(sae, threading.Lock())
    with lock:
        cached = _cache.get(sae)
        if cached is not None:
            return cached
        source = None
        shipped = shipped_dashboards()
        if shipped is not None and _is_shipped_for(sae):
            source = shipped
        elif getattr(sae, "examples_path", None):
            source = GemmaScopeExamples(sae.examples_path)
            if not source.has_examples:
                source = None
        if source is None:
            if shipped is not None and shipped.sae_name == sae.name:
                warnings.warn(
                    f"the shipped dashboards were made for another version of {sae.name!r}; computing dashboards "
                    "on the small built-in corpus instead (regenerate with: python -m scope_widgets.analysis --default)",
                    stacklevel=3,
                )
            source = compute_dashboards(model, tokenizer, sae, builtin_texts(), progress=progress,
                                        source="the built-in sample corpus")
        store = labels_for(sae)
        if isinstance(source, Dashboards):
            source.tokenizer = tokenizer
            store.set_auto_labels(source.auto_labels)
        else:
            store.set_auto_labels(ExampleLabels(source, model, tokenizer, sae))
        _cache[sae] = source
        return source


def feature_labels(sae) -> LabelStore:
    """The SAE's label store, with the shipped automatic labels attached (lazily) when they are its own."""
    store = labels_for(sae)
    store.set_auto_loader(lambda ref=weakref.ref(sae): _shipped_auto_labels(ref()))
    return store


def _shipped_auto_labels(sae):
    """The shipped automatic labels when ``sae`` is the SAE they were made for; else None."""
    if sae is None or not (DEFAULT_DASHBOARDS_DIR / LABELS_FILE).is_file() or not _is_shipped_for(sae):
        return None
    raw = json.loads((DEFAULT_DASHBOARDS_DIR / LABELS_FILE).read_text(encoding="utf-8")).get("labels", {})
    return {int(k): v for k, v in raw.items()}


def feature_dashboard(model, tokenizer, sae, feature: int) -> FeatureDashboardData:
    """What ``scope.dashboard(feature)`` returns: see :func:`dashboards_for` for where the data comes
    from. The user's own label, when set, replaces the automatic one."""
    feature = check_feature(feature, sae.d_sae, sae.name)
    source = dashboards_for(model, tokenizer, sae)
    known = feature_labels(sae).get_with_source(feature)
    if isinstance(source, GemmaScopeExamples):
        return examples_dashboard(model, tokenizer, sae, feature, source, label=known if known[0] else (None, None))
    data = source.feature(feature, tokenizer)
    data.label, data.label_source = known
    return data


def max_activation(model, tokenizer, sae, feature: int) -> float:
    """One feature's maximum activation over its dashboard source: ``feature_dashboard(...).max_activation``
    without building the rest of the dashboard (examples, histogram, logit effects)."""
    feature = check_feature(feature, sae.d_sae, sae.name)
    source = dashboards_for(model, tokenizer, sae)
    if isinstance(source, GemmaScopeExamples):
        acts = source.all_activations(feature)
        return float(acts.max()) if len(acts) else 0.0
    return float(source.max_activation[feature])


def reference_for(sae, model=None, tokenizer=None) -> FeatureReference | None:
    """The usual per-feature levels (for ``FeatureActivations.standout``) from the SAE's shipped
    dashboards; None for an SAE without them. With the ``model`` and ``tokenizer``, each feature's rate on
    everyday text (:func:`everyday_rates`) is added; without them nothing is ever computed."""
    with _reference_lock:
        if sae not in _references:
            ref = None
            if _is_shipped_for(sae):
                dash = shipped_dashboards()
                if dash is not None:
                    ref = reference_from(dash)
            _references[sae] = ref
        ref = _references[sae]
        if ref is not None and ref.background_count is None and model is not None and tokenizer is not None:
            counts, n_tokens = everyday_rates(model, tokenizer, sae)
            ref = _references[sae] = replace(ref, background_count=counts, background_tokens=n_tokens)
        return ref


def everyday_reference(model, tokenizer, sae, *, cache: bool = True) -> FeatureReference:
    """The usual per-feature levels of an SAE without shipped dashboards (a Gemma Scope SAE, your own),
    counted once on :func:`.background.everyday_texts` (about 8,200 tokens: 8 seconds for Gemma 3 270M on
    2 CPU cores, a fraction of that on a GPU) and kept in the disk cache (:func:`levels_path`; ``cache=False``
    neither reads nor writes it): each feature's rate there is its usual rate, and its largest activation
    there its usual strong one (0 for a feature that never fired: ``standout`` then judges it by its count
    alone). The shipped default SAE's reference (:func:`reference_for`) also knows each feature's density
    over the dashboards corpus, so on that SAE it is the better of the two."""
    with _reference_lock:  # one lock per SAE, as dashboards_for: two first uses at once count once
        per_model, lock = _everyday_references.setdefault(sae, (weakref.WeakKeyDictionary(), threading.Lock()))
    with lock:
        ref = per_model.get(model)
        if ref is not None:
            return ref
        path = levels_path(model, sae)
        stats = _load_levels(path, sae) if cache else None
        if stats is None:
            stats = _in_own_thread(lambda: firing_stats(model, tokenizer, sae, everyday_texts()))
            if cache:
                try:
                    _save_levels(path, sae, *stats)
                except OSError:  # a read-only cache: the levels still work, they are just not kept
                    pass
        counts, maxima, n_tokens = stats
        ref = per_model[model] = FeatureReference(usual_max=maxima.astype(np.float32), density=np.zeros(sae.d_sae),
                                                  background_count=counts, background_tokens=n_tokens)
        return ref


def _model_fingerprint(model) -> str:
    """A short hash of a model's identity (its name, class and a sample of its input embeddings): the same
    SAE hooked on another model (or on randomly initialised weights) reads other activations."""
    emb = model.get_input_embeddings().weight
    h = hashlib.sha256(f"{type(model).__name__}|{getattr(model.config, '_name_or_path', '')}|{tuple(emb.shape)}".encode())
    h.update(emb[:: max(1, emb.shape[0] // 64)].detach().float().cpu().numpy().tobytes())
    return h.hexdigest()[:12]


def levels_path(model, sae) -> Path:
    """Where an SAE's levels on everyday text are cached:
    ``<cache_dir>/usual_levels/<name>-<SAE fingerprint>-<model fingerprint>-<texts hash>.safetensors``."""
    key = f"{safe_name(sae.name)}-{sae_fingerprint(sae)}-{_model_fingerprint(model)}-{texts_sha256(everyday_texts())[:12]}"
    return cache_dir() / "usual_levels" / f"{key}.safetensors"


def _save_levels(path: Path, sae, counts: np.ndarray, maxima: np.ndarray, n_tokens: int) -> None:
    from safetensors.numpy import save_file

    arrays = {"counts": np.ascontiguousarray(counts, dtype=np.float32), "maxima": np.ascontiguousarray(maxima, dtype=np.float32)}
    atomic_write(path, lambda tmp: save_file(arrays, tmp, metadata={"n_tokens": str(int(n_tokens)), "d_sae": str(sae.d_sae)}))


def _load_levels(path: Path, sae) -> tuple[np.ndarray, np.ndarray, int] | None:
    """The cached ``(counts, maxima, n_tokens)``, or None when absent, unreadable or of another width."""
    from safetensors import safe_open

    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            counts, maxima = f.get_tensor("counts"), f.get_tensor("maxima")
        n_tokens = int(meta["n_tokens"])
    except Exception:  # a truncated or foreign file: count again
        return None
    if counts.shape != (sae.d_sae,) or maxima.shape != (sae.d_sae,) or n_tokens <= 0:
        return None
    return counts.astype(np.float64), maxima.astype(np.float64), n_tokens


def _in_own_thread(fn):
    """``fn()`` run in a thread of its own: steering hooks are thread-scoped, so levels first needed inside
    a ``scope.steer`` block are still counted on the unsteered model."""
    out: dict = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except BaseException as err:  # raised again in the caller's thread
            out["error"] = err

    worker = threading.Thread(target=run, name="scope-widgets-everyday-levels", daemon=True)
    worker.start()
    worker.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


def everyday_rates(model, tokenizer, sae, directory: str | os.PathLike = DEFAULT_DASHBOARDS_DIR) -> tuple[np.ndarray, int]:
    """``(counts [d_sae], n_tokens)``: on how many tokens of :func:`.background.everyday_texts` each
    feature fires. Read from the shipped ``background_rates.json`` when it was made for this SAE (its
    weights' fingerprint) and these texts (their hash); otherwise counted (a pass over about 8,000 tokens:
    8 seconds for Gemma 3 270M on 2 CPU cores)."""
    texts = everyday_texts()
    path = Path(directory) / RATES_FILE
    if path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
        if (data.get("sae_name") == sae.name and data.get("sae_fingerprint") == sae_fingerprint(sae)
                and data.get("texts_sha256") == texts_sha256(texts) and data.get("d_sae") == sae.d_sae):
            counts = np.zeros(sae.d_sae)
            for k, v in data["counts"].items():
                counts[int(k)] = v
            return counts, int(data["n_tokens"])
    return firing_counts(model, tokenizer, sae, texts)


def write_everyday_rates(model, tokenizer, sae, directory: str | os.PathLike = DEFAULT_DASHBOARDS_DIR) -> Path:
    """Count :func:`everyday_rates` and write them (non-zero counts only) to ``directory/background_rates.json``."""
    texts = everyday_texts()
    counts, n_tokens = firing_counts(model, tokenizer, sae, texts)
    data = {"sae_name": sae.name, "sae_fingerprint": sae_fingerprint(sae), "d_sae": sae.d_sae,
            "texts_sha256": texts_sha256(texts), "n_texts": len(texts), "n_tokens": n_tokens,
            "counts": {str(i): int(counts[i]) for i in np.flatnonzero(counts)}}
    path = Path(directory) / RATES_FILE
    path.write_text(json.dumps(data, separators=(",", ":")) + "\n", encoding="utf-8")
    return path


def reference_from(dash: Dashboards) -> FeatureReference:
    """A feature's usual strong activation: the median of its top examples' maxima; its density; and the
    tokens it usually fires on, with how reliably (its token profile)."""
    values = dash.arrays["ex_value"].astype(np.float32)  # [d_sae, n_examples]
    masked = np.where(values > 0, values, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: features never seen
        usual = np.nan_to_num(np.nanmedian(masked, axis=1), nan=0.0)
    profile = {}
    if "profile_ids" in dash.arrays:  # dashboards made before token profiles have none
        ids = np.asarray(dash.arrays["profile_ids"], dtype=np.int32)
        profile = {"profile_ids": ids,
                   "profile_reliability": profile_reliability(ids, dash.arrays["profile_counts"], dash.text_counts())}
    return FeatureReference(usual_max=usual.astype(np.float32), density=np.asarray(dash.density, dtype=np.float64),
                            **profile)
