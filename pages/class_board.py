"""Class board: every run of the class, a leaderboard, the settings against test accuracy and the
common failures in words. Students see it while the teacher shows it. No TensorFlow here."""

import streamlit as st

from cifar_core.errors import CoreError
from cifar_core.i18n import N_, _, ngettext
from cifar_core.runs import board
from cifar_core.runs.classroom import read_controls
from cifar_core.runs.store import ACTIVE
from cifar_core.server import inspection
from pages import figures
from pages.identity import caller, display_name
from pages.shared import arch_title, plain, run_started, runs_dir, show_error, status_label, store
from pages.train_settings import choice_label

# The board's words for the core's failure codes and the augmentations (the stored values stay English).
FAILURE_NAMES = {"diverged": N_("diverged"), "overfitting": N_("overfitting"), "not_learning": N_("not learning"),
                 "one_class": N_("one class")}

st.title(_("Class board"))
st.caption(_("Every run of the class side by side: whose settings did best, and why the others did not."))

who = caller()
if not (who.teacher or read_controls(runs_dir()).board_visible):
    st.info(_("The teacher has not shown the class board yet."), icon=":material/visibility_off:")
    st.stop()

rows = board.board_rows(store())
if not rows:
    st.info(_("No runs yet: they appear here as soon as someone starts one on the Train page."), icon=":material/info:")
    st.stop()


def failure_name(code):
    return _(FAILURE_NAMES[code]) if code in FAILURE_NAMES else code.replace("_", " ")


def augmentation_text(augment):
    """A run's augmentations as a person reads them: "flip, shift", or "none"."""
    return ", ".join(choice_label(a) for a in augment) or _("none")


def evaluate_all_ui(rows):
    """The teacher's button: every finished run not yet evaluated, on the test set, one after another."""
    waiting = [r for r in rows if r["test_accuracy"] is None and r["status"] not in ACTIVE
               and store().exists(r["run_id"]) and store().model_path(r["run_id"]) is not None]
    if not waiting or not who.teacher:
        return
    label = ngettext("Evaluate {count} finished run on the test set", "Evaluate {count} finished runs on the test set",
                     len(waiting)).format(count=len(waiting))
    if not st.button(label, key="board_evaluate", icon=":material/grid_on:",
                     help=_("The leaderboard ranks runs by test accuracy, which an evaluation measures.")):
        return
    bar = st.progress(0.0, text=_("Evaluating …"))
    for i, row in enumerate(waiting):
        try:
            inspection.evaluate(store(), row["run_id"])
        except CoreError as exc:
            show_error(exc)
        bar.progress((i + 1) / len(waiting),
                     text=_("Evaluated {done} of {total}").format(done=i + 1, total=len(waiting)))
    st.rerun()


def leaderboard_ui(rows):
    st.header(_("Leaderboard"))
    ranked = board.leaderboard(rows)
    if not ranked:
        st.caption(_("No run is evaluated yet: the leaderboard ranks runs by test accuracy."))
        return
    test, seconds, rate = _("Test accuracy"), _("Training seconds"), _("Learning rate")
    st.dataframe([{_("Rank"): i + 1, _("Owner"): display_name(r["owner"]), _("Network"): arch_title(r["arch"]),
                   test: r["test_accuracy"], seconds: r["train_seconds"],
                   rate: r["learning_rate"], _("Batch size"): r["batch_size"], _("Epochs"): r["epochs"],
                   _("Augmentation"): augmentation_text(r["augment"])} for i, r in enumerate(ranked)],
                 hide_index=True, key="board_leaderboard", width="stretch",
                 column_config={test: st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1),
                                rate: st.column_config.NumberColumn(format="%g"),
                                seconds: st.column_config.NumberColumn(format="%.0f")})


def parcoords_ui(rows):
    st.header(_("Settings against results"))
    st.caption(_("One line per run, from its settings on the left to its result on the right: the bright lines "
                 "did best. Drag along an axis to pick the runs that pass through a range."))
    evaluated = [r for r in rows if r["test_accuracy"] is not None]
    if len(evaluated) >= 2:
        fig = figures.class_parcoords(evaluated, arch_title=arch_title)
    else:
        with_val = [r for r in rows if r["best_val_accuracy"] is not None]
        if len(with_val) < 2:
            st.caption(_("The chart appears once two runs have finished an epoch."))
            return
        st.caption(_("Fewer than two runs are evaluated: the chart shows validation accuracy until they are."))
        fig = figures.class_parcoords(with_val, "best_val_accuracy", _("Validation accuracy"), arch_title)
    st.plotly_chart(fig, key="board_parcoords")


def failures_ui(rows):
    st.header(_("What went wrong"))
    failing = [r for r in rows if r["failures"]]
    if not failing:
        st.caption(_("No run shows a common failure: none diverged, overfitted, stayed at chance or "
                     "predicted one class for most images."))
        return
    for r in failing:
        st.markdown(_("**{owner}**, {network}, run {started}:").format(
            owner=plain(display_name(r["owner"]) or _("Someone")), network=plain(arch_title(r["arch"])),
            started=plain(run_started(r["run_id"]))))
        for _code, text in r["failures"]:
            st.warning(text, icon=":material/warning:")


def all_runs_ui(rows):
    st.header(_("Every run"))
    rate, best = _("Learning rate"), _("Best validation accuracy")
    test, seconds = _("Test accuracy"), _("Training seconds")
    st.dataframe([{_("Run"): run_started(r["run_id"]), _("Owner"): display_name(r["owner"]),
                   _("Status"): status_label(r["status"]), _("Network"): arch_title(r["arch"]),
                   _("Optimizer"): r["optimizer"], rate: r["learning_rate"],
                   _("Batch size"): r["batch_size"], _("Epochs"): r["epochs"], _("Training images"): r["train_size"],
                   _("Augmentation"): augmentation_text(r["augment"]),
                   best: r["best_val_accuracy"], test: r["test_accuracy"], seconds: r["train_seconds"],
                   _("Failures"): ", ".join(failure_name(code) for code, _text in r["failures"])} for r in rows],
                 hide_index=True, key="board_runs", width="stretch",
                 column_config={rate: st.column_config.NumberColumn(format="%g"),
                                best: st.column_config.NumberColumn(format="percent"),
                                test: st.column_config.NumberColumn(format="percent"),
                                seconds: st.column_config.NumberColumn(format="%.0f")})


evaluate_all_ui(rows)
leaderboard_ui(rows)
parcoords_ui(rows)
failures_ui(rows)
all_runs_ui(rows)
