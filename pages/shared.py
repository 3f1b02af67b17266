"""What every page shares: the job manager, the runs folder, messages and the run picker.

The server never imports TensorFlow: training runs on Dask workers through the job manager, and
models are read by the inspection worker through `cifar_core.server.inspection`.
"""

import re

import streamlit as st

from cifar_core.config.architectures import ARCHITECTURES
from cifar_core.data.datasets import dataset_info
from cifar_core.errors import CoreError
from cifar_core.i18n import N_, _, percent
from cifar_core.protocol import INTERRUPTED
from cifar_core.runs.store import ACTIVE, RunStore, check_run_id, default_runs_dir
from cifar_core.server.jobs import STOPPED_BEFORE_START, JobManager
from pages import navigation

# Widgets keep their value for the whole browser session, across pages (Streamlit's own
# mechanism; copying values back through session state showed the widgets' minimums instead).
KEEP = "session"
# A run that ended with a model, best first when a page opens on its own.
USABLE = ("completed", "stopped", "interrupted", "failed")
# A run's status as a person reads it (the stored value stays English: pages compare it).
STATUS_NAMES = {"queued": N_("queued"), "running": N_("running"), "completed": N_("completed"),
                "stopped": N_("stopped"), "failed": N_("failed"), "interrupted": N_("interrupted")}


@st.cache_resource(show_spinner=False)
def get_manager(directory):
    """One job manager per server and runs folder, shared by every session (thread-safe)."""
    return JobManager(directory)


def class_mode():
    """Whether this tab is in class mode: fewer settings on the Train page, with plain labels.

    `?mode=class` in the address turns it on and `?mode=full` off, once per address (a value still
    in the address does not undo the Home page's switch); the switch on the Home page sets it too.
    The choice lasts for the tab's session, across pages."""
    mode = new_in_address("mode")
    if mode in ("class", "full"):
        st.session_state["class_mode"] = mode == "class"
    return bool(st.session_state.get("class_mode", False))


def new_in_address(name):
    """The value of `?name=` in the address if this tab has not taken that value yet, else None. An
    address's value counts once, so that, still in the address, it does not undo what the tab chose
    since (a switch, a name typed)."""
    value = st.query_params.get(name)
    if not value or st.session_state.get(f"{name}_in_address") == value:
        return None
    st.session_state[f"{name}_in_address"] = value
    return value


def reason_text(reason):
    """A run's stored reason (English in status.json) in the reader's language: the product's own
    reasons are translated, with what the worker added after them ("(KilledWorker)") kept."""
    for known in (INTERRUPTED, STOPPED_BEFORE_START):
        if reason and reason.startswith(known):
            return _(known) + reason[len(known):]
    return translated(reason)


def translated(text):
    """`text` (a core constant marked with N_) in the reader's language; an empty text stays empty
    (gettext would answer the catalog's header), and a text the catalog lacks stays as it is."""
    return _(text) if text else text


def arch_title(name):
    return translated(ARCHITECTURES[name].title) if name in ARCHITECTURES else name


def dataset_title(name):
    try:
        return translated(dataset_info(name).title)
    except CoreError:  # a run of a dataset this version does not know
        return name


def status_label(status):
    """A run's status in the reader's language ("completed"); an unknown one as it is stored."""
    return _(STATUS_NAMES[status]) if status in STATUS_NAMES else status


def runs_dir():
    return str(default_runs_dir())


def manager():
    return get_manager(runs_dir())


def store():
    return RunStore(runs_dir())


def plain(text):
    """`text` (a student's name, say) shown as itself where Streamlit reads Markdown: every
    punctuation mark that Markdown, HTML, LaTeX or Streamlit's directives could read is escaped."""
    return re.sub(r"([\\`*_{}\[\]()<>#+\-.!|~:$&=^\"'])", r"\\\1", str(text))


def show_error(exc):
    """A core error as one short message; nothing else on the page is lost."""
    st.error(str(exc), icon=":material/error:")


def scroll_to_top():
    """Bring the top of the page into view, e.g. when a click far down changes what the top shows.
    Streamlit keeps a tab's scroll position across reruns and has no call for this; the script is
    a constant of ours, never user content."""
    st.html("<script>document.querySelector('[data-testid=\"stMain\"]')?.scrollTo({top: 0});"
            "window.scrollTo({top: 0});</script>", unsafe_allow_javascript=True)


