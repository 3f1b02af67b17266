"""The teacher's password: compared in constant time, slower after each wrong guess, and a seal
that keeps a reload signed in; without a password everyone is the teacher."""

import pytest

from cifar_core.errors import RunError
from cifar_core.runs.owners import new_token
from cifar_core.server import access


@pytest.fixture
def password(monkeypatch):
    monkeypatch.setenv(access.PASSWORD_ENV, "correct horse")
    return "correct horse"


def test_without_a_password_everyone_is_the_teacher(monkeypatch):
    monkeypatch.delenv(access.PASSWORD_ENV, raising=False)
    assert not access.class_locked() and access.caller("Kim", new_token()).teacher


def test_a_wrong_password_grants_nothing_and_the_next_guess_waits(password):
    clock = [0.0]
    gate, token = access.TeacherGate(), new_token()
    gate.clock = lambda: clock[0]
    with pytest.raises(RunError, match="not the teacher's password. You can try again in 1 s"):
        gate.sign_in(token, "guess")
    with pytest.raises(RunError, match="Too many wrong passwords"):
        gate.sign_in(token, password)  # even the right one, before the wait is over
    assert not access.caller("Kim", token).teacher
    gate = access.TeacherGate()
    gate.clock = lambda: clock[0]
    for wait in (1, 2, 4, 8):
        with pytest.raises(RunError, match=f"again in {wait} s"):
            gate.sign_in(token, "guess")
        clock[0] += wait
    seal = gate.sign_in(token, password)
    assert access.caller("Kim", token, seal).teacher


def test_a_seal_is_worthless_in_another_browser_or_under_another_password(password, monkeypatch):
    mine, theirs = new_token(), new_token()
    seal = access.TeacherGate().sign_in(mine, password)
    assert access.seal_is_valid(mine, seal)
    assert not access.caller("Kim", theirs, seal).teacher  # copied into another browser
    assert not access.caller("Kim", theirs, "teacher").teacher
    monkeypatch.setenv(access.PASSWORD_ENV, "a new password")
    assert not access.caller("Kim", mine, seal).teacher


def test_many_wrong_guesses_from_many_tabs_slow_the_whole_server(password):
    clock = [0.0]
    gate = access.TeacherGate()
    gate.clock = lambda: clock[0]
    for _ in range(access.MAX_WRONG_PER_MINUTE):
        with pytest.raises(RunError, match="not the teacher's password"):
            gate.sign_in(new_token(), "guess")  # each a fresh tab: no per-tab wait
    with pytest.raises(RunError, match="Too many wrong passwords: try again in 60 s"):
        gate.sign_in(new_token(), password)
    clock[0] += 61
    assert gate.sign_in(new_token(), password)
