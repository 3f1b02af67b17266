"""Who may change a run: its owner or the teacher; names are cleaned, tokens become one-way ids."""

import pytest

from cifar_core.errors import ParamError, RunError
from cifar_core.runs.owners import OPERATOR, Caller, clean_name, new_token, owner_id, require_change, require_teacher


def test_names_are_trimmed_cleaned_and_never_empty():
    assert clean_name("  Min  Ji  ") == "Min Ji"
    assert clean_name("x" * 100) == "x" * 40
    assert clean_name("\u202eevil\u200b name") == "evil name"  # direction and zero-width marks dropped
    assert clean_name("**bold** <script>") == "**bold** <script>"  # kept as text: pages escape it
    assert clean_name("🐱 Kim") == "🐱 Kim"
    for empty in ("", "   ", "\u200b\u202e", None):
        with pytest.raises(ParamError, match="Type a name"):
            clean_name(empty)


def test_an_owner_id_is_stable_one_way_and_refuses_forged_tokens():
    token = new_token()
    assert owner_id(token) == owner_id(token) != owner_id(new_token())
    assert token not in owner_id(token)
    for forged in ("", "short", "../../etc/passwd-0123456789abcdef", "a" * 65, None):
        with pytest.raises(ParamError, match="reload the page"):
            owner_id(forged)


def test_students_change_only_their_own_runs_and_the_teacher_any():
    ann, other_ann = Caller("Ann", owner_id(new_token())), Caller("Ann", owner_id(new_token()))
    teacher = Caller("Ms Lee", owner_id(new_token()), teacher=True)
    config = {"owner": ann.owner()}
    require_change(ann, "r", config, "stop")
    require_change(teacher, "r", config, "delete")
    require_change(OPERATOR, "r", config, "delete")  # the command line, on the server's machine
    with pytest.raises(RunError, match="Run r is Ann's run: only its owner or the teacher can stop it"):
        require_change(other_ann, "r", config, "stop")  # the same name is another owner
    with pytest.raises(RunError, match="not your run"):
        require_change(ann, "r", {}, "delete")  # a run from before owners: the teacher's to delete
    with pytest.raises(RunError, match="Only the teacher"):
        require_teacher(ann, "stop every run")
