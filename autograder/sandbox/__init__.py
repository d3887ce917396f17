"""Confinement of student code: boxes (scratch folder, namespaces, limits) and cgroups."""

from .box import (
    Box,
    Confined,
    Limits,
    SandboxUnavailable,
    describe_mode,
    isolation_mode,
    require_isolation,
    sweep,
)

__all__ = [
    "Box",
    "Confined",
    "Limits",
    "SandboxUnavailable",
    "describe_mode",
    "isolation_mode",
    "require_isolation",
    "sweep",
]
