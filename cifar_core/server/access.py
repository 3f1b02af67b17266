"""The teacher's password: set CIFAR_CORE_TEACHER_PASSWORD (or the same key in Streamlit's
secrets) to run a class. Without it, everyone is the teacher, as for one person with a laptop.

A signed-in teacher's browser keeps a seal, a MAC of its own owner token under the password, so
that a reload stays signed in; it is worthless in another browser and unforgeable without the password.
"""

import collections
import hashlib
import hmac
import os
import threading
import time

from cifar_core.errors import RunError
from cifar_core.i18n import _
from cifar_core.runs.owners import Caller, clean_name, owner_id, valid_token

PASSWORD_ENV = "CIFAR_CORE_TEACHER_PASSWORD"
MAX_WAIT_SECONDS = 60  # the longest pause imposed after repeated wrong passwords
MAX_GUESSERS = 1024  # wrong-guess counters kept, oldest forgotten first
# Across all tabs: a tab that clears its cookies starts a new counter, but not a new server budget.
MAX_WRONG_PER_MINUTE = 10

_secret_password = None  # from the dashboard's secrets file (see `use_secret_password`)


def use_secret_password(password):
    """The password of the dashboard's secrets file, used when the environment sets none."""
    global _secret_password
    _secret_password = str(password) if password else None


def teacher_password():
    return os.environ.get(PASSWORD_ENV) or _secret_password


def class_locked():
    """Whether a teacher password is set: only then are students limited."""
    return bool(teacher_password())


def caller(name, token, seal=None):
    """The caller of a tab from its display name, its owner token and, once signed in, its seal.
    Everyone is the teacher while no password is set."""
    teacher = not class_locked() or seal_is_valid(token, seal)
    return Caller(clean_name(name), owner_id(token), teacher)


def seal(token):
    password = teacher_password()
    if not password or not valid_token(token):
        return None
    return hmac.new(password.encode(), token.encode(), hashlib.sha256).hexdigest()


def seal_is_valid(token, candidate):
    expected = seal(token)
    return bool(expected and isinstance(candidate, str) and hmac.compare_digest(expected.encode(), candidate.encode()))


class TeacherGate:
    """Checks the password in constant time; a tab that guesses wrong waits before its next guess,
    twice as long after each wrong one (1, 2, 4 … 60 s). One per server process."""

    def __init__(self):
        self._lock = threading.Lock()
        self._wrong = {}  # owner id -> (wrong guesses in a row, when the next guess is allowed)
        self._recent = collections.deque(maxlen=MAX_WRONG_PER_MINUTE)  # times of the last wrong guesses
        self.clock = time.monotonic  # a test holds it still

    def sign_in(self, token, password):
        """The seal for the right password; a wrong one raises, naming the wait before the next guess."""
        expected = teacher_password()
        if not expected:
            raise RunError(_("No teacher password is set ({variable}): everyone is the teacher.").format(
                variable=PASSWORD_ENV))
        guesser = owner_id(token)
        with self._lock:
            count, allowed = self._wrong.get(guesser, (0, 0.0))
            now = self.clock()
            wait = allowed - now
            if len(self._recent) == MAX_WRONG_PER_MINUTE:
                wait = max(wait, self._recent[0] + 60 - now)
            if wait > 0:
                raise RunError(_("Too many wrong passwords: try again in {seconds} s.").format(seconds=f"{wait:.0f}"))
            if hmac.compare_digest(str(password or "").encode(), expected.encode()):
                self._wrong.pop(guesser, None)
                return seal(token)
            delay = min(2.0 ** count, MAX_WAIT_SECONDS)
            self._recent.append(now)
            self._wrong.pop(guesser, None)
            self._wrong[guesser] = (count + 1, now + delay)  # newest last
            while len(self._wrong) > MAX_GUESSERS:
                self._wrong.pop(next(iter(self._wrong)))
        raise RunError(_("That is not the teacher's password. You can try again in {seconds} s.").format(
            seconds=f"{delay:.0f}"))
