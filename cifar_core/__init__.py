"""cifar_core: datasets, architectures, training runs, evaluation and inspection for the CNN dashboard.

Never imports streamlit. TensorFlow is imported lazily by the modules that need it,
so the dashboard's Data page opens without it.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out of the CLI

from .errors import CoreError, DataError, ImageError, ParamError, RunError  # noqa: E402
from .memory import limit_malloc_arenas  # noqa: E402

limit_malloc_arenas()

__all__ = ["CoreError", "DataError", "ImageError", "ParamError", "RunError"]
__version__ = "0.1.0"
