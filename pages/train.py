"""Train: pick an architecture and options, start a run in the background, watch it live, compare runs."""

from contextlib import nullcontext

import numpy as np
import streamlit as st

from cifar_core import client, curves, estimate
from cifar_core.catalog import ARCHITECTURES, sweep_values, sweepable
from cifar_core.datasets import DATASETS, load_dataset
from cifar_core.errors import CoreError
from cifar_core.hparams import TRAINING_HPARAMS, problems
from cifar_core.images import enlarge, tile_images
from cifar_core.pretrained import imagenet_weights_available
from cifar_core.presets import PRESETS, preset_settings
from cifar_core.run_config import make_config
from cifar_core.runs import ACTIVE
from pages import figures
from pages.shared import (KEEP, arch_title, class_mode, manager, run_started, scroll_to_top, short_run_label,
                          show_error, store)

# The slider's stops: the useful range. Other values (a preset's, the command line's) stay possible.
LEARNING_RATES = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 0.3]
TRAINING = {spec.name: spec for spec in TRAINING_HPARAMS}
# Class mode: the settings a first lesson needs, with plain labels and units; the rest keep their
# values and are hidden.
CLASS_SETTINGS = {
    "epochs": "Epochs (passes over the data)",
    "batch_size": "Batch size (images per step)",
    "learning_rate": "Learning rate (size of each step)",
    "train_size": "Training images (empty: all)",
    "augment": "Augmentation (random changes to training images)",
}
DEFAULT_BUDGET_MINUTES = 4.0
FIT_REQUEST = "train_fit_request"  # a fit to a time budget, done before the form's widgets are drawn
MEASURING = "Measuring a few batches on this machine (once for these settings) …"

st.title("Train")
st.caption("Choose a network and its settings, press Start, and watch it learn. Training goes on "
           "in the background: switch pages or close the tab, it carries on.")


def default_value(spec):
    return list(spec.default) if spec.kind == "multi" else spec.default


def choice_text(value):
    """A choice as words: 'one-cycle', never `one_cycle`."""
    return str(value).replace("_", "-")


def form_values():
    """(dataset, arch, hparams, training) as this tab's session holds them, drawn or not."""
    ds_name = st.session_state.get("train_dataset") or next(iter(DATASETS))
    arch_name = st.session_state.get("train_arch") or next(iter(ARCHITECTURES))
    hparams = {spec.name: st.session_state.get(f"train_{arch_name}_{spec.name}", default_value(spec))
               for spec in ARCHITECTURES[arch_name].hparams}
    training = {spec.name: st.session_state.get(f"train_{spec.name}", default_value(spec))
                for spec in TRAINING_HPARAMS}
    return ds_name, arch_name, hparams, training


def timing_hparams(hparams):
    """Hyperparameters to time a run with: VGG16's speed does not depend on its initial weights, so
    without the ImageNet weights on this machine it is timed from random ones (no 58 MB download)."""
    if hparams.get("weights") == "imagenet" and not imagenet_weights_available():
        return {**hparams, "weights": "none"}
    return hparams


def fingerprint(ds_name, arch_name, hparams, training):
    return repr((ds_name, arch_name, sorted(hparams.items()),
                 sorted((k, list(v) if isinstance(v, (list, tuple)) else v) for k, v in training.items())))


def apply_preset():
    """Callback of the preset box: the preset's dataset, network, its hyperparameters and every training
    option (those the preset does not name go back to their defaults); a preset with a time budget is
    then fitted to it, before the form is drawn."""
    chosen = st.session_state["train_preset"]
    if chosen is None:  # the choice was cleared: the settings stay as they are
        return
    ds_name, arch_name, hparams, training = preset_settings(chosen)
    st.session_state["train_dataset"], st.session_state["train_arch"] = ds_name, arch_name
    for spec in ARCHITECTURES[arch_name].hparams:
        st.session_state[f"train_{arch_name}_{spec.name}"] = hparams.get(spec.name, default_value(spec))
    for spec in TRAINING_HPARAMS:
        value = training.get(spec.name, default_value(spec))
        st.session_state[f"train_{spec.name}"] = list(value) if spec.kind == "multi" else value
    budget = PRESETS[chosen]["budget_seconds"]
    if budget:
        st.session_state[FIT_REQUEST] = budget
    st.session_state["train_preset_applied"] = chosen  # remembered as drawn, once the form shows it
    st.session_state.pop("train_preset_form", None)


