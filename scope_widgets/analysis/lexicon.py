"""An offline lexical database for automatic labels: WordNet's lemmas and hypernyms, when installed.

Debian's ``wordnet-base`` (``/usr/share/wordnet``) is read once, lazily: base forms of inflected words
("dogs" -> "dog", "ran" -> "run") and the hypernyms of nouns ("dog" -> "canine" -> "carnivore" ->
"animal"). Without it, ``lemma`` falls back to a few suffix rules and there are no hypernyms. Labels of
the default SAE are made where it is installed and shipped, so users never need it.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

from ..corpus.everyday import WORDNET_DIR

__all__ = ["Lexicon", "lexicon", "STOPWORDS", "WORD_CLASSES", "word_class"]

#: Hypernyms too general to name a feature by.
_TOO_GENERAL = {"entity", "physical entity", "abstraction", "object", "whole", "thing", "matter", "physical object",
                "psychological feature", "attribute", "relation", "group", "measure", "unit", "artifact",
                "living thing", "organism", "being", "causal agent", "cause", "communication", "act", "event",
                "state", "location", "instrumentality", "content", "cognition", "process", "person", "individual",
                "someone", "somebody", "mortal", "soul", "part", "portion", "region", "area", "structure",
                "construction", "social group", "collection", "aggregation", "assemblage", "substance", "material",
                "quality", "property", "message", "knowledge domain", "discipline", "field", "writing", "abstract entity"}
STOPWORDS = frozenset("""a an the and or but if of to in on at by for with from as is are was were be been being it its this
that these those he she they we you i me him her them us my your his their our not no so do does did have has had
will would can could should may might must than then there here what which who whom when where why how all any
each every some such very just also only into over out up down about after before again more most other own same
too s t""".split())


#: Closed word classes: what a dense feature that fires on function words is named by.
WORD_CLASSES = {
    "pronouns": """i me my mine you your yours he him his she her hers it its we us our ours they them their theirs myself
        yourself himself herself itself ourselves themselves everyone someone anyone nobody everybody somebody anybody
        something anything nothing everything""",
    "determiners": "the a an this that these those some any no every each all both either neither another such",
    "prepositions": """of to in on at by for with from about into over under through between after before during without
        within among against across toward towards upon onto around behind beyond beside near off out up down since
        until like than as""",
    "conjunctions": "and or but nor so yet because although though while if unless whereas",
    "auxiliaries": "be is are was were been being am have has had do does did will would can could shall should may might must",
    "question words": "what which who whom whose when where why how",
}
_CLASS_OF = {w: c for c, words in WORD_CLASSES.items() for w in words.split()}


def word_class(word: str) -> str | None:
    """The kind of a label word, when it is a function word: ``"punctuation"`` for one without letters or
    digits (``\\n`` and ``␣``, the names of spacing tokens, too), or its class in :data:`WORD_CLASSES`
    (case-folded); None for a content word, a word piece or a number. Content words get no class: a
    dense feature that fires on nouns is often about a topic (food, people), which "nouns" would hide."""
    if word in ("\\n", "\\t", "␣") or not re.search(r"[^\W_]", word):
        return "punctuation"
    return _CLASS_OF.get(word.lower())


class Lexicon:
    """Lemmas and noun hypernyms from WordNet files (``index.*``, ``data.noun``, ``*.exc``)."""

    def __init__(self, root: Path = WORDNET_DIR) -> None:
        self.root = root
        self.lemmas: dict[str, set[str]] = {}  # pos -> set of lemmas
        self.exceptions: dict[str, dict[str, str]] = {}
        self.noun_senses: dict[str, list[int]] = {}  # lemma -> synset offsets, most frequent first
        self.hypernyms: dict[int, list[int]] = {}
        self.names: dict[int, str] = {}
        for pos in ("noun", "verb", "adj", "adv"):
            lem = set()
            for line in (root / f"index.{pos}").read_text(encoding="latin-1").split("\n"):
                if not line or line.startswith(" "):
                    continue
                parts = line.split()
                lem.add(parts[0])
                if pos == "noun":
                    n_synsets = int(parts[2])
                    self.noun_senses[parts[0]] = [int(o) for o in parts[-n_synsets:]]
            self.lemmas[pos] = lem
            exc = root / f"{pos}.exc"
            self.exceptions[pos] = dict(l.split()[:2] for l in exc.read_text(encoding="latin-1").split("\n") if len(l.split()) >= 2) if exc.exists() else {}
        for line in (root / "data.noun").read_text(encoding="latin-1").split("\n"):
            if not line or line.startswith(" "):
                continue
            head = line.split("|")[0].split()
            offset, n_words = int(head[0]), int(head[3], 16)
            self.names[offset] = head[4].replace("_", " ")
            i = 4 + 2 * n_words
            n_ptr = int(head[i])
            ptrs = head[i + 1 : i + 1 + 4 * n_ptr]
            self.hypernyms[offset] = [int(ptrs[j + 1]) for j in range(0, len(ptrs), 4) if ptrs[j] in ("@", "@i")]

    def lemma(self, word: str) -> str:
        """The base form of a lowercased word (nouns first, then verbs, then adjectives)."""
        w = word.lower()
        for pos, rules in (("noun", _NOUN_RULES), ("verb", _VERB_RULES), ("adj", _ADJ_RULES)):
            if w in self.exceptions[pos]:
                return self.exceptions[pos][w]
            if w in self.lemmas[pos]:
                return w
            for suffix, repl in rules:
                if w.endswith(suffix) and len(w) > len(suffix) + 1:
                    base = w[: len(w) - len(suffix)] + repl
                    if base in self.lemmas[pos]:
                        return base
        return w

    @functools.lru_cache(maxsize=65536)
    def ancestors(self, lemma: str, senses: int = 2) -> dict[int, int]:
        """Hypernym synsets of a noun's first ``senses`` senses: ``{offset: distance}`` (closest distance)."""
        out: dict[int, int] = {}
        frontier = [(o, 0) for o in self.noun_senses.get(lemma, [])[:senses]]
        while frontier:
            o, d = frontier.pop()
            if o in out and out[o] <= d:
                continue
            out[o] = d
            frontier.extend((h, d + 1) for h in self.hypernyms.get(o, []))
        return out

    def shared_hypernym(self, weighted: dict[str, float], min_share: float = 0.6, min_words: int = 3) -> str | None:
        """A hypernym name covering at least ``min_share`` of the weight and ``min_words`` distinct nouns,
        the most specific such one; None when the words share nothing specific."""
        nouns = {w: v for w, v in weighted.items() if w in self.noun_senses}
        if len(nouns) < min_words:
            return None
        total = sum(weighted.values())
        cover: dict[int, float] = {}
        count: dict[int, int] = {}
        depth: dict[int, int] = {}
        for w, v in nouns.items():
            for o, d in self.ancestors(w).items():
                cover[o] = cover.get(o, 0.0) + v
                count[o] = count.get(o, 0) + 1
                depth[o] = max(depth.get(o, 0), d)
        good = [o for o in cover if cover[o] >= min_share * total and count[o] >= min_words
                and self.names[o] not in _TOO_GENERAL]
        if not good:
            return None
        best = min(good, key=lambda o: (depth[o], -cover[o]))  # the closest common ancestor
        return self.names[best]


_NOUN_RULES = (("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"), ("men", "man"), ("ies", "y"), ("s", ""))
_VERB_RULES = (("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", ""), ("s", ""))
_ADJ_RULES = (("er", ""), ("est", ""), ("er", "e"), ("est", "e"))


@functools.lru_cache(maxsize=1)
def lexicon() -> Lexicon | None:
    """The WordNet lexicon when installed (read once), else None."""
    try:
        return Lexicon() if (WORDNET_DIR / "data.noun").is_file() else None
    except (OSError, ValueError, IndexError):
        return None


def simple_lemma(word: str) -> str:
    """A lemma without WordNet: lowercase, and a plural -s dropped from longer words."""
    w = word.lower()
    if len(w) > 4 and w.endswith("s") and not w.endswith("ss") and re.fullmatch(r"[a-z]+", w):
        return w[:-1]
    return w
