"""Train: pick an architecture and options, start a run in the background, watch it live, compare runs."""

import time

import numpy as np
import streamlit as st

from cifar_core.config.architectures import ARCHITECTURES, sweep_values, sweepable
from cifar_core.config.hparams import TRAINING_HPARAMS, problems
from cifar_core.data.datasets import class_label, dataset_info, load_dataset
from cifar_core.data.download import imagenet_weights_available
from cifar_core.data.images import enlarge, tile_images
from cifar_core.errors import CoreError
from cifar_core.i18n import N_, _, current_language, ngettext, number
from cifar_core.runs import curves
from cifar_core.runs.owners import owner_of
from cifar_core.runs.store import ACTIVE
from cifar_core.server import access, inspection
from pages import figures
from pages.identity import caller, display_name
from pages.lr_finder_ui import lr_finder_ui
from pages.shared import (
    KEEP,
    arch_title,
    dataset_title,
    manager,
    plain,
    reason_text,
    run_started,
    scroll_to_top,
    short_run_label,
    show_error,
    status_label,
    store,
)
from pages.train_settings import choice_text, estimate_ui, fingerprint, settings_ui

PROGRESS_SECONDS = 1.5  # a watching tab's progress text and bar move this often
CHART_SECONDS = 6.0  # its learning curves between two epochs' ends
TABLE_SECONDS = 30.0  # the Runs table's queued and training rows (10 s cost a class's server more: docs/benchmarks.md)
BUILDING = N_("Building the model …")
# The layer table's columns as a person reads them (the rows keep the core's keys).
LAYER_COLUMNS = {"name": N_("name"), "type": N_("type"), "output_shape": N_("output_shape"),
                 "params": N_("params"), "trainable": N_("trainable")}

st.title(_("Train"))
st.caption(_("Choose a network and its settings, press Start, and watch it learn. Training goes on "
             "in the background: switch pages or close the tab, it carries on."))


def offline_weights_ui(arch_name, hparams):
    """VGG16 with ImageNet weights that are not here: offer random initialisation instead."""
    if hparams.get("weights") != "imagenet" or imagenet_weights_available():
        return

    def use_random_weights():
        st.session_state[f"train_{arch_name}_weights"] = "none"

    st.info(_("VGG16's ImageNet weights are not on this machine yet: Start downloads them once (58 MB), "
              "which needs a network. Offline, start from random initialisation instead; it learns "
              "from scratch, more slowly."), icon=":material/cloud_off:")
    st.button(_("Use random initialisation"), key="train_random_weights", on_click=use_random_weights)


@st.cache_data(show_spinner=False, max_entries=32)  # the caller's spinner speaks the tab's language
def get_layer_table(arch_name, shape, num_classes, hparams_items):
    hparams = dict(hparams_items)
    if "weights" in hparams:
        hparams["weights"] = "none"  # same layers and parameter count, no download for a summary
    return inspection.layer_table(arch_name, shape, num_classes, hparams)


@st.cache_data(show_spinner=False, max_entries=16)
def get_augment_preview(ds_name, augment):
    return inspection.augment_preview(ds_name, augment)