def request_budget_fit():
    """Callback of "Fit to time budget": the fit itself runs before the form is drawn."""
    minutes = st.session_state.get("train_budget_minutes")
    if minutes is None or minutes <= 0:
        st.session_state["train_fit_note"] = ("error", f"Fit in (minutes) must be more than 0, got {minutes}.")
    else:
        st.session_state[FIT_REQUEST] = minutes * 60


def fit_request_ui():
    """A pending fit to a time budget: epochs and training images chosen for this machine, written
    to the form's state before its widgets are drawn."""
    budget = st.session_state.pop(FIT_REQUEST, None)
    if not budget:
        return
    ds_name, arch_name, hparams, training = form_values()
    training = {**training, "train_size": None}  # every image, if they fit
    try:
        hparams = timing_hparams(hparams)
        config = make_config(ds_name, arch_name, hparams, **training)
        if estimate.stored_speed(config) is None and manager().active():
            st.session_state["train_fit_note"] = (
                "info", "Fitting to a time budget measures this machine's speed, which a run training now "
                        "would slow down: try again when it has finished.")
            return
        with st.spinner(MEASURING) if estimate.stored_speed(config) is None else nullcontext():
            fitted, found = estimate.fit_to_budget(ds_name, arch_name, hparams, training, budget)
    except CoreError as exc:
        st.session_state["train_fit_note"] = ("error", f"Could not fit the settings to {duration(budget)}: {exc}")
        return
    st.session_state["train_epochs"] = fitted["epochs"]
    st.session_state["train_train_size"] = fitted["train_size"]
    images = "all training images" if fitted["train_size"] is None else f"{fitted['train_size']:,} training images"
    st.session_state["train_fit_note"] = (
        "ok", f"Fitted to {duration(budget)}: {fitted['epochs']} epochs on {images}, "
              f"{estimate.describe(found['seconds'])} here.")


def learning_rate_ui(spec, key, label, help_text):
    """The learning-rate slider over the useful range; a value from elsewhere (a preset, the command
    line) gets a stop of its own instead of an error, and one the core refuses goes back to the default."""
    value = st.session_state.get(key, spec.default)
    try:
        value = spec.check(value)
    except CoreError:
        value = spec.default
    if st.session_state.get(key) != value:
        st.session_state[key] = value
    options = sorted({*LEARNING_RATES, value})
    return st.select_slider(label, options, key=key, help=help_text, persist_state=KEEP,
                            format_func=lambda v: f"{v:g}")


def hparam_ui(spec, key, label=None):
    """One widget drawn from a hyperparameter spec; its label, help text and range come from the registry.

    Number boxes have no min or max of their own: a browser silently keeps the last valid value
    of a box whose bounds are broken, so the core checks the range and the page says what is wrong.
    """
    label = label or spec.title
    help_text = f"{spec.help} Allowed: {spec.range_text()}."
    if spec.kind == "bool":
        return st.toggle(label, key=key, help=help_text, persist_state=KEEP)
    if spec.kind == "choice":
        return st.selectbox(label, spec.choices, key=key, help=help_text, format_func=choice_text,
                            persist_state=KEEP)
    if spec.kind == "multi":
        return st.multiselect(label, spec.choices, key=key, help=help_text, format_func=choice_text,
                              persist_state=KEEP)
    if spec.log:
        return learning_rate_ui(spec, key, label, help_text)
    if spec.kind == "float":
        fine = spec.high <= 0.1  # weight decay: steps of 0.0005
        return st.number_input(label, step=0.0005 if fine else 0.05, format="%.4f" if fine else "%.2f", key=key,
                               help=help_text, persist_state=KEEP)
    if spec.kind == "optional_int":  # empty means "all": an emptied box must give None, not 0
        return st.number_input(label, value=None, step=100, key=key, help=help_text, placeholder="all",
                               persist_state=KEEP)
    return st.number_input(label, step=1, key=key, help=help_text, persist_state=KEEP)


