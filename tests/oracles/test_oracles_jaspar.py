"""JASPAR motif oracle and the vectorised PWM scanner (checked against Bio.motifs)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from oracle_helpers import random_dna

from oracles import get_oracle
from oracles.jaspar import JasparMotif, PWMScanner, encode_dna, load_motifs, pssm_from_counts


def _bio_best(motif, seq: str) -> float:
    """Reference: Bio.motifs scan of both strands with the same PSSM construction."""
    from Bio.motifs import jaspar

    pssm = motif.counts.normalize(pseudocounts=jaspar.calculate_pseudocounts(motif)).log_odds()
    if len(seq) < pssm.length:
        return float("-inf")
    return float(max(np.max(pssm.calculate(seq)), np.max(pssm.reverse_complement().calculate(seq))))


def test_scanner_equals_bio_motifs_on_a_padded_batch():
    motifs = load_motifs(["MA0139.1", "MA0079.5", "MA0098.4"])  # CTCF, SP1, ETS1: widths differ
    scanner = PWMScanner([pssm_from_counts(m) for m in motifs])
    rng = random.Random(0)
    seqs = ["".join(rng.choice("ACGT") for _ in range(rng.randint(8, 70))) for _ in range(25)]
    ids, lengths = encode_dna(seqs)
    best = scanner(ids, lengths).numpy()
    expected = np.array([[_bio_best(m, s) for m in motifs] for s in seqs])
    assert np.array_equal(np.isinf(best), np.isinf(expected))  # too-short sequences agree too
    finite = np.isfinite(expected)
    np.testing.assert_allclose(best[finite], expected[finite], atol=1e-4)


def test_consensus_scores_one_and_beats_its_shuffles():
    (motif,) = load_motifs("MA0139.1")
    consensus = str(motif.consensus)
    oracle = get_oracle("jaspar", motif="MA0139.1")
    rng = random.Random(1)
    shuffles = ["".join(rng.sample(consensus, len(consensus))) for _ in range(30)]
    res = oracle([consensus, *shuffles])
    assert res.values[0] == pytest.approx(1.0, abs=1e-6)
    assert (res.values[1:] < res.values[0] - 0.05).all()
    assert ((0 <= res.values) & (res.values <= 1)).all()


def test_reverse_strand_and_embedding_are_found():
    (motif,) = load_motifs("MA0139.1")
    site = str(motif.consensus)
    rc = site[::-1].translate(str.maketrans("ACGT", "TGCA"))
    background = random_dna(1, 120, seed=5)[0]
    fwd = background[:50] + site + background[50:]
    rev = background[:80] + rc + background[80:]
    values = JasparMotif(motif="MA0139.1")([fwd, rev, background]).values
    assert values[0] == pytest.approx(1.0) and values[1] == pytest.approx(1.0)
    assert values[2] < 0.9


def test_several_motifs_give_columns_or_an_aggregate():
    seqs = random_dna(6, 60, seed=2)
    multi = get_oracle("jaspar", motif="MA0139.1,SP1", normalize=False)
    res = multi(seqs)
    assert multi.n_objectives == 2 and res.values.shape == (6, 2)
    assert multi.motif_ids == ["MA0139.1", "MA0079.5"]
    agg = get_oracle("jaspar", motif=["MA0139.1", "SP1"], normalize=False, aggregate="max")(seqs)
    np.testing.assert_allclose(agg.values, res.values.max(axis=1))


def test_name_lookup_and_clear_errors():
    assert [m.matrix_id for m in load_motifs("CTCF")] == ["MA0139.2"]  # CORE, vertebrate, lowest base ID
    with pytest.raises(ValueError, match=r"'MA9999\.1' is not in JASPAR2024"):
        load_motifs("MA9999.1")
    with pytest.raises(ValueError, match="no JASPAR profile named 'NOT_A_TF'"):
        load_motifs("NOT_A_TF")
    with pytest.raises(ValueError, match="unknown JASPAR release"):
        load_motifs("CTCF", release="JASPAR1999")
    with pytest.raises(ValueError, match="aggregate must be one of"):
        JasparMotif(aggregate="median")


def test_bad_and_short_sequences_are_invalid_and_the_rest_scored():
    res = get_oracle("jaspar")(["ACGT", "", "ACGTNACGTACGTACGTACGT", random_dna(1, 40)[0]])
    assert res.valid.tolist() == [False, False, False, True]
    assert "shorter than motif width 19" in res.errors[0]
    assert "illegal character 'N'" in res.errors[2]


def test_position_scores_mask_windows_past_the_end():
    scanner = PWMScanner([np.zeros((4, 3)), np.ones((4, 5))])
    ids, lengths = encode_dna(["ACGTAC", "ACG"])
    scores = scanner.position_scores(ids, lengths)  # (2, 4, 6)
    assert scores.shape == (2, 4, 6)
    assert torch.isfinite(scores[0, 0]).tolist() == [True] * 4 + [False] * 2
    assert torch.isfinite(scores[0, 1]).tolist() == [True] * 2 + [False] * 4
    assert torch.isinf(scores[1, 1]).all() and scores[1, 0, 0] == 0
    with pytest.raises(ValueError, match=r"shape \(4, W\)"):
        PWMScanner([np.zeros((3, 4))])
    with pytest.raises(ValueError, match="position 2: 'N' is not a DNA base"):
        encode_dna(["ACNT"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_scanner_runs_on_cuda_and_matches_cpu():
    motifs = load_motifs(["MA0139.1", "MA0079.5"])
    pssms = [pssm_from_counts(m) for m in motifs]
    ids, lengths = encode_dna(random_dna(50, 100, seed=4))
    cpu = PWMScanner(pssms)(ids, lengths)
    gpu = PWMScanner(pssms).to("cuda")(ids.cuda(), lengths.cuda()).cpu()
    torch.testing.assert_close(cpu, gpu, atol=1e-4, rtol=0)
