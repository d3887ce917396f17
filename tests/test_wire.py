import numpy as np
import pytest

from autograder import wire
from autograder.errors import WireError


def test_plain_data_round_trips_exactly():
    value = {
        "n": 3,
        "big": 2**70,
        "x": 0.1,
        "nan": float("nan"),
        "s": "é",
        "b": b"\x00\x01",
        "t": (1, [2, 3]),
        "set": {1, 2},
        5: None,
        "flag": True,
        "z": 1 + 2j,
        "arr": np.arange(6, dtype=np.int32).reshape(2, 3),
    }
    back = wire.decode(wire.encode(value))
    assert back["x"] == 0.1 and back["big"] == 2**70 and back["t"] == (1, [2, 3])
    assert np.isnan(back["nan"]) and back[5] is None and back["flag"] is True and back["z"] == 1 + 2j
    assert back["arr"].dtype == np.int32 and back["arr"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert back["b"] == b"\x00\x01" and back["set"] == {1, 2}


def test_numpy_scalars_become_python_numbers():
    back = wire.plain([np.float32(1.5), np.int64(7), np.bool_(True)])
    assert back == [1.5, 7, True]
    assert [type(v) for v in back] == [float, int, bool]


def test_an_object_that_always_says_equal_does_not_survive():
    class Liar:
        def __eq__(self, other):
            return True

    with pytest.raises(WireError, match="Liar"):
        wire.plain(Liar())


def test_subclasses_are_flattened_to_plain_types():
    class YesDict(dict):
        def __eq__(self, other):
            return True

    class YesStr(str):
        def __eq__(self, other):
            return True

    back = wire.plain({"a": YesStr("x"), "d": YesDict()})
    assert type(back["a"]) is str and type(back["d"]) is dict
    assert back["d"] != {"k": 1}


def test_object_arrays_and_malformed_messages_are_refused():
    with pytest.raises(WireError, match="dtype object"):
        wire.encode(np.array([object()]))
    with pytest.raises(WireError, match="malformed"):
        wire.decode(b"\x05\x00\x00\x00\x00\x00\x00\x00{bad")
