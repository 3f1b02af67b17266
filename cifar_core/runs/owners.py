"""Who owns a run, and who may change it: a display name and an owner token per browser, no accounts.

A student starts runs and stops or deletes only their own; the teacher may stop or delete any run.
The job manager and the run store apply these rules; hiding a button is not enough. The command
line runs on the server's machine and acts as the teacher (`OPERATOR`).
"""

import dataclasses
import hashlib
import re
import secrets
import unicodedata

from cifar_core.errors import ParamError, RunError
from cifar_core.i18n import N_, _

MAX_NAME = 40
TOKEN = re.compile(r"^[A-Za-z0-9_-]{22,64}$")
# Control, format (right-to-left marks, zero-width joiners), surrogate, private and unassigned.
_DROPPED = {"Cc", "Cf", "Cs", "Co", "Cn"}


@dataclasses.dataclass(frozen=True)
class Caller:
    """Who asks: `name` as shown, `owner_id` derived from the tab's token (never the token itself,
    which would let anyone who reads a run's config act as its owner), and whether it is the teacher."""

    name: str
    owner_id: str
    teacher: bool = False

    def owner(self):
        """What a run's config records of its owner."""
        return {"name": self.name, "id": self.owner_id}

    def owns(self, config):
        return owner_of(config).get("id") == self.owner_id


OPERATOR = Caller(N_("command line"), "operator", teacher=True)  # stored English; shown with _()


def owner_of(config):
    """{"name", "id"} of a run's owner; {} for a run made before runs had owners."""
    owner = config.get("owner") if isinstance(config, dict) else None
    return owner if isinstance(owner, dict) else {}


def new_token():
    return secrets.token_urlsafe(24)


def valid_token(token):
    return isinstance(token, str) and bool(TOKEN.match(token))


def owner_id(token):
    """A stable, one-way id of a token."""
    if not valid_token(token):
        raise ParamError(_("This tab's owner token is malformed: reload the page to get a new one."))
    return hashlib.sha256(f"cifar-core-owner:{token}".encode()).hexdigest()[:16]


def clean_name(text):
    """A display name: spaces collapsed, invisible and direction characters removed, at most
    MAX_NAME characters. An empty name is refused. Pages show it as plain text, never as Markdown."""
    text = "".join(c for c in str(text or "") if unicodedata.category(c) not in _DROPPED)
    text = " ".join(text.split())[:MAX_NAME].strip()
    if not text:
        raise ParamError(_("Type a name (1 to {limit} characters) so that your runs carry it.").format(limit=MAX_NAME))
    return text


# Whole sentences, one for each action, so that a translation never joins fragments.
CHANGE_REFUSALS = {  # action: (for a named owner, for a run without one)
    "stop": (N_("Run {run_id} is {name}'s run: only its owner or the teacher can stop it."),
             N_("Run {run_id} is not your run: only its owner or the teacher can stop it.")),
    "delete": (N_("Run {run_id} is {name}'s run: only its owner or the teacher can delete it."),
               N_("Run {run_id} is not your run: only its owner or the teacher can delete it.")),
}
TEACHER_REFUSALS = {
    "stop every run": N_("Only the teacher can stop every run: the teacher signs in on Home."),
    "change the class's controls": N_("Only the teacher can change the class's controls: the teacher signs in on Home."),
}


def require_change(who, run_id, config, action):
    """Refuse `action` ("stop", "delete") on a run that `who` may not change; nothing is changed."""
    if who.teacher or who.owns(config):
        return
    name = owner_of(config).get("name")
    named, unnamed = CHANGE_REFUSALS[action]
    raise RunError(_(named if name else unnamed).format(run_id=run_id, name=name))


def require_teacher(who, action):
    """Refuse `action` ("stop every run", "change the class's controls") to anyone but the teacher."""
    if not who.teacher:
        raise RunError(_(TEACHER_REFUSALS[action]))
