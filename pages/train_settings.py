"""The Train page's settings form: presets, every option drawn from the registry, class mode, the
time estimate and the fit to a time budget. Drawn by pages/train.py."""

from contextlib import nullcontext

import streamlit as st

from cifar_core.config.architectures import ARCHITECTURES
from cifar_core.config.hparams import TRAINING, TRAINING_HPARAMS
from cifar_core.config.presets import PRESETS, preset_description, preset_title
from cifar_core.config.recipes import (
    default_value,
    describe_recipe,
    recipe_from_query,
    recipe_params,
    recipe_settings,
)
from cifar_core.config.run_config import make_config
from cifar_core.data.datasets import dataset_info, dataset_names
from cifar_core.errors import CoreError
from cifar_core.i18n import N_, _, ngettext, number
from cifar_core.server import estimate
from pages.shared import KEEP, arch_title, class_mode, dataset_title, manager, show_error

# The slider's stops: the useful range. Other values (a preset's, the command line's) stay possible.
LEARNING_RATES = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 0.3]
# Class mode: the settings a first lesson needs, with plain labels and units; the rest keep their
# values and are hidden.
CLASS_SETTINGS = {
    "epochs": N_("Epochs (passes over the data)"),
    "batch_size": N_("Batch size (images per step)"),
    "learning_rate": N_("Learning rate (size of each step)"),
    "train_size": N_("Training images (empty: all)"),
    "augment": N_("Augmentation (random changes to training images)"),
}
DEFAULT_BUDGET_MINUTES = 4.0
FIT_REQUEST = "train_fit_request"  # a fit to a time budget, done before the form's widgets are drawn
MEASURING = N_("Measuring a few batches on this machine (once for these settings) …")
# Choices shown in words of the reader's language (the values stay; the others read as `choice_text`).
CHOICE_NAMES = {"constant": N_("constant"), "cosine": N_("cosine"), "one_cycle": N_("one-cycle"),
                "flip": N_("flip"), "shift": N_("shift"), "rotation": N_("rotation"), "zoom": N_("zoom"),
                "crop": N_("crop"), "conv": N_("3×3 convolution"), "whiten": N_("whitening"),
                "none": N_("none"), "auto": N_("auto")}


def choice_text(value):
    """A choice as words: 'one-cycle', never `one_cycle` (as typed, e.g. in a sweep's values)."""
    return str(value).replace("_", "-")


def choice_label(value):
    """A choice as a person reads it in a menu, in their language."""
    return _(CHOICE_NAMES[value]) if value in CHOICE_NAMES else choice_text(value)


def form_values():
    """(dataset, arch, hparams, training) as this tab's session holds them, drawn or not."""
    ds_name = st.session_state.get("train_dataset") or dataset_names()[0]
    arch_name = st.session_state.get("train_arch") or next(iter(ARCHITECTURES))
    hparams = {spec.name: st.session_state.get(f"train_{arch_name}_{spec.name}", default_value(spec))
               for spec in ARCHITECTURES[arch_name].hparams}
    training = {spec.name: st.session_state.get(f"train_{spec.name}", default_value(spec))
                for spec in TRAINING_HPARAMS}
    return ds_name, arch_name, hparams, training


def fingerprint(ds_name, arch_name, hparams, training):
    return repr((ds_name, arch_name, sorted(hparams.items()),
                 sorted((k, list(v) if isinstance(v, (list, tuple)) else v) for k, v in training.items())))


def fill_form(recipe):
    """Write a recipe's or a preset's settings into the form's state, before its widgets are drawn:
    its dataset, network, hyperparameters and every training option (those it does not name at their
    defaults), as `recipe_settings` gives them to every other way of starting a run."""
    ds_name, arch_name, hparams, training = recipe_settings(recipe)
    st.session_state["train_dataset"], st.session_state["train_arch"] = ds_name, arch_name
    for name, value in hparams.items():
        st.session_state[f"train_{arch_name}_{name}"] = value
    for name, value in training.items():
        st.session_state[f"train_{name}"] = value


def apply_preset():
    """Callback of the preset box: the form takes the preset's settings; a preset with a time budget
    is then fitted to it, before the form is drawn."""
    chosen = st.session_state["train_preset"]
    if chosen is None:  # the choice was cleared: the settings stay as they are
        return
    fill_form(PRESETS[chosen])
    budget = PRESETS[chosen]["budget_seconds"]
    if budget:
        st.session_state[FIT_REQUEST] = budget
    st.session_state["train_preset_applied"] = chosen  # remembered as drawn, once the form shows it
    st.session_state.pop("train_preset_form", None)


