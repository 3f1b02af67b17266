"""cifar_core: datasets, architectures, training runs, evaluation and inspection for the CNN dashboard.

Its sub-packages say where their code runs (the README's Layout section has one line each):
`server` and `cli` in the dashboard's or the command's process, `worker` in the Dask worker
processes (the only one that imports TensorFlow or Keras), and `data`, `config`, `runs` and
`export` in both. It never imports Streamlit.

Importing it changes nothing in the process: processes that run TensorFlow call
`cifar_core.process.configure_process()` first.
"""

from cifar_core.errors import CoreError, DataError, ImageError, ParamError, RunError

__all__ = ["CoreError", "DataError", "ImageError", "ParamError", "RunError"]
__version__ = "0.1.0"
