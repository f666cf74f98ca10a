"""The held-out-classifier peptide objective: data halves kept apart, the optimum, and less outside each window."""

from __future__ import annotations

import pytest

from oracles import get_oracle
from oracles.peptide_design import AMPDesign, amp_halves, train_holdout_classifier


@pytest.fixture(scope="module")
def task() -> AMPDesign:
    return AMPDesign()  # default windows: charge [2, 4], GRAVY [-0.4, 0.1], moment >= 0.45


def test_the_classifier_never_sees_the_design_half():
    halves = amp_halves()
    design, oracle = set(halves["design"][0]), set(halves["oracle"][0])
    assert design and oracle and not design & oracle
    clf = train_holdout_classifier(0)
    assert clf.train_set <= oracle and not clf.train_set & design
    m = clf.metrics
    assert m["n_design_half"] == len(design)
    # Held-out accuracy is reported on both sets the classifier never trained on.
    assert m["test_accuracy"] > 0.8 and m["design_half_accuracy"] > 0.8 and m["design_half_auroc"] > 0.85


def test_a_peptide_inside_every_window_scores_the_optimum(task):
    x = "WLRRIGKGVKIIGNAALEHP"
    t = task.terms([x])
    assert all(t[k][0] == 1.0 for k in ("charge", "gravy", "moment", "complexity", "classifier"))
    assert task([x]).values[0] == pytest.approx(1.0) and task.optimal_value == 1.0


def test_each_broken_constraint_scores_less(task):
    repeat = "KLLKKLLKKLLKKLLKKLLK"  # 50 % L: over the complexity limit
    charged = "WLRRIGKGVKIIKKKKLKHP"  # net charge far above 4
    t = task.terms([repeat, charged])
    assert t["complexity"][0] < 1.0 and t["charge"][1] < 1.0
    assert (task([repeat, charged]).values < 1.0).all()


def test_bad_peptides_are_invalid_with_a_reason(task):
    r = task(["WLRRIGKGVKIIGNAALEHX", "KLLK"])
    assert not r.valid.any()
    assert "X" in r.errors[0] and "length 4" in r.errors[1]


def test_bad_arguments_name_what_is_wrong():
    with pytest.raises(ValueError, match="unknown window 'pi'"):
        AMPDesign(windows={"pi": (1, 2, 1)})
    with pytest.raises(ValueError, match="window 'charge'"):
        AMPDesign(windows={"charge": (3, 2, 1)})
    with pytest.raises(ValueError, match="p_full"):
        AMPDesign(p_full=0.4)


def test_registry_builds_it():
    assert isinstance(get_oracle("amp_design", max_fraction=0.3), AMPDesign)
