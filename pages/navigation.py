"""The one workaround for a private Streamlit API: deep links into app.py's declared pages.

`pages/` is the product's page folder, and Streamlit treats a folder of that name as legacy,
auto-discovered pages until app.py has called `st.navigation` once in the server. A first
visitor arriving on a deep link (/train) would get the bare page, without app.py's navigation
and layout. Streamlit 1.67 has no supported switch for this, so the flag is flipped here, and
`tests/test_navigation.py` fails loudly if an upgrade changes what this relies on.
"""

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager  # private: see the docstring above


def use_app_navigation():
    """Switch the server to app.py's declared pages, then rerun this request through them."""
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