def with_article(noun):
    """'an airplane', 'a cat', 'an 8'; in a language without articles, the noun alone."""
    template = _("an {noun}") if noun[:1].lower() in "aeiou8" else _("a {noun}")
    return template.format(noun=noun)


def keep_valid(key, options, default):
    """Reset a kept choice that the current options no longer hold (another run's classes or
    layers), before its widget is drawn; `default` may be a list for a multiselect."""
    value = st.session_state.get(key)
    valid = set(value) <= set(options) if isinstance(value, list) else value in options
    if key not in st.session_state or not valid:
        st.session_state[key] = default


def follow_clicked_cell(event, names, prefix):
    """A click on a confusion matrix's cell chooses its pair in the `{prefix}_true` and `{prefix}_pred`
    boxes, once: the boxes stay free to change until the next new click."""
    points = event.selection.points if event and event.selection else []
    if points and points[0].get("x") in names and points[0].get("y") in names:
        picked = (points[0]["y"], points[0]["x"])
        if st.session_state.get(f"{prefix}_last_click") != picked:
            st.session_state[f"{prefix}_last_click"] = picked
            st.session_state[f"{prefix}_true"], st.session_state[f"{prefix}_pred"] = picked


def run_label(row):
    values = {"run": row["run_id"], "dataset": dataset_title(row["dataset"]), "status": status_label(row["status"])}
    if row.get("best_val_accuracy") is None:
        return "{run} · {dataset} · {status}".format(**values)
    return _("{run} · {dataset} · {status}, best val acc {accuracy}").format(
        accuracy=percent(row['best_val_accuracy']), **values)


def run_started(run_id):
    """'11-25 08:12 · 1a0e8d' from 20261125-081230-seed_cnn-1a0e8d: short enough for a table cell."""
    return f"{run_id[4:6]}-{run_id[6:8]} {run_id[9:11]}:{run_id[11:13]} · {run_id[-6:]}"


def short_run_label(row):
    """A label short enough for a chart legend at 1366 px: architecture, start, settings."""
    return _("{network} {started} · lr {learning_rate} · batch {batch_size}").format(
        network=arch_title(row["arch"]), started=run_started(row["run_id"]),
        learning_rate=f"{row['learning_rate']:g}", batch_size=row["batch_size"])


def pick_run_ui(key, usable=USABLE):
    """A run selector over runs with a saved model; honours `?run=<id>` in the address.

    Opens on the run the address names (a link from the Home page), else on the newest completed
    run (a stopped run of one epoch is rarely what a class wants to look at). The address follows
    the selector, so a later link to another run wins over an earlier choice. Returns the chosen
    run's summary row and config, or stops the page with what to do.
    """
    runs = store().list()
    rows = [r for r in runs if r["status"] in usable and r["has_model"]]
    wanted = st.query_params.get("run")
    if wanted is not None:
        try:
            check_run_id(wanted)
        except CoreError as exc:
            show_error(_("The address names a run that was refused: {error}").format(error=exc))
            wanted = None
    if not rows:
        if any(r["status"] in ACTIVE for r in runs):
            st.info(_("A run is still training and has not saved a model yet. Watch it on the Train page, "
                      "then come back."), icon=":material/hourglass_top:")
        else:
            st.info(_("Train a model first: open the Train page and press Start."), icon=":material/info:")
        st.page_link("pages/train.py", label=_("Go to Train"), icon=":material/model_training:")
        st.stop()
    ids = [r["run_id"] for r in rows]
    if wanted in ids:
        if st.session_state.get(key) != wanted:
            st.session_state[key] = wanted
    elif key not in st.session_state or st.session_state[key] not in ids:
        completed = [r["run_id"] for r in rows if r["status"] == "completed"]
        st.session_state[key] = (completed or ids)[0]

    def follow_in_address():
        if "run" in st.query_params:
            st.query_params["run"] = st.session_state[key]

    chosen = st.selectbox(_("Run"), ids, key=key, format_func=lambda i: run_label(rows[ids.index(i)]),
                          on_change=follow_in_address, persist_state=KEEP)
    return rows[ids.index(chosen)], store().config(chosen)


# Last, once everything above is defined: the first import in a server reruns the request (see
# `navigation`), which ends this import, and another session importing this module at that moment
# is handed it as it is then. Complete, it serves that session; half-defined, it did not.
navigation.use_app_navigation()
