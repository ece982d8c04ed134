"""Elle's model lattice: what models forbid, and which models anomalies rule out."""

import pytest

from checkers.elle import consistency_models as cm
from harness.errors import InputError


@pytest.mark.parametrize("anomalies,nots", [
    (["G0"], ["read-uncommitted"]),
    (["G1a"], ["read-committed"]),
    (["G-single-item"], ["consistent-view", "repeatable-read"]),
    (["G-single-item-realtime"], ["strong-snapshot-isolation"]),
    (["G1c-process"], ["strong-session-read-committed"]),
    (["G2-item", "lost-update"], ["cursor-stability", "update-atomic"]),
    (["internal"], ["read-atomic"]),
    (["G2-item"], ["repeatable-read"]),
    (["empty-transaction-graph"], []),
])
def test_boundary(anomalies, nots):
    assert cm.boundary(anomalies) == nots


def test_g1_stands_for_g1a_g1b_g1c():
    got = cm.prohibited_anomaly_types(None, ["G1"])
    assert {"G1a", "G1b", "G1c", "G0", "dirty-update", "incompatible-order"} <= got
    assert "G2-item" not in got


def test_models_forbid_what_weaker_models_forbid():
    ss = cm.anomalies_prohibited_by(["strict-serializable"])
    ser = cm.anomalies_prohibited_by(["serializable"])
    assert ser < ss
    assert "G-single-item-realtime" in ss and "G-single-item-realtime" not in ser
    assert "G2-item" in ser and "G2-item" not in cm.anomalies_prohibited_by(["read-committed"])


def test_snapshot_isolation_allows_g2_item_but_not_g_single():
    si = cm.anomalies_prohibited_by(["snapshot-isolation"])
    assert "G-single-item" in si and "G-nonadjacent-item" in si
    assert "G2-item" not in si


def test_unknown_model_is_one_line_error():
    with pytest.raises(InputError, match="unknown model 'serialisable'"):
        cm.validate_models(["serialisable"])
