"""The enhancer-grammar oracle: the optimum on a hand-built sequence, and less for each broken constraint."""

from __future__ import annotations

import numpy as np
import pytest

from oracles import get_oracle
from oracles.enhancer import EnhancerGrammar, parse_site

_KW = {"sites": ["NR3C1:+:0", "FOS::JUN:-:4", "CEBPB:+:3"], "repressor": "GFI1B", "threshold": 1.0, "floor": 0.3,
       "quantization": 4, "gc_low": 0.4, "gc_high": 0.6, "length": 60}
_BACKGROUND = "ACGT" * 15  # GC 0.5; the consensus sites replace its first bases


@pytest.fixture(scope="module")
def grammar() -> EnhancerGrammar:
    return EnhancerGrammar(**_KW)


def test_consensus_at_the_grammar_scores_the_optimum(grammar):
    x = grammar.consensus(_BACKGROUND)
    t = grammar.terms([x])
    assert t["sites"].tolist() == [[1.0, 1.0, 1.0]] and t["repressor"][0] == 1 and t["gc"][0] == 1
    assert grammar([x]).values[0] == pytest.approx(1.0)
    assert grammar.optimal_value == 1.0


def test_a_site_one_base_off_its_spacing_scores_less(grammar):
    x = grammar.consensus(_BACKGROUND)
    a, w = grammar.offsets[2], grammar.widths[2]
    shifted = x[:a] + "A" + x[a:a + w] + x[a + w + 1:]  # the third site one base further: gap 4, not 3
    assert len(shifted) == len(x)
    assert grammar([shifted]).values[0] < 1.0


def test_a_site_on_the_wrong_strand_scores_less(grammar):
    x = grammar.consensus(_BACKGROUND)
    a, w = grammar.offsets[1], grammar.widths[1]
    site = x[a:a + w]
    flipped = x[:a] + site.translate(str.maketrans("ACGT", "TGCA"))[::-1] + x[a + w:]
    if flipped == x:  # a palindromic consensus cannot test the strand
        pytest.skip("palindromic site")
    assert grammar([flipped]).values[0] < 1.0


def test_the_repressor_site_silences_it(grammar):
    x = grammar.consensus(_BACKGROUND)
    rep = "".join("ACGT"[b] for b in grammar.pssms[-1].argmax(axis=0))
    start = grammar.span + 2
    silenced = x[:start] + rep + x[start + len(rep):]
    t = grammar.terms([silenced])
    assert t["grammar"][0] == 1.0 and t["repressor"][0] == 0.0
    assert grammar([silenced]).values[0] == 0.0


def test_leaving_the_gc_window_scores_less(grammar):
    rich = grammar.consensus("GC" * 30)
    poor = grammar.consensus("AT" * 30)
    t = grammar.terms([rich, poor])
    assert (t["grammar"] == 1.0).all() and (t["gc"] < 1.0).all()
    assert (grammar([rich, poor]).values < 1.0).all()


def test_credit_is_quantised_and_in_range(grammar):
    lib = grammar.library(200, seed=3)
    t = grammar.terms(lib)
    v = grammar(lib).values
    assert ((v >= 0) & (v <= 1)).all()
    levels = np.prod(np.floor(np.clip((t["sites"] - 0.3) / 0.7, 0, 1) * 4 + 1e-6) / 4, axis=1)
    assert np.allclose(levels, t["grammar"])  # the best anchor's credit is the product of quantised site credits


def test_library_is_deterministic_and_holds_the_sites(grammar):
    a, b = grammar.library(50, seed=7), grammar.library(50, seed=7)
    assert a == b and a != grammar.library(50, seed=8)
    assert all(len(s) == 60 and set(s) <= set("ACGT") for s in a)
    from oracles.jaspar import JasparMotif

    planted = JasparMotif(motif=grammar.motif_ids[:3], normalize=True)(a).values
    assert np.median(planted) > 0.75  # planted sites score well above a random 60-mer's best window (~0.7)


def test_bad_sequences_are_invalid_with_a_reason(grammar):
    r = grammar(["ACGX" * 15, "ACGT" * 10])
    assert not r.valid.any()
    assert "X" in r.errors[0] and "length 40" in r.errors[1]


def test_bad_arguments_name_what_is_wrong():
    with pytest.raises(ValueError, match="site 1: strand"):
        parse_site({"motif": "CEBPB", "strand": "x"}, 1)
    with pytest.raises(ValueError, match="site 0"):
        parse_site("CEBPB:+:two", 0)
    with pytest.raises(ValueError, match="span"):
        EnhancerGrammar(sites=["NR3C1", "CEBPB:+:10"], length=20)
    with pytest.raises(ValueError, match="floor"):
        EnhancerGrammar(floor=0.9, threshold=0.5)
    assert parse_site("FOS::JUN:-:4", 0).motif == "FOS::JUN"


def test_registry_builds_it():
    f = get_oracle("enhancer", **_KW)
    assert isinstance(f, EnhancerGrammar) and f.span == 15 + 4 + 9 + 3 + 10
