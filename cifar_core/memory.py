"""Give freed heap memory back to the operating system after parsing a dataset.

Unpickling a CIFAR batch makes large temporary byte strings; glibc keeps their pages for reuse
after they are freed (its mmap threshold grows with each large free), so a process that has
parsed CIFAR-10 would hold about as much again as the dataset itself. `malloc_trim` returns them.
"""

import ctypes
import ctypes.util

M_ARENA_MAX = -8


def limit_malloc_arenas(count=2):
    """Cap glibc's per-thread malloc arenas. TensorFlow runs many threads; each may get an arena
    of its own, and their unused pages add up (about 80 MB in a training process on 2 cores)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(M_ARENA_MAX, count)
    except (OSError, AttributeError):
        pass


def release_free_memory():
    """Return free heap pages to the OS where the C library is glibc; a no-op elsewhere."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass
