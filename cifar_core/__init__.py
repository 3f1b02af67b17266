"""cifar_core: datasets, architectures, training runs, evaluation and inspection for the CNN dashboard.

Never imports streamlit. TensorFlow is imported lazily by the modules that need it,
so the dashboard's Data page opens without it.

Importing it changes nothing in the process: entry points (the CLI, the dashboard's app.py, the
job manager, the benchmarks) call `cifar_core.process.configure_process()` first.
"""

from .errors import CoreError, DataError, ImageError, ParamError, RunError

__all__ = ["CoreError", "DataError", "ImageError", "ParamError", "RunError"]
__version__ = "0.1.0"
