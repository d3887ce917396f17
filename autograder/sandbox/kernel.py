"""A Jupyter kernel that runs inside a box (nbgrader executes the notebook through it).

The box has no network, not even the host's loopback, so the kernel talks ZMQ over
Unix sockets (jupyter_client's "ipc" transport) in the box's ``run/`` folder; the
connection file is written there too, readable by the sandbox user. Everything else is
jupyter_client's own machinery: the command from the kernelspec, wrapped by the box.
"""

from __future__ import annotations

import os
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import Any as AnyTrait

from .box import Box


class ConfinedKernelManager(AsyncKernelManager):
    """An AsyncKernelManager whose kernel runs in ``box`` (set before starting)."""

    box = AnyTrait(None, allow_none=True)

    def __init__(self, *, box: Box, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.box = box
        self.transport = "ipc"
        self.ip = str(box.run / "kernel")
        self.connection_file = str(box.run / "kernel.json")

    def write_connection_file(self, **kwargs: Any) -> None:
        super().write_connection_file(**kwargs)
        self.box.give(self.connection_file)  # the kernel reads it as the sandbox user

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        wrapped, self._group = self.box.wrap(cmd, cwd=self.box.work)
        return wrapped

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        kw["cwd"] = str(self.box.work)
        if self.box.mode == "none":
            kw["env"] = self.box.env()
        await super()._async_launch_kernel(kernel_cmd, **kw)
        process = getattr(self.provisioner, "process", None)
        if process is not None:
            self.box.track(process, self._group)

    def cleanup_connection_file(self) -> None:
        # The box is deleted as a whole; the file may already be gone with it.
        if os.path.exists(self.connection_file):
            super().cleanup_connection_file()