def summary_ui(ds_name, arch_name, hparams, augment):
    """Parameter count and layer table before anything trains; a preview of augmentation."""
    info = dataset_info(ds_name)
    shape = info.image_shape
    try:
        with st.spinner(_(BUILDING)):
            params, table = get_layer_table(arch_name, shape, info.num_classes, tuple(sorted(hparams.items())))
    except CoreError as exc:
        show_error(exc)
        return
    with st.expander(_("Model: {params} parameters for {shape} images — layer table").format(
            params=number(params), shape=f"{shape[0]}×{shape[1]}×{shape[2]}")):
        st.dataframe(table, hide_index=True, key="train_layer_table",
                     column_config={key: st.column_config.Column(_(title)) for key, title in LAYER_COLUMNS.items()})
    if not augment or not info.is_local():
        return
    try:
        ds = load_dataset(ds_name)
        preview = get_augment_preview(ds_name, tuple(augment))
    except CoreError as exc:
        show_error(exc)
        return
    with st.expander(_("Augmentation preview: each row is one training image, then five random versions"),
                     expanded=True):
        for i, (original, versions) in enumerate(zip(ds.x_train[:4], preview)):
            row = tile_images(np.concatenate([original[None], versions]), columns=6, pad=2)
            label = class_label(ds.class_names[ds.y_train[i]])
            st.image(enlarge(row, scale=max(1, 96 // shape[0])),
                     alt=_("Training image {index} ({label}) and five randomly augmented versions of it").format(
                         index=i, label=label))


def start_ui(ds_name, arch_name, hparams, training, wrong):
    """Start, refused with every out-of-range value named; the run is then watched by this tab."""
    for message in wrong:
        st.error(message, icon=":material/error:")
    if not st.button(_("Start training"), key="train_start", type="primary", icon=":material/play_arrow:",
                     disabled=bool(wrong), help=_("Correct the values named above first.") if wrong else None):
        return
    if not dataset_info(ds_name).is_local():
        st.error(_("{dataset} is not on this machine: download it on the Data page first.").format(
            dataset=dataset_title(ds_name)))
        return
    applied = st.session_state.get("train_preset_form")  # a preset, as applied and not changed since
    preset = applied[0] if applied and applied[1] == fingerprint(ds_name, arch_name, hparams, training) else None
    try:
        run_id = manager().submit(ds_name, arch_name, hparams, preset=preset, caller=caller(), **training)
    except CoreError as exc:
        show_error(exc)
        return
    st.session_state["train_run_id"] = run_id
    st.session_state["train_scroll_top"] = True
    st.session_state.pop("train_sweep", None)
    st.rerun()  # lay the page out for a run in progress: its status says it is queued


def sweep_ui(ds_name, arch_name, hparams, training, wrong):
    """One click queues several runs that differ in one setting; their curves share one chart."""
    specs = {spec.name: spec for spec in sweepable(arch_name) if spec.name not in ("seed",)}
    with st.expander(_("Sweep: several runs that differ in one setting"), icon=":material/stacked_line_chart:"):
        st.caption(_("Every run uses the settings above, except the one you vary. They train side by side "
                     "where there are free workers, and their curves are drawn together."))
        st.session_state.setdefault("train_sweep_name", "learning_rate")
        c1, c2 = st.columns([1, 2])
        if st.session_state["train_sweep_name"] not in specs:  # another architecture's setting
            st.session_state["train_sweep_name"] = "learning_rate"
        name = c1.selectbox(_("Setting to vary"), list(specs), key="train_sweep_name", persist_state=KEEP,
                            format_func=lambda n: specs[n].title)
        spec = specs[name]
        example = ("none;flip,shift" if spec.kind == "multi" else "1e-4,1e-3,1e-2" if spec.log else "off,on"
                   if spec.kind == "bool" else ",".join(map(choice_text, spec.choices)) if spec.kind == "choice"
                   else "")
        text = c2.text_input(_("Values"), key=f"train_sweep_values_{name}",
                             placeholder=example or _("e.g. 32,64,128"),
                             help=_("Comma-separated; for augmentation, sets separated by ';' with 'none' for "
                                    "no augmentation. {setting}: {range}.").format(
                                 setting=spec.title, range=spec.range_text()), persist_state=KEEP)
        if not st.button(_("Start sweep"), key="train_sweep_start", icon=":material/play_arrow:", disabled=bool(wrong)):
            return
        try:
            text = text or example
            values = sweep_values(spec, text.replace("-", "_") if spec.kind == "choice" else text)  # one-cycle
            run_ids = manager().sweep(ds_name, arch_name, name, values, hparams, caller=caller(), **training)
        except CoreError as exc:
            show_error(exc)
            return
        st.session_state["train_sweep"] = run_ids
        st.session_state["train_run_id"] = run_ids[0]
        st.session_state["train_scroll_top"] = True
        st.rerun()  # the sweep's heading names its runs


def new_run_ui():
    ds_name, arch_name, hparams, training = settings_ui()
    wrong = problems(ARCHITECTURES[arch_name].hparams, hparams) + problems(TRAINING_HPARAMS, training)
    estimate_ui(ds_name, arch_name, hparams, training, wrong)
    offline_weights_ui(arch_name, hparams)
    if not wrong:  # a model with out-of-range settings cannot be built: the messages say why
        summary_ui(ds_name, arch_name, hparams, training["augment"])
    start_ui(ds_name, arch_name, hparams, training, wrong)
    lr_finder_ui(ds_name, arch_name, hparams, training, wrong)
    sweep_ui(ds_name, arch_name, hparams, training, wrong)


def current_run_id():
    """The run this tab shows: the run training now, unless the tab chose another active one; with
    nothing training, the tab's choice, else the newest run. In a class, a student's own runs first."""
    chosen = st.session_state.get("train_run_id")
    active = manager().active()
    who = caller()
    if access.class_locked() and chosen and store().exists(chosen) and who.owns(store().config(chosen)):
        return chosen  # in a class, a student's own run stays in view when it ends
    if active:
        if chosen in active:
            return chosen
        mine = [r for r in active if store().exists(r) and who.owns(store().config(r))]
        return (mine or active)[0]  # in a class, a student's own run before the others'
    if chosen and store().exists(chosen):
        return chosen
    runs = store().list()
    return runs[0]["run_id"] if runs else None


@st.cache_resource(show_spinner=False, max_entries=16)  # shared, never changed after it is built
def get_live_figures(run_id, status, n_epochs, chart_tick, language):
    """Both live charts of a run in the CHART_SECONDS-long window `chart_tick`, built once for every
    tab watching it in `language` (the charts' words are in it): building the Plotly figures is most of
    a redraw's cost on the server."""
    snap = manager().progress(run_id)
    epochs, batches = snap["epoch_records"], snap["batches"]
    return (figures.learning_curve("loss", epochs, batches, height=300),
            figures.learning_curve("accuracy", epochs, batches, height=300))


def live_ui(run_id):
    snap = manager().progress(run_id)
    running = snap["status"] in ACTIVE
    head, stop = st.columns([5, 1])
    who, config = caller(), store().config(run_id)
    owner = owner_of(config).get("name")
    status = status_label(snap["status"])
    if owner and not who.owns(config):
        heading = _("**Run {run}** of {owner} — {status}").format(run=run_id, owner=plain(display_name(owner)), status=status)
    else:
        heading = _("**Run {run}** — {status}").format(run=run_id, status=status)
    head.markdown(heading + (f": {reason_text(snap['reason'])}" if snap["reason"] else ""))
    changeable = who.teacher or who.owns(config)  # the core refuses the others anyway
    if running and changeable and stop.button(_("Stop"), key="train_stop", icon=":material/stop_circle:",
                                              type="primary"):
        try:
            manager().stop(run_id, caller=who)
            # In the page, not a toast: Streamlit's toasts have no accessible name (axe: aria-dialog-name).
            head.caption(_("Stopping at the next batch …"))
        except CoreError as exc:
            show_error(exc)
    if running:
        if snap["steps_per_epoch"]:
            where = dict(epoch=min(snap["epoch"] + 1, snap["epochs"]), epochs=snap["epochs"], batch=snap["batch"],
                         steps=snap["steps_per_epoch"])
            if snap["seconds_left"]:
                text = _("Epoch {epoch} of {epochs}, batch {batch}/{steps}, about {seconds} s left").format(
                    seconds=f"{snap['seconds_left']:.0f}", **where)
            else:
                text = _("Epoch {epoch} of {epochs}, batch {batch}/{steps}").format(**where)
        elif snap["queue_position"]:
            text = _("Queued: {position} in line for a free worker").format(position=snap["queue_position"])
        else:
            text = _("Starting on a worker …")
        st.progress(snap["fraction"], text=text)
    elif snap["status"] == "failed":
        st.error(reason_text(snap["reason"]) or _("The run failed."), icon=":material/error:")
    if snap.get("worker"):
        st.caption(_("Trained by worker {worker}.").format(worker=snap["worker"]))
    onset = curves.overfitting_onset(snap["epoch_records"])
    if onset:
        st.warning(_("Overfitting: since epoch {epoch}, validation loss has risen for two epochs while "
                     "training loss kept falling. More epochs will not help; try dropout, augmentation or "
                     "early stopping.").format(epoch=onset - 2), icon=":material/trending_up:")
    sweep = sweep_of(run_id)
    running = running or any(manager().progress(r)["status"] in ACTIVE for r in sweep)
    if st.session_state.get("train_was_running") and not running:
        st.session_state["train_was_running"] = False
        st.rerun()  # the run ended: lay the whole page out again (settings open, runs table)
    st.session_state["train_was_running"] = running


def live_charts_ui(run_id):
    """The run's learning curves (and its sweep's): a fragment of their own while it trains, redrawn
    every CHART_SECONDS rather than with each move of the progress bar."""
    snap = manager().progress(run_id)
    loss_fig, accuracy_fig = get_live_figures(run_id, snap["status"], len(snap["epoch_records"]),
                                              int(time.monotonic() // CHART_SECONDS), current_language())
    c1, c2 = st.columns(2)
    c1.plotly_chart(loss_fig, key="train_loss_chart")
    c2.plotly_chart(accuracy_fig, key="train_accuracy_chart")
    st.caption(_("Learning curves: loss says how wrong the network is (lower is better), accuracy the share of "
                 "images it gets right; the thin line follows every batch, the thick ones each epoch. Validation "
                 "images are held out from training: when validation accuracy stops rising while training "
                 "accuracy climbs, the network is memorising its training images (overfitting)."))
    if sweep := sweep_of(run_id):
        sweep_charts_ui(sweep)


def sweep_of(run_id):
    """The runs of this tab's sweep, if `run_id` is one of them."""
    sweep = [r for r in st.session_state.get("train_sweep", []) if store().exists(r)]
    return sweep if run_id in sweep else []


def sweep_charts_ui(run_ids):
    """The sweep's runs on one chart each for per-batch loss and validation accuracy."""
    config = store().config(run_ids[0])
    name = next((n for n in [*config["hparams"], *config["training"]]
                 if len({repr(_setting(store().config(r), n)) for r in run_ids}) > 1), None)
    titles = {spec.name: spec.title for spec in sweepable(config["arch"])}
    title = titles.get(name, choice_text(name)) if name else _("one setting")
    snaps = {r: manager().progress(r) for r in run_ids}
    labels = {r: f"{title} {_setting(store().config(r), name)}" if name else r for r in run_ids}
    st.subheader(ngettext("Sweep of {setting}: {n} run", "Sweep of {setting}: {n} runs", len(run_ids)).format(
        setting=title.lower(), n=len(run_ids)))

    def state(r, snap):
        status = status_label(snap["status"])
        if snap["queue_position"]:
            return _("{label}: {status} ({position} in line)").format(label=labels[r], status=status,
                                                                       position=snap["queue_position"])
        return f"{labels[r]}: {status}"

    st.caption(" · ".join(state(r, s) for r, s in snaps.items()))
    s1, s2 = st.columns(2)
    s1.plotly_chart(figures.sweep_batches("loss", {labels[r]: s["batches"] for r, s in snaps.items()}),
                    key="train_sweep_loss")
    s2.plotly_chart(figures.compare_runs("val_accuracy", {labels[r]: s["epoch_records"] for r, s in snaps.items()}),
                    key="train_sweep_val_acc")


def _setting(config, name):
    value = config["hparams"].get(name, config["training"].get(name))
    return ",".join(value) or _("none") if isinstance(value, list) else value


def runs_rows_ui(rows, key, live=False):
    """The Runs table of `rows` as widget `key`; returns the indices of the selected rows. `live`: it
    is a fragment that reads the queued and training runs again every TABLE_SECONDS, on the rows of
    the page's last full run (a run started meanwhile joins at the next one)."""
    rows = [fresh_row(r) for r in rows] if live else rows
    table = [{"Run": run_started(r["run_id"]), "Owner": display_name(r["owner"]) if r["owner"] else "", "Status": status_label(r["status"]),
              "Architecture": arch_title(r["arch"]),
              "Epochs": r["epochs"], "Batch size": r["batch_size"], "Optimizer": r["optimizer"],
              "Learning rate": r["learning_rate"], "Training images": r["train_size"],
              "Best validation accuracy": r["best_val_accuracy"], "Seconds": r["seconds"]}
             for r in rows]
    # The rows keep English keys; the column titles a person reads are the columns' labels.
    column = st.column_config
    columns = {
        "Run": column.Column(_("Run"), help=_("Started (month-day time) and the end of the run's id")),
        "Owner": column.TextColumn(_("Owner"), help=_("Who started it")),
        "Status": column.Column(_("Status"), width="small"),
        "Architecture": column.Column(_("Architecture")),
        "Epochs": column.Column(_("Epochs"), width="small", help=_("Epochs done / epochs set")),
        "Batch size": column.Column(_("Batch size"), width="small"),
        "Optimizer": column.Column(_("Optimizer"), width="small"),
        "Learning rate": column.NumberColumn(_("Learning rate"), width="small", format="%g"),
        "Training images": column.Column(_("Training images"), width="small"),
        "Best validation accuracy": column.NumberColumn(_("Best validation accuracy"), format="percent"),
        "Seconds": column.Column(_("Seconds"), width="small"),
    }
    event = st.dataframe(table, hide_index=True, key=key, on_select="rerun",
                         selection_mode="multi-row", width="stretch", column_config=columns)
    selected = list(event.selection.rows)
    if live and selected != st.session_state.get("train_runs_selected", selected):
        st.session_state["train_runs_selected"] = selected
        st.rerun()  # a selection made between two of the table's reruns: the whole page shows it
    return selected


def fresh_row(row):
    """A queued or training run's row read again; any other row as it was."""
    if row["status"] not in ACTIVE:
        return row
    try:
        return store().summary(row["run_id"])
    except CoreError:
        return row  # deleted meanwhile: the next full run drops it


def runs_table_key(run_ids):
    """The Runs table's widget key for rows `run_ids`. A table keeps its selection by position: when
    a run started, deleted or filtered out meanwhile has moved other runs under the tab's selection,
    the table gets a new key, so that the selection is dropped, never moved onto runs nobody chose."""
    generation = st.session_state.get("train_runs_generation", 0)
    key = f"train_runs_table_{generation}" if generation else "train_runs_table"
    drawn = st.session_state.get("train_runs_drawn", run_ids)
    picked = list(st.session_state[key]["selection"]["rows"]) if key in st.session_state else []
    if any(i >= len(run_ids) or i >= len(drawn) or run_ids[i] != drawn[i] for i in picked):
        generation, picked = generation + 1, []
        key = f"train_runs_table_{generation}"
    # What the live table compares a selection with (see runs_rows_ui).
    st.session_state.update(train_runs_generation=generation, train_runs_drawn=run_ids, train_runs_selected=picked)
    return key


def runs_table_ui():
    rows = store().list()
    if not rows:
        return
    st.header(_("Runs"))
    for message in st.session_state.pop("train_delete_refused", []):  # from the click before the rerun
        st.error(message, icon=":material/error:")
    who = caller()
    if st.toggle(_("My runs only"), key="train_my_runs", persist_state=KEEP):
        rows = [r for r in rows if r["owner_id"] == who.owner_id]
        if not rows:
            st.caption(_("You have no runs yet."))
            return
    key = runs_table_key([r["run_id"] for r in rows])
    if any(r["status"] in ACTIVE for r in rows):
        selected = st.fragment(runs_rows_ui, run_every=TABLE_SECONDS)(rows, key, live=True)
    else:
        selected = runs_rows_ui(rows, key)
    chosen = [rows[i] for i in selected if i < len(rows)]
    if not chosen:
        st.caption(_("Select rows to compare their curves, watch one above, or delete runs."))
        return
    with st.container(horizontal=True):
        if len(chosen) == 1 and st.button(_("Watch this run"), key="train_watch", icon=":material/visibility:"):
            st.session_state["train_run_id"] = chosen[0]["run_id"]
            st.rerun()
        deletable = who.teacher or all(r["owner_id"] == who.owner_id for r in chosen)
        delete = ngettext("Delete run", "Delete {n} runs", len(chosen)).format(n=len(chosen))
        if deletable and st.button(delete, key="train_delete", icon=":material/delete:"):
            refused = []
            for r in chosen:
                try:
                    manager().delete(r["run_id"], caller=who)
                except CoreError as exc:
                    refused.append(str(exc))
            st.session_state["train_delete_refused"] = refused
            st.session_state.pop("train_run_id", None)
            st.rerun()
    if not deletable:
        st.caption(_("Only their owners or the teacher can delete runs of others."))
    histories = {short_run_label(r): store().history(r["run_id"])["epochs"] for r in chosen}
    m1, m2 = st.columns(2)
    m1.plotly_chart(figures.compare_runs("val_accuracy", histories), key="train_compare_acc")
    m2.plotly_chart(figures.compare_runs("val_loss", histories), key="train_compare_loss")


run_id = current_run_id()
if run_id is not None and manager().progress(run_id)["status"] in ACTIVE:
    # A run in progress: its progress and both curves come first, in view on a projector.
    st.session_state["train_was_running"] = True
    if st.session_state.pop("train_scroll_top", False):
        scroll_to_top()  # Start was pressed below the settings, which are now folded away
    st.fragment(live_ui, run_every=PROGRESS_SECONDS)(run_id)
    st.fragment(live_charts_ui, run_every=CHART_SECONDS)(run_id)
    with st.expander(_("Settings for another run"), icon=":material/tune:"):
        new_run_ui()
else:
    st.session_state["train_was_running"] = False
    new_run_ui()
    if run_id is None:
        st.info(_("No run yet: choose settings above and press Start training."), icon=":material/info:")
    else:
        st.header(_("Learning curves"))
        live_ui(run_id)
        live_charts_ui(run_id)
runs_table_ui()
