"""What the server and the workers agree on: the Dask names of a run's objects, and the reason a
run reads as interrupted. Plain Python, imported by both sides."""

from cifar_core.i18n import N_

# Stored in status.json in English; a page shows it with `_()`.
INTERRUPTED = N_("The worker training it stopped before the run finished (killed, out of memory or "
                 "disconnected). Its history and last checkpoint are kept.")


def names(run_id):
    """The Dask objects of one run: its message queue and its 'started' and 'stop' events."""
    return {"queue": f"cifar-core-run-{run_id}", "started": f"cifar-core-started-{run_id}",
            "stop": f"cifar-core-stop-{run_id}"}


def lr_search_stop_name(search_id):
    """The Dask event that cancels one learning-rate search."""
    return f"cifar-core-lr-stop-{search_id}"


def shared_data_name(dataset):
    """The name under which a server publishes a dataset for lab workers without their own copy."""
    return f"cifar-core-data-{dataset}"
