"""cifar_core: datasets, architectures, training runs, evaluation and inspection for the CNN dashboard.

Never imports streamlit. TensorFlow runs only in Dask worker processes: `worker`, `training`,
`evaluation`, `inspection`, `architectures` and `pipeline` are theirs. The dashboard, the CLI and
the benchmarks reach them through `jobs` (trainings), `client` (evaluation and inspection) and
`cluster` (the connections), and share the NumPy-only modules (`datasets`, `runs`, `catalog`, ...).

Importing it changes nothing in the process: processes that run TensorFlow call
`cifar_core.process.configure_process()` first.
"""

from .errors import CoreError, DataError, ImageError, ParamError, RunError

__all__ = ["CoreError", "DataError", "ImageError", "ParamError", "RunError"]
__version__ = "0.1.0"