def settings_ui():
    """The dataset, architecture and options; returns (dataset, arch, hparams, training). In class
    mode only the main ones are drawn, with plain labels; the others keep their values."""
    simple = class_mode()
    # Defaults are written once, in the run that first draws the widgets; later the widgets keep
    # their own values for the whole session.
    for spec in TRAINING_HPARAMS:
        st.session_state.setdefault(f"train_{spec.name}", default_value(spec))
    fit_request_ui()
    st.selectbox("Preset (one click reproduces a notebook)", list(PRESETS), key="train_preset",
                 index=None, placeholder="Choose a notebook setup …", on_change=apply_preset,
                 format_func=lambda p: PRESETS[p]["title"], persist_state=KEEP,
                 help="Class versions keep a notebook's network and train with settings that learn, fitted "
                      "to a few minutes on this machine; full versions replay the notebook's own settings.")
    c1, c2 = st.columns(2)
    ds_name = c1.selectbox("Dataset", list(DATASETS), key="train_dataset", persist_state=KEEP,
                           format_func=lambda n: DATASETS[n].title + ("" if DATASETS[n].is_local() else " (download on the Data page)"))
    arch_name = c2.selectbox("Architecture", list(ARCHITECTURES), key="train_arch", persist_state=KEEP,
                             format_func=arch_title)
    arch = ARCHITECTURES[arch_name]
    st.write(arch.description)
    hparams = {}
    for spec in arch.hparams:
        st.session_state.setdefault(f"train_{arch_name}_{spec.name}", default_value(spec))
    if simple:
        hparams = {spec.name: st.session_state[f"train_{arch_name}_{spec.name}"] for spec in arch.hparams}
    else:
        for col, spec in zip(st.columns(len(arch.hparams)), arch.hparams):
            with col:
                hparams[spec.name] = hparam_ui(spec, f"train_{arch_name}_{spec.name}")
    st.markdown("**Training options**")
    st.caption("An epoch is one pass over the training images. Each step learns from one batch of images "
               "and moves every weight a little, by an amount the learning rate sets.")
    if simple:
        training = {name: st.session_state[f"train_{name}"] for name in TRAINING}
        for col, (name, label) in zip(st.columns(len(CLASS_SETTINGS)), CLASS_SETTINGS.items()):
            with col:
                training[name] = hparam_ui(TRAINING[name], f"train_{name}", label)
        st.caption("Class mode: only the main settings are shown, and the others keep their values. "
                   "Switch it off on the Home page to see them all.")
    else:
        training = {}
        names = list(TRAINING)
        for row in range(0, len(names), 5):
            for col, name in zip(st.columns(5), names[row: row + 5]):
                with col:
                    training[name] = hparam_ui(TRAINING[name], f"train_{name}")
    if st.session_state.pop("train_preset_applied", None):  # as the preset left the form
        st.session_state["train_preset_form"] = (st.session_state["train_preset"],
                                                 fingerprint(ds_name, arch_name, hparams, training))
    return ds_name, arch_name, hparams, training


def duration(seconds):
    """'0.4 s', '12 s', '3 min': a time without 'about'."""
    return f"{seconds:.1f} s" if seconds < 10 else estimate.describe(seconds).removeprefix("about ")


