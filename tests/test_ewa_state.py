"""EWA states through the one envelope (streamopt.state): the reader accepts exactly what the writer
produces (and what 0.1.0 wrote), errors are short, and the parameter match is one public check."""

from __future__ import annotations

import json

import numpy as np
import pytest

import streamopt
from streamopt import EWA
from streamopt.ewa import check_state, state_mismatch

#: A state as streamopt 0.1.0 wrote it (EWA(0.9, bias_correction=True) after update([1.0, 2.0, nan])),
#: written out by hand.
STATE_0_1_0 = {
    "format": "streamopt.EWA",
    "version": 1,
    "alpha": "0x1.9999999999998p-4",
    "beta": "0x1.ccccccccccccdp-1",
    "bias_correction": True,
    "skipna": True,
    "mode": "series",
    "dtype": "float64",
    "k": 1,
    "value": ["0x1.28f5c28f5c28ep-2"],
    "count": [2],
}


#: A float32 panel state as 0.1.0 wrote it (EWA(0.5) after update(float32 [[1, 2], [3, nan]])).
PANEL_0_1_0 = {"format": "streamopt.EWA", "version": 1, "alpha": "0x1.0000000000000p-1",
               "beta": "0x1.0000000000000p-1", "bias_correction": False, "skipna": True, "mode": "panel",
               "dtype": "float32", "k": 2, "value": ["0x1.c000000000000p+0", "0x1.0000000000000p+0"],
               "count": [2, 1]}


def test_a_0_1_0_panel_state_loads_and_continues():
    p = EWA.from_state(PANEL_0_1_0)
    x = np.float32([[1, 2], [3, np.nan], [5, 6]])
    np.testing.assert_array_equal(p.update(x[2:]), streamopt.ewa(x, 0.5)[2:])
    np.testing.assert_array_equal(p.count, [3, 2])
    q = EWA(0.5)
    q.update(x[:2])
    assert q.state_dict() == PANEL_0_1_0


def test_a_0_1_0_state_loads_and_continues():
    s = EWA.from_state(json.loads(json.dumps(STATE_0_1_0)))
    want = streamopt.ewa([1.0, 2.0, np.nan, 4.0], 0.9, bias_correction=True)
    assert s.count == 2
    assert s.value == want[2]
    assert s.update(4.0) == want[3]
    loaded = EWA(0.9, bias_correction=True)
    loaded.load_state_dict(STATE_0_1_0)
    assert loaded.update(4.0) == want[3]


def test_the_writer_still_writes_the_0_1_0_format():
    s = EWA(0.9, bias_correction=True)
    s.update([1.0, 2.0, np.nan])
    assert s.state_dict() == STATE_0_1_0
    fresh = EWA(span=3).state_dict()
    assert fresh == {"format": "streamopt.EWA", "version": 1, "alpha": "0x1.0000000000000p-1",
                     "beta": "0x1.0000000000000p-1", "bias_correction": False, "skipna": True, "mode": None,
                     "dtype": None, "k": None, "value": [], "count": []}


@pytest.mark.parametrize(("change", "needle"), [
    ({"value": ["1.5"]}, r"state\['value'\]\[0\] must be a hex float"),
    ({"value": [" 0x1.8000000000000p+0"]}, r"value'\]\[0\]"),
    ({"alpha": "0x1.99999999999980p-4"}, r"state\['alpha'\]"),
    ({"version": True}, r"state\['version'\] must be the integer 1"),
    ({"version": 1.0}, r"state\['version'\] must be the integer 1"),
    ({"extra": 1}, "unknown field"),
    ({"count": [2.0]}, r"state\['count'\]\[0\] must be an integer"),
    ({"count": [2**53 + 1]}, r"state\['count'\]\[0\]"),
    ({"k": True}, r"state\['k'\]"),
    ({"skipna": 1}, r"state\['skipna'\]"),
    ({"mode": None}, r"state\['dtype'\] must be null"),
])
def test_the_reader_accepts_only_what_the_writer_writes(change, needle):
    bad = {**STATE_0_1_0, **change}
    with pytest.raises(ValueError, match=needle):
        EWA.from_state(bad)
    with pytest.raises(ValueError, match=needle):
        EWA(0.9, bias_correction=True).load_state_dict(bad)


def test_a_huge_list_gives_a_short_error():
    bad = {**STATE_0_1_0, "value": ["0x1.0000000000000p+0"] * 10**6}
    with pytest.raises(ValueError) as info:
        EWA.from_state(bad)
    assert len(str(info.value)) < 300 and "1000000 items" in str(info.value)


def test_check_compatible_and_state_mismatch_name_the_parameter():
    state = EWA(0.9).state_dict()
    assert state_mismatch(state, EWA(0.9)) is None
    check_state(state, EWA(0.9))
    EWA(0.9).check_compatible(state)
    assert state_mismatch(state, EWA(0.5)) == ("beta", 0.9, 0.5)
    assert state_mismatch(state, EWA(0.9, skipna=False)) == ("skipna", True, False)
    for other, key in ((EWA(0.5), "beta"), (EWA(0.9, bias_correction=True), "bias_correction"),
                       (EWA(0.9, skipna=False), "skipna")):
        with pytest.raises(ValueError, match=f"state has {key}="):
            other.check_compatible(state)
        with pytest.raises(ValueError, match=f"this EWA has {key}="):
            other.load_state_dict(state)
    with pytest.raises(TypeError, match="state must be a dict"):
        EWA(0.9).check_compatible([1])
    with pytest.raises(ValueError, match="format"):
        EWA(0.9).check_compatible({**state, "format": "x"})
