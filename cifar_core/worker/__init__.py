"""Runs in the Dask worker processes: the only package that imports TensorFlow or Keras.

The server never imports its modules. It submits `run(task, *args)`, naming a function of
`cifar_core.worker.tasks`, and speaks to a running training through the Dask objects of `cifar_core.protocol`.
Importing this package loads nothing else.
"""

def run(task, *args, language=None):
    """Run the task `cifar_core.worker.tasks.<task>` in this worker process (what the server submits);
    its messages for people are in `language`, the asking tab's."""
    from cifar_core.process import configure_process
    configure_process()  # before TensorFlow loads, with the import below
    from cifar_core import i18n
    from cifar_core.worker import tasks
    if task not in tasks.TASKS:
        raise ValueError(f"Unknown worker task {task!r}; the tasks are {', '.join(sorted(tasks.TASKS))}.")
    with i18n.speaking(language or i18n.SOURCE):  # what it stores (status.json) stays English
        return tasks.TASKS[task](*args)
