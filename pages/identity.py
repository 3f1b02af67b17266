"""Who this tab is: a display name and an owner token, kept by the browser across reloads, and
the teacher's sign-in. The rules themselves live in the core (`cifar_core.runs.owners`,
`cifar_core.server.access`); this file asks, remembers and shows.

The token lives in a cookie, never in the address: an address copied from another tab carries
nothing but a name. Cookies are written by a constant script with values of a safe alphabet only.
"""

import re
from urllib.parse import quote, unquote

import streamlit as st

from cifar_core.errors import CoreError
from cifar_core.i18n import N_, _
from cifar_core.runs.owners import MAX_NAME, OPERATOR, clean_name, new_token, valid_token
from cifar_core.server import access
from pages.shared import new_in_address, plain, show_error

TOKEN_COOKIE, NAME_COOKIE, SEAL_COOKIE = "cifar_core_owner", "cifar_core_name", "cifar_core_teacher"
COOKIE_DAYS = 180
# The name of a tab that gave none, while no class is running (no teacher password). Runs store it
# in English, as their owner's name; `display_name` shows it in the reader's language.
GUEST = N_("Guest")


@st.cache_resource(show_spinner=False)
def teacher_gate():
    """One per server: wrong guesses are counted across every tab."""
    return access.TeacherGate()


def _cookie(name):
    try:
        value = st.context.cookies.get(name)
    except Exception:  # no browser behind this session (a test, a script)
        return None
    return value if isinstance(value, str) else None


def token():
    """This browser's owner token: from its cookie, else a new one."""
    if "owner_token" not in st.session_state:
        stored = _cookie(TOKEN_COOKIE)
        st.session_state["owner_token"] = stored if valid_token(stored) else new_token()
    return st.session_state["owner_token"]


def name():
    """This tab's display name, or None: `?name=` in the address (once per address), else the
    name given before, else the browser's cookie."""
    if asked := new_in_address("name"):
        try:
            st.session_state["owner_name"] = clean_name(asked)
        except CoreError:
            pass  # an empty name in the address: asked for as if there were none
    if "owner_name" not in st.session_state:
        try:
            st.session_state["owner_name"] = clean_name(unquote(_cookie(NAME_COOKIE) or ""))
        except CoreError:
            return None
    return st.session_state["owner_name"]


def seal():
    if "teacher_seal" not in st.session_state:
        stored = _cookie(SEAL_COOKIE)
        st.session_state["teacher_seal"] = stored if access.seal_is_valid(token(), stored) else None
    return st.session_state["teacher_seal"]


def caller():
    """This tab's caller, for the core's permission checks."""
    return access.caller(name() or GUEST, token(), seal())


def display_name(owner):
    """An owner's name as shown: the guest's name in the reader's language, any other as given."""
    return _(owner) if owner in (GUEST, OPERATOR.name) else owner


def sign_in(password):
    """Check the teacher's password (the core slows down repeated wrong guesses); raises CoreError."""
    st.session_state["teacher_seal"] = teacher_gate().sign_in(token(), password)


def sign_out():
    st.session_state["teacher_seal"] = None


def save_name_ui(text):
    """Keep `text` as the tab's name and redraw, or say why it was refused (an empty name)."""
    try:
        st.session_state["owner_name"] = clean_name(text)
    except CoreError as exc:
        show_error(exc)
        return
    st.rerun()


def remember_ui():
    """Write the tab's identity into the browser's cookies when it changed (at the sidebar's foot)."""
    values = {TOKEN_COOKIE: token(), NAME_COOKIE: quote(name() or "", safe=""), SEAL_COOKIE: seal() or ""}
    if st.session_state.get("identity_remembered") == values:
        return
    assert all(re.fullmatch(r"[A-Za-z0-9_.~%-]*", v) for v in values.values())  # nothing to escape
    lines = [f'document.cookie = "{key}={value}; path=/; max-age={COOKIE_DAYS * 86400 if value else 0}; '
             'SameSite=Strict";' for key, value in values.items()]
    with st.sidebar:
        st.html(f"<script>{''.join(lines)}</script>", unsafe_allow_javascript=True)
    st.session_state["identity_remembered"] = values


def ask_name_ui():
    """While a class runs, a tab without a name is asked for one before anything else."""
    st.title(_("Who is training?"))
    st.caption(_("Your name goes on your runs, so that you and your teacher can find them. No account is needed."))
    with st.form("identity_form", border=False):
        text = st.text_input(_("Your name"), max_chars=MAX_NAME, key="identity_name_input")
        if st.form_submit_button(_("Continue"), type="primary"):
            save_name_ui(text)
    st.stop()


def named_caller():
    """The tab's caller, or None while a class runs and the tab has not given its name."""
    if access.class_locked() and name() is None:
        return None
    return caller()


def identity_ui(who):
    """The sidebar's note of who this tab is, with a way to change the name."""
    locked = access.class_locked()
    if not locked:
        label = _("You: {name}")
    else:
        label = _("You: {name} (teacher)") if who.teacher else _("You: {name} (student)")
    with st.sidebar.expander(label.format(name=plain(display_name(who.name))), icon=":material/person:"):
        st.session_state.setdefault("identity_name_edit", name() or "")
        text = st.text_input(_("Your name"), max_chars=MAX_NAME, key="identity_name_edit",
                             help=_("Shown on your runs."))
        if st.button(_("Change name"), key="identity_name_change"):
            save_name_ui(text)
    remember_ui()
