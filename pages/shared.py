"""What every page shares: cached getters around cifar_core, and small widget helpers.

TensorFlow is imported only inside the getters that need it, so pages that do not
train or load models (Home, Data) open without it.
"""

import os

import streamlit as st

from cifar_core.errors import CoreError
from cifar_core.runs import RunStore, check_run_id

ACTIVE = ("queued", "running")


def _use_app_navigation():
    """Streamlit treats a folder named pages/ as legacy auto-discovered pages until app.py has run
    once in the server; a first visitor arriving on a deep link (/train) would get the page without
    app.py's navigation and layout. Switch to app.py's declared pages and rerun."""
    from streamlit.runtime.pages_manager import PagesManager
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


_use_app_navigation()

PAGE_PREFIXES = ("data_", "train_", "eval_", "fm_")
# Buttons, uploads and chart or table selections cannot be set through session state.
NOT_KEPT = {"data_reshuffle", "data_download", "train_start", "train_stop", "train_watch", "train_delete",
            "train_runs_table", "eval_matrix", "eval_download_model", "eval_download_history",
            "fm_upload", "fm_class_next", "fm_random_next"}
SAVED = "_kept_choices"


def keep_choices():
    """Keep every page's widget choices while the user visits other pages.

    Streamlit forgets the state of widgets that a run does not draw; a copy under a key of
    our own survives, and puts the choice back when the page is drawn again. Every page calls this first.
    """
    saved = st.session_state.setdefault(SAVED, {})
    for key, value in saved.items():
        if key not in st.session_state:
            st.session_state[key] = value
    for key in list(st.session_state):
        if isinstance(key, str) and key.startswith(PAGE_PREFIXES) and key not in NOT_KEPT:
            saved[key] = st.session_state[key]


def runs_dir():
    return os.environ.get("CIFAR_CORE_RUNS") or "runs"


@st.cache_resource(show_spinner=False)
def get_manager(directory):
    """One job manager per server and runs folder, shared by every session (thread-safe)."""
    from cifar_core.jobs import JobManager
    return JobManager(directory)


def manager():
    return get_manager(runs_dir())


def store():
    return RunStore(runs_dir())


@st.cache_resource(show_spinner="Loading the dataset …")
def get_dataset(name, source_key):
    """A dataset, parsed once per server and shared by every session."""
    from cifar_core.datasets import load_dataset
    return load_dataset(name)


def dataset(name):
    from cifar_core.datasets import cache_key
    return get_dataset(name, str(cache_key(name)))


@st.cache_resource(show_spinner="Loading the model …", max_entries=16)
def get_model(directory, run_id, model_file, mtime_ns):
    from cifar_core.evaluation import load_run_model
    return load_run_model(RunStore(directory), run_id)


def run_model(run_id):
    path = store().model_path(run_id)
    return get_model(runs_dir(), run_id, path.name, path.stat().st_mtime_ns)


def show_error(exc):
    """A core error as one short message; nothing else on the page is lost."""
    st.error(str(exc), icon=":material/error:")


def run_label(row):
    best = f", best val acc {row['best_val_accuracy']:.1%}" if row.get("best_val_accuracy") is not None else ""
    return f"{row['run_id']} · {row['dataset']} · {row['status']}{best}"


def pick_run_ui(key, usable=("completed", "stopped", "interrupted", "failed")):
    """A run selector over runs with a saved model; honours `?run=<id>` in the address.

    Returns the chosen run's summary row and config, or stops the page with what to do.
    """
    rows = [r for r in store().list() if r["status"] in usable and r["has_model"]]
    training = [r for r in store().list() if r["status"] in ACTIVE]
    wanted = st.query_params.get("run")
    if wanted is not None:
        try:
            check_run_id(wanted)
        except CoreError as exc:
            show_error(f"The address names a run that was refused: {exc}")
            wanted = None
    if not rows:
        if training:
            st.info("A run is still training and has not saved a model yet. Watch it on the Train page, "
                    "then come back.", icon=":material/hourglass_top:")
        else:
            st.info("Train a model first: open the Train page and press Start.", icon=":material/info:")
        st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")
        st.stop()
    ids = [r["run_id"] for r in rows]
    if wanted in ids and key not in st.session_state:
        st.session_state[key] = wanted
    chosen = st.selectbox("Run", ids, key=key, format_func=lambda i: run_label(rows[ids.index(i)]))
    return rows[ids.index(chosen)], store().config(chosen)
