"""The dictionary definitions search reads: built from WordNet's files, shipped, looked up."""
from __future__ import annotations

import gzip
import json

import pytest

from scope_widgets.analysis import glosses as G


HEADER = "  1 This software and database is provided\n"  # WordNet's files open with licence lines like it


def fake_wordnet(root):
    """A tiny WordNet: "kettle" has two noun senses (the first with two kinds) and a verb sense."""
    lines = [  # offset lex_filenum ss_type w_cnt word lex_id p_cnt [ptr offset pos source/target] | gloss
        ("pot", "{pot} 06 n 01 kettle 0 002 ~ {tea} n 0000 ~ {big} n 0000 | a metal pot for boiling water"),
        ("tea", "{tea} 06 n 01 teakettle 0 000 | kettle for making tea"),
        ("big", "{big} 06 n 01 cauldron 0 000 | a big kettle"),
        ("drum", "{drum} 06 n 01 kettle 1 000 | a drum shaped like a bowl"),
        ("ice", '{ice} 13 n 01 ice_cream 0 000 | frozen dessert; "we had ice cream"'),
    ]
    at, offsets = len(HEADER), {}
    for name, text in lines:  # an offset is the line's byte offset, written in 8 digits
        offsets[name] = at
        at += len(text.format(**{n: "0" * 8 for n, _ in lines})) + 1
    body = "\n".join(t.format(**{n: f"{o:08d}" for n, o in offsets.items()}) for _, t in lines)
    (root / "data.noun").write_text(HEADER + body + "\n", encoding="latin-1")
    (root / "index.noun").write_text(
        HEADER + f"kettle n 2 1 ~ 2 0 {offsets['pot']:08d} {offsets['drum']:08d}\n"
        f"ice_cream n 1 0 1 0 {offsets['ice']:08d}\n", encoding="latin-1")
    (root / "data.verb").write_text("00000000 38 v 01 kettle 0 000 | to boil in a kettle\n", encoding="latin-1")
    (root / "index.verb").write_text("kettle v 1 0 1 0 00000000\nboil v 1 0 1 0 00000000\n", encoding="latin-1")
    (root / "data.adj").write_text("", encoding="latin-1")
    (root / "index.adj").write_text("", encoding="latin-1")


def test_build_reads_senses_kinds_and_phrases_in_the_first_part_of_speech(tmp_path):
    fake_wordnet(tmp_path)
    table = G.build(tmp_path)
    kettle = [table["glosses"][i] for i in table["words"]["kettle"]]
    # its two noun senses, the first followed by its two kinds; the verb sense is not read (nouns come first)
    assert kettle == ["a metal pot for boiling water", "kettle for making tea", "a big kettle", "a drum shaped like a bowl"]
    assert [table["glosses"][i] for i in table["words"]["ice cream"]] == ['frozen dessert; "we had ice cream"']
    assert [table["glosses"][i] for i in table["words"]["boil"]] == ["to boil in a kettle"]
    assert len(set(table["glosses"])) == len(table["glosses"])  # each definition stored once


def test_the_file_is_deterministic_and_looked_up_by_plural_and_spacing(tmp_path):
    fake_wordnet(tmp_path)
    a, b = tmp_path / "a.json.gz", tmp_path / "b.json.gz"
    G.write(G.build(tmp_path), a)
    G.write(G.build(tmp_path), b)
    assert a.read_bytes() == b.read_bytes()
    assert G.glosses("Kettles", a)[0] == "a metal pot for boiling water"
    assert G.glosses("  Ice   Cream ", a) == ['frozen dessert; "we had ice cream"']
    assert G.glosses("teapot", a) == [] and G.glosses(3, a) == []
    assert G.glosses("kettle", tmp_path / "missing.json.gz") == []


def test_the_shipped_definitions_are_there_for_everyday_words_and_licensed():
    for word in ("kettle", "umbrella", "pizza", "jealousy", "bus"):
        assert len(G.glosses(word)) >= 2, word
    assert "boiling" in G.glosses("kettle")[0]
    table = json.loads(gzip.decompress(G.GLOSS_FILE.read_bytes()))
    assert table["senses"] == G.SENSES and table["hyponyms"] == G.HYPONYMS
    assert "Princeton University" in (G.GLOSS_FILE.parent / "LICENSE").read_text()


@pytest.mark.skipif(not (G.WORDNET_DIR / "index.noun").exists(), reason="WordNet (wordnet-base) is not installed")
def test_the_shipped_file_is_what_the_recipe_builds_from_wordnet():
    assert G.main(["--check"]) == 0
