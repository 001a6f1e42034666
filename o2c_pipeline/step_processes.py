"""No orphaned step processes: a Dagster run's steps die with the run's process.

The multiprocess executor (:data:`o2c_pipeline.definitions.STEP_EXECUTOR`) forks its steps from a
forkserver that the run's process starts. If that process is killed alone (SIGKILL, the OOM
killer, a timeout), nothing tells the forkserver or the steps: they used to run on for half an
hour holding their memory and the DuckDB lock.

This module is the forkserver's first preloaded module, so it runs in the forkserver only. It
asks Linux to SIGKILL the forkserver when its parent (the run's process) dies, and every process
forked from it when the forkserver dies (``PR_SET_PDEATHSIG``; cleared by ``fork``, hence set
again in each child). A parent that died before the request took effect is caught by comparing
``getppid()`` with the parent the process was started by. Elsewhere than Linux it does nothing.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(expected_parent: int) -> bool:
    """SIGKILL this process when its parent dies; exit now if that parent is already gone.
    Returns whether the request was made (Linux only)."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        return False
    if os.getppid() != expected_parent:  # the parent died before the request took effect
        os._exit(1)
    return True


def _install() -> None:
    forkserver, parent = os.getpid(), os.getppid()
    if parent == 1:  # the run's process died while this forkserver was starting: adopted by init
        os._exit(1)
    if die_with_parent(parent):
        os.register_at_fork(after_in_child=lambda: die_with_parent(forkserver))


_install()
