import numpy as np

from autograder import verify, wire


def test_exact_reports_the_first_difference():
    problem = verify.exact()({"a": [1, 2, 3]}, {"a": [1, 2, 4]})
    assert problem and "['a'][2]" in problem and "4" in problem


def test_types_and_shapes_are_checked_before_values():
    check = verify.exact()
    assert "expected a dict" in check({"a": 1}, [("a", 1)])
    assert "shape" in check(np.zeros(3), np.zeros(4))
    assert check(True, 1) is not None  # a bool answer is not the number 1
    assert check(3, 3.0) is None


def test_close_uses_tolerances():
    check = verify.close(rtol=1e-6)
    assert check(np.ones(4), np.ones(4) * (1 + 1e-8)) is None
    assert check(np.ones(4), np.ones(4) * 1.01) is not None
    assert check(1.0, 1.0 + 1e-9) is None


def test_liar_objects_fail_once_made_plain():
    class Liar(dict):
        def __eq__(self, other):
            return True

    assert verify.exact()({"requests": 3}, wire.plain(Liar())) is not None
