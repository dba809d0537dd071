"""Process pools whose workers never outlive the process that started them.

A killed parent (kill -9, the OOM killer) runs no cleanup, so its workers would be left running,
then blocked forever on a task queue nobody feeds. Here each worker asks the kernel to kill it
when its parent dies (Linux `prctl(PR_SET_PDEATHSIG)`), or elsewhere watches the parent from a
thread and exits when it is gone. Workers ignore Ctrl-C: the parent gets it and leaving the
pool's `with` block terminates them.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import multiprocessing.pool
import os
import signal
import sys
import threading

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def worker_pool(processes: int, nice: int = 0) -> multiprocessing.pool.Pool:
    """A pool of `processes` workers (at `nice` lower priority) that die with this process; use
    it as a context manager, which terminates them on leaving, also on an error."""
    # fork where available: workers need no `__main__` guard in user scripts (spawn re-imports
    # the caller's main module).
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    return mp.get_context(method).Pool(processes, initializer=_init_worker,
                                       initargs=(os.getpid(), nice))


def _init_worker(parent: int, nice: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if nice:
        os.nice(nice)
    if not _die_with_parent():
        threading.Thread(target=_exit_with_parent, daemon=True).start()
    if os.getppid() != parent:  # the parent died before the death signal was armed
        os._exit(1)


def _die_with_parent() -> bool:
    """Linux: the kernel sends this process SIGKILL when its parent dies. False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL) == 0
    except (OSError, AttributeError):
        return False


def _exit_with_parent() -> None:
    """Fallback: block until the parent process ends, then exit at once."""
    parent = mp.parent_process()
    if parent is not None:
        parent.join()
        os._exit(1)
