"""The language this tab reads: `?lang=` in the address, the sidebar's switch, the server's
`CIFAR_CORE_LANG`, else the browser's language. The words themselves live in the core's catalogs
(`cifar_core.i18n`); this file chooses, remembers and tells the core.
"""

import json
import os

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from cifar_core import i18n
from cifar_core.i18n import LANGUAGES, _
from pages.shared import new_in_address


def running_tab_language():
    """The running tab's language, for the core's messages; None outside a page's run."""
    if get_script_run_ctx(suppress_warning=True) is None:
        return None
    try:
        return st.session_state.get("lang")
    except Exception:  # a thread with a context but no session behind it
        return None


def browser_language():
    try:
        return i18n.supported(st.context.locale)
    except Exception:  # no browser behind this session (a test, a script)
        return None


def choose_language():
    """Sets and returns this tab's language. `?lang=ko` or `?lang=en` counts once per address, so a
    value still in the address does not undo the switch; the choice lasts for the tab's session."""
    i18n.use_language_source(running_tab_language)  # again each run: the command line, in-process, sets its own
    if asked := i18n.supported(new_in_address("lang")):
        st.session_state["lang"] = asked
    if i18n.supported(st.session_state.get("lang")) is None:
        server = i18n.supported(os.environ.get(i18n.LANG_ENV))
        st.session_state["lang"] = server or browser_language() or i18n.SOURCE
    return st.session_state["lang"]


def mark_document_language(language):
    """The page's `<html lang>` follows the tab's language, so screen readers pronounce it right."""
    st.html(f"<script>document.documentElement.lang = {json.dumps(language)};</script>",
            unsafe_allow_javascript=True)


def language_ui():
    """The switch in the sidebar of every page; returns the chosen language."""
    st.session_state["sidebar_lang"] = st.session_state["lang"]  # the widget shows the tab's choice, however set

    def switched():
        st.session_state["lang"] = st.session_state["sidebar_lang"]

    with st.sidebar:
        st.selectbox(_("Language"), list(LANGUAGES), format_func=LANGUAGES.get, key="sidebar_lang",
                     on_change=switched)
    return st.session_state["lang"]