def estimate_ui(ds_name, arch_name, hparams, training, wrong):
    """How long these settings train on this machine, and a control that fits them to a time budget."""
    if not wrong and DATASETS[ds_name].is_local():
        try:
            config = make_config(ds_name, arch_name, timing_hparams(hparams), **training)
            unmeasured = estimate.stored_speed(config) is None
            if unmeasured and manager().active():
                st.caption("Estimated time: measured once no run is training (a run training now would "
                           "slow the measurement down).")
            else:
                with st.spinner(MEASURING) if unmeasured else nullcontext():
                    found = estimate.estimate(config)
                sooner = "; early stopping may end it sooner" if training.get("patience") else ""
                st.markdown(f":material/timer: Estimated time on this machine: **{estimate.describe(found['seconds'])}** "
                            f"({duration(found['per_epoch'])} per epoch{sooner}).")
        except CoreError as exc:
            show_error(exc)
    st.session_state.setdefault("train_budget_minutes", DEFAULT_BUDGET_MINUTES)
    b1, b2, _ = st.columns([1, 1, 2], vertical_alignment="bottom")
    b1.number_input("Fit in (minutes)", step=0.5, format="%.1f", key="train_budget_minutes", persist_state=KEEP,
                    help="A time budget for the training on this machine.")
    b2.button("Fit to time budget", key="train_fit_budget", icon=":material/timer:", on_click=request_budget_fit,
              help="Chooses the epochs (at most those set above) and the number of training images so that "
                   "the run fits the budget, from a measurement of this machine's speed.")
    note = st.session_state.pop("train_fit_note", None)
    if note:
        kind, text = note
        if kind == "ok":
            st.success(text, icon=":material/check_circle:")
        elif kind == "info":
            st.info(text, icon=":material/hourglass_top:")
        else:
            show_error(text)


def offline_weights_ui(arch_name, hparams):
    """VGG16 with ImageNet weights that are not here: offer random initialisation instead."""
    if hparams.get("weights") != "imagenet" or imagenet_weights_available():
        return

    def use_random_weights():
        st.session_state[f"train_{arch_name}_weights"] = "none"

    st.info("VGG16's ImageNet weights are not on this machine yet: Start downloads them once (58 MB), "
            "which needs a network. Offline, start from random initialisation instead; it learns "
            "from scratch, more slowly.", icon=":material/cloud_off:")
    st.button("Use random initialisation", key="train_random_weights", on_click=use_random_weights)


@st.cache_data(show_spinner="Building the model …", max_entries=32)
def get_layer_table(arch_name, shape, num_classes, hparams_items):
    hparams = dict(hparams_items)
    if "weights" in hparams:
        hparams["weights"] = "none"  # same layers and parameter count, no download for a summary
    return client.layer_table(arch_name, shape, num_classes, hparams)


@st.cache_data(show_spinner=False, max_entries=16)
def get_augment_preview(ds_name, augment):
    return client.augment_preview(ds_name, augment)


