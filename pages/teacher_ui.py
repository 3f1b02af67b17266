"""The teacher's corner of Home: sign in with the class's password, then the class's controls.
The controls live in the runs folder (`cifar_core.runs.classroom`), so every dashboard process
serving the class reads the same; the core refuses a student's attempt to change them."""

import streamlit as st

from cifar_core.errors import CoreError
from cifar_core.i18n import _, ngettext
from cifar_core.runs.classroom import (
    MAX_ACTIVE_CHOICES,
    MAX_CAP_SECONDS,
    MIN_CAP_SECONDS,
    read_controls,
    write_controls,
)
from cifar_core.server import access
from pages import identity
from pages.shared import manager, runs_dir, show_error


def sign_in_ui():
    with st.form("teacher_sign_in", border=False):
        password = st.text_input(_("Teacher's password"), type="password", key="teacher_password")
        if st.form_submit_button(_("Sign in as the teacher"), icon=":material/login:"):
            try:
                identity.sign_in(password)
                st.rerun()
            except CoreError as exc:
                show_error(exc)


def change(who, **changes):
    try:
        write_controls(runs_dir(), who, **changes)
    except CoreError as exc:
        st.session_state["teacher_note"] = str(exc)


def controls_ui(who):
    """Each control applies at once, to every tab of the class."""
    controls = read_controls(runs_dir())
    st.session_state["teacher_uploads"] = controls.uploads
    st.session_state["teacher_board"] = controls.board_visible
    st.session_state["teacher_paused"] = controls.paused
    st.session_state["teacher_max_active"] = controls.max_active_per_student
    st.session_state["teacher_cap_on"] = controls.student_cap_seconds is not None
    c1, c2, c3 = st.columns(3)
    c1.toggle(_("Students may upload images"), key="teacher_uploads",
              on_change=lambda: change(who, uploads=st.session_state["teacher_uploads"]))
    c2.toggle(_("Show the class board to students"), key="teacher_board",
              on_change=lambda: change(who, board_visible=st.session_state["teacher_board"]))
    c3.toggle(_("Pause the queue"), key="teacher_paused", help=_("Queued runs wait; runs already training go on."),
              on_change=lambda: change(who, paused=st.session_state["teacher_paused"]))
    c1, c2, c3 = st.columns(3)
    c1.number_input(_("Runs per student, queued or training"), MAX_ACTIVE_CHOICES[0], MAX_ACTIVE_CHOICES[-1],
                    key="teacher_max_active",
                    on_change=lambda: change(who, max_active_per_student=int(st.session_state["teacher_max_active"])))
    cap_on = c2.toggle(_("Cap a student run's training time"), key="teacher_cap_on",
                       on_change=lambda: change(who, student_cap_seconds=(
                           st.session_state.get("teacher_cap_seconds") or 120) if st.session_state["teacher_cap_on"] else None))
    if cap_on:
        st.session_state["teacher_cap_seconds"] = controls.student_cap_seconds or 120
        c3.number_input(_("Seconds of training at most"), MIN_CAP_SECONDS, MAX_CAP_SECONDS, step=30,
                        key="teacher_cap_seconds", help=_("A student's run is fitted to this time, as a time "
                                                          "budget fits it, and stopped if it runs a quarter over."),
                        on_change=lambda: change(who, student_cap_seconds=int(st.session_state["teacher_cap_seconds"])))
    if st.button(_("Stop every run"), key="teacher_stop_all", icon=":material/stop_circle:"):
        try:
            stopped = manager().stop_all(who)
            st.session_state["teacher_note"] = ngettext(
                "Asked {count} run to stop.", "Asked {count} runs to stop.", stopped).format(count=stopped)
        except CoreError as exc:
            st.session_state["teacher_note"] = str(exc)
    note = st.session_state.pop("teacher_note", None)
    if note:
        st.info(note, icon=":material/info:")


def teacher_ui(who):
    """Sign-in while a class runs, and the controls for whoever is the teacher."""
    if not access.class_locked():
        return  # one person with a laptop: no class to control
    st.header(_("Teacher"))
    if not who.teacher:
        st.caption(_("Students need nothing here. The teacher signs in to control the class."))
        sign_in_ui()
        return
    st.caption(_("You are signed in as the teacher: you can stop or delete any run, and these controls "
                 "apply to the whole class."))
    controls_ui(who)
    if st.button(_("Sign out"), key="teacher_sign_out", icon=":material/logout:"):
        identity.sign_out()
        st.rerun()