def shared_recipe_ui():
    """A recipe in the address (a link from the Evaluate page) fills the form before its widgets are
    drawn. Returns the recipe's parameter names, which `settings_ui` takes out of the address once the
    widgets that show the recipe are drawn (a run cut short before then fills the form again), so
    later edits are not overwritten (`mode` stays). A bad link leaves the form as it was and says why."""
    params = st.query_params.to_dict()
    names = recipe_params(params)
    if not names:
        return names
    try:
        recipe = recipe_from_query(params)
    except CoreError as exc:
        show_error(_("The link's settings were not used: {error}").format(error=exc))
        return names
    fill_form(recipe)
    st.session_state["train_preset"] = None  # the settings are the recipe's, not a preset's
    st.session_state.pop("train_preset_form", None)
    st.success(_("Settings from a shared recipe: {recipe}.").format(recipe=describe_recipe(recipe)),
               icon=":material/link:")
    return names


def request_budget_fit():
    """Callback of "Fit to time budget": the fit itself runs before the form is drawn."""
    minutes = st.session_state.get("train_budget_minutes")
    if minutes is None or minutes <= 0:
        st.session_state["train_fit_note"] = ("error", _("Fit in (minutes) must be more than 0, got {minutes}.")
                                              .format(minutes=minutes))
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
        config = make_config(ds_name, arch_name, hparams, **training)
        if measuring_now_would_be_skewed(config):
            st.session_state["train_fit_note"] = (
                "info", _("Fitting to a time budget measures this machine's speed, which a run training now "
                          "would slow down: try again when it has finished."))
            return
        with st.spinner(_(MEASURING)) if estimate.stored_speed(config) is None else nullcontext():
            fitted, found = estimate.fit_to_budget(ds_name, arch_name, hparams, training, budget)
    except CoreError as exc:
        st.session_state["train_fit_note"] = ("error", _("Could not fit the settings to {budget}: {error}").format(
            budget=duration(budget), error=exc))
        return
    st.session_state["train_epochs"] = fitted["epochs"]
    st.session_state["train_train_size"] = fitted["train_size"]
    words = dict(budget=duration(budget), epochs=fitted["epochs"], time=estimate.describe_duration(found["seconds"]))
    if fitted["train_size"] is None:
        text = ngettext("Fitted to {budget}: {epochs} epoch on all training images, {time} here.",
                        "Fitted to {budget}: {epochs} epochs on all training images, {time} here.",
                        fitted["epochs"]).format(**words)
    else:
        text = ngettext("Fitted to {budget}: {epochs} epoch on {images} training images, {time} here.",
                        "Fitted to {budget}: {epochs} epochs on {images} training images, {time} here.",
                        fitted["epochs"]).format(images=number(fitted['train_size']), **words)
    st.session_state["train_fit_note"] = ("ok", text)


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
    help_text = _("{help} Allowed: {range}.").format(help=spec.help_text, range=spec.range_text())
    if spec.kind == "bool":
        return st.toggle(label, key=key, help=help_text, persist_state=KEEP)
    if spec.kind == "choice":
        return st.selectbox(label, spec.choices, key=key, help=help_text, format_func=choice_label,
                            persist_state=KEEP)
    if spec.kind == "multi":
        return st.multiselect(label, spec.choices, key=key, help=help_text, format_func=choice_label,
                              placeholder=_("None"), persist_state=KEEP)
    if spec.log:
        return learning_rate_ui(spec, key, label, help_text)
    if spec.kind == "float":
        fine = spec.high <= 0.1  # weight decay: steps of 0.0005
        return st.number_input(label, step=0.0005 if fine else 0.05, format="%.4f" if fine else "%.2f", key=key,
                               help=help_text, persist_state=KEEP)
    if spec.kind == "optional_int":  # empty means "all": an emptied box must give None, not 0
        return st.number_input(label, value=None, step=100, key=key, help=help_text, placeholder=_("all"),
                               persist_state=KEEP)
    return st.number_input(label, step=1, key=key, help=help_text, persist_state=KEEP)