def summary_ui(ds_name, arch_name, hparams, augment):
    """Parameter count and layer table before anything trains; a preview of augmentation."""
    info = DATASETS[ds_name]
    shape = info.image_shape
    try:
        params, table = get_layer_table(arch_name, shape, info.num_classes, tuple(sorted(hparams.items())))
    except CoreError as exc:
        show_error(exc)
        return
    with st.expander(f"Model: {params:,} parameters for {shape[0]}×{shape[1]}×{shape[2]} images — layer table"):
        st.dataframe(table, hide_index=True, key="train_layer_table")
    if not augment or not info.is_local():
        return
    try:
        ds = load_dataset(ds_name)
        preview = get_augment_preview(ds_name, tuple(augment))
    except CoreError as exc:
        show_error(exc)
        return
    with st.expander("Augmentation preview: each row is one training image, then five random versions",
                     expanded=True):
        for i, (original, versions) in enumerate(zip(ds.x_train[:4], preview)):
            row = tile_images(np.concatenate([original[None], versions]), columns=6, pad=2)
            label = ds.class_names[ds.y_train[i]]
            st.image(enlarge(row, scale=max(1, 96 // shape[0])),
                     alt=f"Training image {i} ({label}) and five randomly augmented versions of it")


def start_ui(ds_name, arch_name, hparams, training, wrong):
    """Start, refused with every out-of-range value named; the run is then watched by this tab."""
    for message in wrong:
        st.error(message, icon=":material/error:")
    if not st.button("Start training", key="train_start", type="primary", icon=":material/play_arrow:",
                     disabled=bool(wrong), help="Correct the values named above first." if wrong else None):
        return
    if not DATASETS[ds_name].is_local():
        st.error(f"{DATASETS[ds_name].title} is not on this machine: download it on the Data page first.")
        return
    applied = st.session_state.get("train_preset_form")  # a preset, as applied and not changed since
    preset = applied[0] if applied and applied[1] == fingerprint(ds_name, arch_name, hparams, training) else None
    try:
        run_id = manager().submit(ds_name, arch_name, hparams, preset=preset, **training)
    except CoreError as exc:
        show_error(exc)
        return
    st.session_state["train_run_id"] = run_id
    st.session_state["train_scroll_top"] = True
    st.session_state.pop("train_sweep", None)
    st.toast(f"Run {run_id} queued: it starts as soon as a worker is free.")
    st.rerun()  # lay the page out for a run in progress


def sweep_ui(ds_name, arch_name, hparams, training, wrong):
    """One click queues several runs that differ in one setting; their curves share one chart."""
    specs = {spec.name: spec for spec in sweepable(arch_name) if spec.name not in ("seed",)}
    with st.expander("Sweep: several runs that differ in one setting", icon=":material/stacked_line_chart:"):
        st.caption("Every run uses the settings above, except the one you vary. They train side by side "
                   "where there are free workers, and their curves are drawn together.")
        st.session_state.setdefault("train_sweep_name", "learning_rate")
        c1, c2 = st.columns([1, 2])
        if st.session_state["train_sweep_name"] not in specs:  # another architecture's setting
            st.session_state["train_sweep_name"] = "learning_rate"
        name = c1.selectbox("Setting to vary", list(specs), key="train_sweep_name", persist_state=KEEP,
                            format_func=lambda n: specs[n].title)
        spec = specs[name]
        example = ("none;flip,shift" if spec.kind == "multi" else "1e-4,1e-3,1e-2" if spec.log else "off,on"
                   if spec.kind == "bool" else ",".join(map(choice_text, spec.choices)) if spec.kind == "choice" else "")
        text = c2.text_input("Values", key=f"train_sweep_values_{name}", placeholder=example or "e.g. 32,64,128",
                             help="Comma-separated; for augmentation, sets separated by ';' with 'none' for "
                                  f"no augmentation. {spec.title}: {spec.range_text()}.", persist_state=KEEP)
        if not st.button("Start sweep", key="train_sweep_start", icon=":material/play_arrow:", disabled=bool(wrong)):
            return
        try:
            text = text or example
            values = sweep_values(spec, text.replace("-", "_") if spec.kind == "choice" else text)  # one-cycle
            run_ids = manager().sweep(ds_name, arch_name, name, values, hparams, **training)
        except CoreError as exc:
            show_error(exc)
            return
        st.session_state["train_sweep"] = run_ids
        st.session_state["train_run_id"] = run_ids[0]
        st.session_state["train_scroll_top"] = True
        st.toast(f"{len(run_ids)} runs queued, one per value of {spec.title.lower()}.")
        st.rerun()


def new_run_ui():
    ds_name, arch_name, hparams, training = settings_ui()
    wrong = problems(ARCHITECTURES[arch_name].hparams, hparams) + problems(TRAINING_HPARAMS, training)
    estimate_ui(ds_name, arch_name, hparams, training, wrong)
    offline_weights_ui(arch_name, hparams)
    if not wrong:  # a model with out-of-range settings cannot be built: the messages say why
        summary_ui(ds_name, arch_name, hparams, training["augment"])
    start_ui(ds_name, arch_name, hparams, training, wrong)
    sweep_ui(ds_name, arch_name, hparams, training, wrong)


def current_run_id():
    """The run this tab shows: the run training now, unless the tab chose another active one; with
    nothing training, the tab's choice, else the newest run."""
    chosen = st.session_state.get("train_run_id")
    active = manager().active()
    if active:
        return chosen if chosen in active else active[0]
    if chosen and store().exists(chosen):
        return chosen
    runs = store().list()
    return runs[0]["run_id"] if runs else None


@st.cache_resource(show_spinner=False, max_entries=16)  # shared, never changed after it is built
def get_live_figures(run_id, status, epoch, batch, n_epochs, n_batches):
    """Both live charts of one moment of a run, built once for every tab watching it (the
    arguments name the moment; building Plotly figures is most of a redraw's cost here)."""
    snap = manager().progress(run_id)
    epochs, batches = snap["epoch_records"], snap["batches"]
    return (figures.learning_curve("loss", epochs, batches, height=300),
            figures.learning_curve("accuracy", epochs, batches, height=300))


def live_ui(run_id):
    snap = manager().progress(run_id)
    running = snap["status"] in ACTIVE
    head, stop = st.columns([5, 1])
    head.markdown(f"**Run {run_id}** — {snap['status']}" + (f": {snap['reason']}" if snap["reason"] else ""))
    if running and stop.button("Stop", key="train_stop", icon=":material/stop_circle:", type="primary"):
        try:
            manager().stop(run_id)
            st.toast("Stopping at the next batch …")
        except CoreError as exc:
            show_error(exc)
    if running:
        left = f", about {snap['seconds_left']:.0f} s left" if snap["seconds_left"] else ""
        if snap["steps_per_epoch"]:
            text = (f"Epoch {min(snap['epoch'] + 1, snap['epochs'])} of {snap['epochs']}, batch {snap['batch']}"
                    f"/{snap['steps_per_epoch']}{left}")
        elif snap["queue_position"]:
            text = f"Queued: {snap['queue_position']} in line for a free worker"
        else:
            text = "Starting on a worker …"
        st.progress(snap["fraction"], text=text)
    elif snap["status"] == "failed":
        st.error(snap["reason"] or "The run failed.", icon=":material/error:")
    if snap.get("worker"):
        st.caption(f"Trained by worker {snap['worker']}.")
    epochs, batches = snap["epoch_records"], snap["batches"]
    onset = curves.overfitting_onset(epochs)
    if onset:
        st.warning(f"Overfitting: since epoch {onset - 2}, validation loss has risen for two epochs while "
                   "training loss kept falling. More epochs will not help; try dropout, augmentation or "
                   "early stopping.", icon=":material/trending_up:")
    loss_fig, accuracy_fig = get_live_figures(run_id, snap["status"], snap["epoch"], snap["batch"],
                                              len(epochs), len(batches))
    c1, c2 = st.columns(2)
    c1.plotly_chart(loss_fig, key="train_loss_chart")
    c2.plotly_chart(accuracy_fig, key="train_accuracy_chart")
    st.caption("Learning curves: loss says how wrong the network is (lower is better), accuracy the share of "
               "images it gets right; the thin line follows every batch, the thick ones each epoch. Validation "
               "images are held out from training: when validation accuracy stops rising while training "
               "accuracy climbs, the network is memorising its training images (overfitting).")
    sweep = [r for r in st.session_state.get("train_sweep", []) if store().exists(r)]
    if run_id in sweep:
        running = sweep_charts_ui(sweep) or running
    if st.session_state.get("train_was_running") and not running:
        st.session_state["train_was_running"] = False
        st.rerun()  # the run ended: lay the whole page out again (settings open, runs table)
    st.session_state["train_was_running"] = running


def sweep_charts_ui(run_ids):
    """The sweep's runs on one chart each for per-batch loss and validation accuracy; returns whether
    any of them is still queued or training."""
    config = store().config(run_ids[0])
    name = next((n for n in [*config["hparams"], *config["training"]]
                 if len({repr(_setting(store().config(r), n)) for r in run_ids}) > 1), None)
    titles = {spec.name: spec.title for spec in sweepable(config["arch"])}
    title = titles.get(name, choice_text(name or "one setting"))
    snaps = {r: manager().progress(r) for r in run_ids}
    labels = {r: f"{title} {_setting(store().config(r), name)}" if name else r for r in run_ids}
    st.subheader(f"Sweep of {title.lower()}: {len(run_ids)} runs")
    st.caption(" · ".join(f"{labels[r]}: {s['status']}" + (f" ({s['queue_position']} in line)" if s["queue_position"] else "")
                          for r, s in snaps.items()))
    s1, s2 = st.columns(2)
    s1.plotly_chart(figures.sweep_batches("loss", {labels[r]: s["batches"] for r, s in snaps.items()}),
                    key="train_sweep_loss")
    s2.plotly_chart(figures.compare_runs("val_accuracy", {labels[r]: s["epoch_records"] for r, s in snaps.items()}),
                    key="train_sweep_val_acc")
    return any(s["status"] in ACTIVE for s in snaps.values())


def _setting(config, name):
    value = config["hparams"].get(name, config["training"].get(name))
    return ",".join(value) or "none" if isinstance(value, list) else value


def runs_table_ui():
    rows = store().list()
    if not rows:
        return
    st.header("Runs")
    table = [{"Run": run_started(r["run_id"]), "Status": r["status"], "Architecture": arch_title(r["arch"]),
              "Epochs": r["epochs"], "Batch size": r["batch_size"], "Optimizer": r["optimizer"],
              "Learning rate": r["learning_rate"], "Training images": r["train_size"],
              "Best validation accuracy": r["best_val_accuracy"], "Seconds": r["seconds"]}
             for r in rows]
    small = st.column_config.Column(width="small")
    event = st.dataframe(table, hide_index=True, key="train_runs_table", on_select="rerun",
                         selection_mode="multi-row", width="stretch",
                         column_config={"Run": st.column_config.Column(help="Started (month-day time) and "
                                                                            "the end of the run's id"),
                                        "Status": small, "Epochs": st.column_config.Column(
                                            width="small", help="Epochs done / epochs set"),
                                        "Batch size": small, "Optimizer": small,
                                        "Learning rate": st.column_config.NumberColumn(width="small", format="%g"),
                                        "Training images": small, "Seconds": small,
                                        "Best validation accuracy": st.column_config.NumberColumn(format="percent")})
    chosen = [rows[i] for i in event.selection.rows]
    if not chosen:
        st.caption("Select rows to compare their curves, watch one above, or delete runs.")
        return
    with st.container(horizontal=True):
        if len(chosen) == 1 and st.button("Watch this run", key="train_watch", icon=":material/visibility:"):
            st.session_state["train_run_id"] = chosen[0]["run_id"]
            st.rerun()
        noun = "run" if len(chosen) == 1 else f"{len(chosen)} runs"
        if st.button(f"Delete {noun}", key="train_delete", icon=":material/delete:"):
            for r in chosen:
                try:
                    store().delete(r["run_id"])
                except CoreError as exc:
                    show_error(exc)
            st.session_state.pop("train_run_id", None)
            st.rerun()
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
    st.fragment(live_ui, run_every=1.5)(run_id)
    with st.expander("Settings for another run", icon=":material/tune:"):
        new_run_ui()
else:
    st.session_state["train_was_running"] = False
    new_run_ui()
    if run_id is None:
        st.info("No run yet: choose settings above and press Start training.", icon=":material/info:")
    else:
        st.header("Learning curves")
        live_ui(run_id)
runs_table_ui()
