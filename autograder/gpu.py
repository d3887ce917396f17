"""Choosing the GPU path in a notebook: the real device when there is one, else the fallback.

Call ``setup_cuda()`` before anything imports numba: the CUDA simulator can only be
switched on through NUMBA_ENABLE_CUDASIM before numba is first imported.
"""

from __future__ import annotations

import os
import sys
import warnings
from types import ModuleType

from .hardware import gpu_present


def setup_cuda() -> str:
    """Pick real CUDA or the simulator for numba.cuda; returns one line saying which."""
    if gpu_present() and os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
        return "GPU found: numba.cuda runs on the real device."
    if "numba" in sys.modules and os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
        raise RuntimeError(
            "numba was imported before setup_cuda(), so the CUDA simulator cannot be switched "
            "on: restart the kernel and run the setup cell first"
        )
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    # The simulator's CUDA events record no time and warn on every read; the labs say so once.
    warnings.filterwarnings("ignore", message="Simulator timings are bogus")
    return (
        "no GPU: numba.cuda runs on the CUDA simulator (right answers, slow; GPU speed is not graded here)."
    )


def array_module() -> ModuleType:
    """CuPy when a GPU can use it, else NumPy: both offer the same array API."""
    if gpu_present():
        try:
            import cupy

            if cupy.is_available():
                return cupy
        except ImportError:
            pass
    import numpy

    return numpy