def settings_ui():
    """The dataset, architecture and options; returns (dataset, arch, hparams, training). In class
    mode only the main ones are drawn, with plain labels; the others keep their values."""
    simple = class_mode()
    recipe_names = shared_recipe_ui()
    # Defaults are written once, in the run that first draws the widgets; later the widgets keep
    # their own values for the whole session.
    for spec in TRAINING_HPARAMS:
        st.session_state.setdefault(f"train_{spec.name}", default_value(spec))
    fit_request_ui()
    st.selectbox(_("Preset (one click reproduces a notebook)"), list(PRESETS), key="train_preset",
                 index=None, placeholder=_("Choose a notebook setup …"), on_change=apply_preset,
                 format_func=preset_title, persist_state=KEEP,
                 help=_("Class versions keep a notebook's network and train with settings that learn, fitted "
                        "to a few minutes on this machine; full versions replay the notebook's own settings."))
    if st.session_state.get("train_preset"):
        st.caption(preset_description(st.session_state["train_preset"]))
    c1, c2 = st.columns(2)
    ds_name = c1.selectbox(_("Dataset"), dataset_names(), key="train_dataset", persist_state=KEEP,
                           format_func=dataset_choice)
    arch_name = c2.selectbox(_("Architecture"), list(ARCHITECTURES), key="train_arch", persist_state=KEEP,
                             format_func=arch_title)
    arch = ARCHITECTURES[arch_name]
    st.write(arch.description_text)
    hparams = {}
    for spec in arch.hparams:
        st.session_state.setdefault(f"train_{arch_name}_{spec.name}", default_value(spec))
    if simple:
        hparams = {spec.name: st.session_state[f"train_{arch_name}_{spec.name}"] for spec in arch.hparams}
    else:
        for col, spec in zip(st.columns(len(arch.hparams)), arch.hparams):
            with col:
                hparams[spec.name] = hparam_ui(spec, f"train_{arch_name}_{spec.name}")
    st.markdown(_("**Training options**"))
    st.caption(_("An epoch is one pass over the training images. Each step learns from one batch of images "
                 "and moves every weight a little, by an amount the learning rate sets."))
    if simple:
        training = {name: st.session_state[f"train_{name}"] for name in TRAINING}
        for col, (name, label) in zip(st.columns(len(CLASS_SETTINGS)), CLASS_SETTINGS.items()):
            with col:
                training[name] = hparam_ui(TRAINING[name], f"train_{name}", _(label))
        st.caption(_("Class mode: only the main settings are shown, and the others keep their values. "
                     "Switch it off on the Home page to see them all."))
    else:
        training = {}
        names = list(TRAINING)
        for row in range(0, len(names), 5):
            for col, name in zip(st.columns(5), names[row: row + 5]):
                with col:
                    training[name] = hparam_ui(TRAINING[name], f"train_{name}")
    for name in recipe_names:  # drawn: the recipe leaves the address
        del st.query_params[name]
    if st.session_state.pop("train_preset_applied", None):  # as the preset left the form
        st.session_state["train_preset_form"] = (st.session_state["train_preset"],
                                                 fingerprint(ds_name, arch_name, hparams, training))
    return ds_name, arch_name, hparams, training


def measuring_now_would_be_skewed(config):
    """A first measurement while a run trains would be slowed by it, and be kept."""
    return estimate.stored_speed(config) is None and bool(manager().active())


def dataset_choice(name):
    """A dataset in the menu; one that is not here yet says where to get it."""
    if dataset_info(name).is_local():
        return dataset_title(name)
    return _("{dataset} (download on the Data page)").format(dataset=dataset_title(name))


def duration(seconds):
    """'0.4 s', '12 s', '3 min': a time without 'about', rounded as `estimate.describe_duration` rounds."""
    if seconds < 10:
        return _("{seconds} s").format(seconds=f"{seconds:.1f}")
    return estimate.describe_duration(seconds, about=False)


def estimate_line_ui(config, patience, pending):
    """The estimate, or a line saying it is being measured in the background: the form stays usable
    meanwhile, and this line alone redraws until the estimate is ready."""
    try:
        found = estimate.estimate_soon(config)
    except CoreError as exc:
        show_error(exc)
        return
    if found is None:
        st.caption(f":material/timer: {_(MEASURING)}")
        return
    if pending:
        st.rerun()  # measured: the whole form again, without the timer
    words = dict(time=estimate.describe_duration(found["seconds"]), per_epoch=duration(found["per_epoch"]))
    if patience:
        text = _("Estimated time on this machine: **{time}** ({per_epoch} per epoch; early stopping may end "
                 "it sooner).").format(**words)
    else:
        text = _("Estimated time on this machine: **{time}** ({per_epoch} per epoch).").format(**words)
    st.markdown(f":material/timer: {text}")


def estimate_ui(ds_name, arch_name, hparams, training, wrong):
    """How long these settings train on this machine, and a control that fits them to a time budget."""
    if not wrong and dataset_info(ds_name).is_local():
        try:
            config = make_config(ds_name, arch_name, hparams, **training)
            if measuring_now_would_be_skewed(config):
                st.caption(_("Estimated time: measured once no run is training (a run training now would "
                             "slow the measurement down)."))
            else:
                pending = estimate.stored_speed(config) is None  # then the line looks again every second
                st.fragment(estimate_line_ui, run_every=1.0 if pending else None)(
                    config, bool(training.get("patience")), pending)
        except CoreError as exc:
            show_error(exc)
    st.session_state.setdefault("train_budget_minutes", DEFAULT_BUDGET_MINUTES)
    b1, b2, _spare = st.columns([1, 1, 2], vertical_alignment="bottom")
    b1.number_input(_("Fit in (minutes)"), step=0.5, format="%.1f", key="train_budget_minutes", persist_state=KEEP,
                    help=_("A time budget for the training on this machine."))
    b2.button(_("Fit to time budget"), key="train_fit_budget", icon=":material/timer:", on_click=request_budget_fit,
              help=_("Chooses the epochs (at most those set above) and the number of training images so that "
                     "the run fits the budget, from a measurement of this machine's speed."))
    note = st.session_state.pop("train_fit_note", None)
    if note:
        kind, text = note
        if kind == "ok":
            st.success(text, icon=":material/check_circle:")
        elif kind == "info":
            st.info(text, icon=":material/hourglass_top:")
        else:
            show_error(text)
