"""Process-wide settings for a program that uses the core; importing `cifar_core` changes none of them.

Processes that run TensorFlow call `configure_process()` first: the Dask workers (their warm-up
task), the CLI and the benchmarks' workers.
"""

import os

from cifar_core.memory import limit_malloc_arenas


def configure_process():
    """Quiet TensorFlow's C++ start-up messages (unless TF_CPP_MIN_LOG_LEVEL is set already) and cap
    glibc's malloc arenas. Safe to call more than once; call it before TensorFlow is imported for the
    first to take effect."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    limit_malloc_arenas()
