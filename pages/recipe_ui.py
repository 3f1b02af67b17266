"""The Evaluate page's "Share this run": a link that opens the Train page with the run's exact
settings, its recipe as JSON, and the run as a standalone Keras script. Nothing here imports
TensorFlow: the recipe and the script are written from the run's config."""

import streamlit as st

from cifar_core.config.recipes import recipe_json, recipe_link, recipe_of, recipe_query
from cifar_core.errors import CoreError
from cifar_core.export.script import export_refusal, export_script
from cifar_core.i18n import _
from pages.shared import class_mode, show_error


def recipe_actions_ui(store, run_id):
    """The link, the recipe and the script of run `run_id` of `store`, in a folded section."""
    try:
        config = store.config(run_id)
    except CoreError as exc:  # deleted from another tab meanwhile
        show_error(exc)
        return
    recipe = recipe_of(config)
    refusal = export_refusal(config)
    mode = "class" if class_mode() else None  # a class keeps its simpler Train page
    with st.expander(_("Share this run: a link, its recipe, a Keras script"), icon=":material/share:"):
        st.caption(_("This link opens the Train page with this run's dataset, network, hyperparameters, seed "
                     "and every training setting filled in: add it to this dashboard's address."))
        st.code(recipe_link(recipe, mode=mode), language=None, wrap_lines=True)
        with st.container(horizontal=True):
            st.page_link("pages/train.py", label=_("Train it again"), icon=":material/model_training:",
                         query_params={**recipe_query(recipe), **({"mode": mode} if mode else {})})
            st.download_button(_("Recipe (JSON)"), recipe_json(recipe), file_name=f"{run_id}-recipe.json",
                               mime="application/json", key="evaluate_recipe_download", on_click="ignore",
                               icon=":material/download:",
                               help=_("Train it again with 'python -m cifar_core train --recipe FILE'."))
            st.download_button(_("Export as a Keras script"), lambda: export_script(config, run_id),
                               file_name=f"{run_id.replace('-', '_')}.py", mime="text/x-python", on_click="ignore",
                               key="evaluate_script_download", icon=":material/code:", disabled=bool(refusal),
                               help=refusal or _("One Python file that trains this run again with Keras and "
                                                 "NumPy alone: 'python FILE cifar-10-python.tar.gz'."))
