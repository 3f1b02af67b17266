"""Home: what the product does, what is ready, and where to go next. Imports no TensorFlow."""

import streamlit as st

from cifar_core.config.presets import preset_short_title
from cifar_core.data.datasets import dataset_info, dataset_names
from cifar_core.errors import CoreError
from cifar_core.i18n import _, percent
from cifar_core.runs.store import ACTIVE
from cifar_core.server import cluster, prepare
from pages.identity import caller, display_name
from pages.shared import arch_title, class_mode, dataset_title, plain, status_label, store
from pages.teacher_ui import teacher_ui

st.title(_("Convolutional networks on CIFAR-10"))
st.caption(_("Train, watch and look inside CNNs from the browser — no code needed."))

st.markdown(_(
    "Browse the **data**, then pick a network and its settings and **train** it while its learning "
    "curves move live. **Evaluate** it with a confusion matrix you can click into, and open its "
    "**feature maps** to see what each layer responds to, on test images or your own photos."
))


def class_mode_ui():
    """The switch for this tab's class mode; `?mode=class` in the address sets it as well."""
    st.session_state["home_class_mode"] = class_mode()  # the widget shows the tab's mode, however set

    def switched():
        st.session_state["class_mode"] = st.session_state["home_class_mode"]

    st.toggle(_("Class mode"), key="home_class_mode", on_change=switched,
              help=_("The Train page then shows only the settings a first lesson needs, with plain labels; "
                     "the others keep their values. Adding ?mode=class to the address does the same, "
                     "?mode=full undoes it."))
    if class_mode():
        st.caption(_("Class mode is on for this tab: the Train page shows dataset, network, epochs, batch "
                     "size, learning rate, augmentation and the number of training images."))


def run_configs(rows):
    """{run_id: config} of the runs listed; a folder damaged meanwhile is left out."""
    configs = {}
    for row in rows:
        try:
            configs[row["run_id"]] = store().config(row["run_id"])
        except CoreError:
            continue
    return configs


def ready_runs_ui(runs):
    """The runs trained ahead of class from presets, each one click from Evaluate and Feature maps."""
    st.header(_("Ready to explore"))
    ready = prepare.ready_runs(runs, run_configs(runs))
    if not ready:
        # Not a caption: code in grey caption text fails the contrast audit.
        st.markdown(_("No ready-made runs yet: `python -m cifar_core prepare` trains the class version of "
                      "every preset ahead of class, one after another."))
        return
    st.caption(_("Networks trained ahead of class: open one to read its confusion matrix or to look at "
                 "its feature maps, without waiting for a training."))
    for row in ready:
        short = preset_short_title(row["preset"])
        best = row.get("best_val_accuracy")
        values = {"title": row["title"], "dataset": dataset_title(row["dataset"])}
        if best is not None:
            st.markdown(_("**{title}** · {dataset} · best validation accuracy {accuracy}").format(
                accuracy=percent(best), **values))
        else:
            st.markdown(_("**{title}** · {dataset} · no validation accuracy").format(**values))
        with st.container(horizontal=True):  # full link texts: columns cut them at 1366 px
            st.page_link("pages/evaluate.py", label=_("{network}: confusion matrix").format(network=short),
                         icon=":material/grid_on:", query_params={"run": row["run_id"]})
            st.page_link("pages/feature_maps.py", label=_("{network}: feature maps").format(network=short),
                         icon=":material/layers:", query_params={"run": row["run_id"]})


class_mode_ui()

runs = store().list()
training = [r for r in runs if r["status"] in ACTIVE]
ready = [dataset_title(name) for name in dataset_names() if dataset_info(name).is_local()]

col1, col2, col3 = st.columns(3)
col1.metric(_("Datasets ready"), len(ready), help=", ".join(ready))
col2.metric(_("Runs"), len(runs))
col3.metric(_("Training now"), len(training))
st.caption(_("Workers: {workers}").format(workers=cluster.describe_workers()))

cifar = dataset_info("cifar10")
if not cifar.is_local():
    st.warning(_("CIFAR-10 is not on this machine yet. Open **Data** to download it, set `{variable}`, "
                 "or use the offline Digits set.").format(variable=cifar.env_var), icon=":material/cloud_download:")
for run in training:
    values = {"network": arch_title(run["arch"]), "dataset": dataset_title(run["dataset"]),
              "status": status_label(run["status"]), "epoch": run["epochs"]}
    if run["owner"]:
        text = _("Training now: **{network}** on {dataset} by {owner} ({status}, epoch {epoch}).").format(
            owner=plain(display_name(run["owner"])), **values)
    else:
        text = _("Training now: **{network}** on {dataset} ({status}, epoch {epoch}).").format(**values)
    st.info(text, icon=":material/model_training:")

ready_runs_ui(runs)

st.header(_("Where next"))
c1, c2, c3, c4 = st.columns(4)
c1.page_link("pages/data.py", label=_("Look at the data"), icon=":material/photo_library:")
c2.page_link("pages/train.py", label=_("Train a network"), icon=":material/model_training:")
c3.page_link("pages/evaluate.py", label=_("Confusion matrix"), icon=":material/grid_on:")
c4.page_link("pages/feature_maps.py", label=_("Feature maps"), icon=":material/layers:")

teacher_ui(caller())
