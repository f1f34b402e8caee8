"""A built-in background: ordinary sentences on many unrelated subjects, and how often features fire on
everyday text.

For search: a feature is *selective* for a concept when it fires on text about the concept and not on
:data:`BACKGROUND`. Its sentences are deliberately plain and varied (chores, places, objects, numbers,
feelings, work, nature, code), so a feature that fires on everything (punctuation, "the", sentence starts)
scores near chance against them. Sentences that contain the query itself are left out for that query.

For "what stands out in this text" (``FeatureActivations.standout``): :func:`everyday_texts` (these
sentences and the hand-written everyday prose of ``data/eval``) and :func:`firing_counts` give each
feature's usual rate on ordinary prose, which the SAE's training corpus, with its code and
documentation, underestimates for features of stories, letters and dialogue.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["BACKGROUND", "everyday_texts", "firing_counts", "firing_stats", "texts_sha256"]

_EVERYDAY_PROSE = Path(__file__).resolve().parents[1] / "data" / "eval" / "everyday_prose.json"

BACKGROUND: tuple[str, ...] = (
    "I left the keys on the kitchen table before going out.",
    "The meeting was moved from Tuesday to Thursday afternoon.",
    "She painted the fence white over the long weekend.",
    "Please send me the file when you have a moment.",
    "The bus was late again, so we walked the last mile.",
    "He bought a new lamp for the reading corner.",
    "The report has twelve pages and three tables.",
    "We waited in line for almost half an hour.",
    "The shop on the corner closes at six.",
    "My brother fixed the squeaky door with a little oil.",
    "The printer ran out of paper in the middle of the job.",
    "They repainted the hallway a pale shade of green.",
    "The answer to the second question is forty-two.",
    "I forgot to water the plants while you were away.",
    "The lecture covered the history of the printing press.",
    "Her handwriting is neat and very easy to read.",
    "The elevator stopped on every floor this morning.",
    "We need two more chairs for the guests tonight.",
    "The package arrived a day earlier than expected.",
    "He spent the evening sorting old photographs into albums.",
    "The river flows slowly past the old mill.",
    "A cold wind blew across the empty parking lot.",
    "The mountain path was steep and covered in loose stones.",
    "Leaves were piling up along the garden wall.",
    "The sky turned orange as the sun went down.",
    "The team celebrated after winning the final match.",
    "She practised the violin for an hour every day.",
    "The museum opened a new exhibition of old maps.",
    "We watched a documentary about ancient ships.",
    "The band played their new song to a small crowd.",
    "The bread was still warm when we cut it.",
    "He ordered soup and a salad for lunch.",
    "The recipe needs three eggs and a cup of sugar.",
    "Grandmother keeps her recipes in a wooden box.",
    "The hospital added a new wing for children.",
    "The nurse checked his temperature twice that night.",
    "The bank raised its interest rates last month.",
    "Prices at the market went up after the storm.",
    "The company hired fifty new workers this year.",
    "The election results were announced late in the evening.",
    "The judge postponed the hearing until next week.",
    "The police closed the road after the accident.",
    "The train to the coast leaves every hour.",
    "Our flight was delayed because of fog.",
    "The car would not start on the cold morning.",
    "The computer restarted in the middle of the update.",
    "The function returns a list of strings.",
    "Save the document before you close the window.",
    "The phone battery lasts about two days.",
    "The children played in the park until dark.",
    "The baby slept through the whole journey.",
    "The teacher handed back the corrected essays.",
    "Students must register for classes by Friday.",
    "The old church bell rang at noon.",
    "The farmer planted corn in the eastern field.",
    "Cows grazed quietly on the hillside.",
    "The cat watched the birds from the window.",
    "A dog barked somewhere down the street.",
    "The fish swam in circles around the small tank.",
    "The coffee machine in the office is broken again.",
    "He drank a glass of cold water after the run.",
    "The festival draws thousands of visitors each summer.",
    "Snow fell heavily during the night.",
    "It rained all afternoon, so we stayed inside.",
    "The fire in the fireplace kept the room warm.",
    "The astronauts returned safely from the station.",
    "The moon was full and very bright.",
    "The soldiers marched along the dusty road.",
    "She felt nervous before her first speech.",
    "He was angry that nobody had called him back.",
    "They were happy to see each other after so long.",
    "The news made her sad for the rest of the day.",
    "He loves her more than he can say.",
    "The new jacket fits perfectly.",
    "The store sells shoes, hats and scarves.",
    "Paris is crowded with tourists in August.",
    "The apples in the bowl were red and shiny.",
    "We listened to the radio on the drive home.",
    "The spreadsheet lists every expense of the trip.",
    "Twenty people signed up for the workshop.",
)


def everyday_texts() -> list[str]:
    """:data:`BACKGROUND` and the 36 hand-written everyday documents of ``data/eval/everyday_prose.json``
    (news, recipes, dialogue, letters, stories, reviews; about 8,200 tokens in all)."""
    docs = json.loads(_EVERYDAY_PROSE.read_text(encoding="utf-8"))["documents"]
    return list(BACKGROUND) + [d["text"] for d in docs]


def texts_sha256(texts: Sequence[str]) -> str:
    """One hash of the texts, in order: what a file of counts records to show which texts it counted."""
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def firing_counts(model, tokenizer, sae, texts: Sequence[str], batch_size: int = 8, max_tokens: int = 512) -> tuple[np.ndarray, int]:
    """``(counts [d_sae] float64, n_tokens)``: on how many of the texts' tokens (BOS excluded) each feature
    fires, and how many tokens were read."""
    counts, _, n_tokens = firing_stats(model, tokenizer, sae, texts, batch_size, max_tokens)
    return counts, n_tokens


def firing_stats(model, tokenizer, sae, texts: Sequence[str], batch_size: int = 8,
                 max_tokens: int = 512) -> tuple[np.ndarray, np.ndarray, int]:
    """``(counts, maxima, n_tokens)``: per feature, on how many of the texts' tokens (BOS excluded) it fires
    and its largest activation there (``[d_sae]`` float64 each), and how many tokens were read; one pass."""
    from ..features import extract
    from ..runtime import in_batches

    def count(chunk: list[str]) -> list[tuple[np.ndarray, np.ndarray, int]]:  # one row per chunk: a wide SAE's rows are large
        # a long document is read up to the model's limit: a sample of everyday text, no warning needed
        rows = [per_sae[sae.name] for per_sae in extract(model, tokenizer, [sae], chunk, 1, max_tokens, warn=False)]
        return [(np.sum([a.count_per_feature_array() for a in rows], axis=0),
                 np.max([a.max_per_feature.float().cpu().numpy() for a in rows], axis=0).astype(np.float64),
                 sum(a.n_tokens - a.first_position for a in rows))]

    rows = in_batches(count, list(texts), batch_size, desc="usual feature levels on everyday text")
    if not rows:
        return np.zeros(sae.d_sae), np.zeros(sae.d_sae), 0
    return (np.sum([c for c, _, _ in rows], axis=0), np.max([m for _, m, _ in rows], axis=0),
            int(sum(n for _, _, n in rows)))
