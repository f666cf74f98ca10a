"""DNA/RNA oracles: GC, window GC, melting temperature, restriction sites, homopolymers."""

from __future__ import annotations

import numpy as np
import pytest

from oracles import get_oracle
from oracles.dna import GCContent, Homopolymer, MeltingTemp, RestrictionSites, WindowGC


def test_gc_content_known_values_and_case():
    res = GCContent()(["GGCCAATT", "gggc", "ATAT", "GCGCGCGCGA"])
    np.testing.assert_allclose(res.values, [0.5, 1.0, 0.0, 0.9])
    assert GCContent(alphabet="rna")(["GCUA"]).values[0] == 0.5
    assert GCContent(target=0.4)(["GGCCAATTAA"]).values[0] == pytest.approx(0.0)


def test_gc_bad_inputs_are_invalid_with_reasons_and_the_rest_is_scored():
    res = get_oracle("gc")(["", "ACGN", "ACGU", "GG", None])
    assert res.valid.tolist() == [False, False, False, True, False]
    assert res.errors[0] == "empty sequence"
    assert "illegal character 'N'" in res.errors[1] and "position 3" in res.errors[1]
    assert "illegal character 'U'" in res.errors[2]
    assert res.errors[4] == "missing input (None)"
    assert res.values[3] == 1.0
    with pytest.raises(ValueError, match="target must be in"):
        GCContent(target=1.5)


def test_window_gc_statistics():
    seq = "GGGGAAAA"  # window 4: GC = 1, .75, .5, .25, 0
    assert WindowGC(window=4)([seq]).values[0] == 1.0
    assert WindowGC(window=4, reduce="min")([seq]).values[0] == 0.0
    assert WindowGC(window=4, reduce="max_deviation", target=0.5)([seq]).values[0] == 0.5
    np.testing.assert_allclose(WindowGC(window=4).window_gc(seq), [1, 0.75, 0.5, 0.25, 0])
    assert WindowGC(window=50, reduce="max")(["GCAT"]).values[0] == 0.5  # shorter than the window


def test_melting_temperature_matches_published_biopython_values():
    # Biopython tutorial example: Tm_NN = 60.32, Tm_Wallace = 84.00 for this primer.
    primer = "CGTTCCAAAGATGTGGGCATGAGCTTAC"
    assert MeltingTemp()([primer]).values[0] == pytest.approx(60.32, abs=0.01)
    assert get_oracle("tm", method="wallace")([primer]).values[0] == 84.0
    longer_gc = MeltingTemp()(["GCGCGCGCGCGCGCGCGCGC", "ATATATATATATATATATAT"]).values
    assert longer_gc[0] > longer_gc[1] + 20
    res = MeltingTemp()(["A", "ACGT"])
    assert not res.valid[0] and "at least 2 bases" in res.errors[0] and res.valid[1]


def test_restriction_sites_on_both_strands():
    oracle = RestrictionSites(enzymes=["EcoRI", "BamHI", "BsaI"])
    seqs = [
        "AAAAGAATTCAAAA",  # EcoRI
        "AAGGATCCAAGAATTCAA",  # BamHI + EcoRI
        "AAAAGAGACCAAAA",  # BsaI on the reverse strand only (GGTCTC reverse-complemented)
        "ACGTACGTACGT",  # clean
    ]
    assert oracle(seqs).values.tolist() == [1.0, 2.0, 1.0, 0.0]
    assert oracle.describe(seqs[2]) == "BsaI at 4(-)" and oracle.describe(seqs[3]) == "no sites"
    assert oracle(["GAATTC"]).values[0] == 1.0  # a site flush with the end still counts
    with pytest.raises(ValueError, match=r"unknown enzyme 'EcoR1'.*EcoRI"):
        RestrictionSites(enzymes=["EcoR1"])


def test_homopolymer_longest_run():
    res = Homopolymer(max_run=4)(["ACGTTTTTTA", "ACGT", "aaaaa"])
    assert res.values.tolist() == [6.0, 1.0, 5.0]
    assert Homopolymer().describe("ACGTTTTTTA") == "run of 6 x T at position 3"
    assert Homopolymer(max_run=4).default_bounds == (None, 4.0)
