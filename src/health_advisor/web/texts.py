"""Names the web pages show for codes the plans' texts do not cover: roles, alert kinds,
plan events, audit outcomes, progress verdicts.

Marked with :func:`N_` for extraction and translated per request with :func:`gettext`;
an unknown code is shown readable rather than raw (``new_kind`` -> ``new kind``).
"""

from __future__ import annotations

from health_advisor.i18n import N_, code_name, gettext

__all__ = [
    "alert_kind_name",
    "event_name",
    "progress_text",
    "role_name",
    "severity_name",
]

_ROLES = {
    "admin": N_("Administrator"),
    "coordinator": N_("Coordinator"),
    "professional": N_("Health professional"),
    "client": N_("Client"),
}
_ALERT_KINDS = {
    "possible_illness": N_("Possible illness"),
    "rhr_elevated": N_("Resting heart rate above usual"),
    "steps_collapse": N_("Steps far below usual"),
    "sleep_debt": N_("Sleep debt"),
    "hypertensive_crisis": N_("Hypertensive crisis reading"),
    "side_effect": N_("Side effects reported"),
}
_SEVERITIES = {"info": N_("Information"), "warning": N_("Warning"), "urgent": N_("Urgent")}
_EVENTS = {
    "created": N_("Generated"),
    "submit": N_("Submitted for review"),
    "approve": N_("Approved"),
    "reject": N_("Returned with comments"),
    "activate": N_("Activated"),
    "complete": N_("Completed"),
    "supersede": N_("Superseded"),
    "superseded": N_("Superseded by a newer version"),
    "item_added": N_("Item added"),
    "item_removed": N_("Item removed"),
}
_PROGRESS = {
    True: N_("On track"),
    False: N_("Not on track yet"),
    None: N_("Too early to tell"),
}


def role_name(role: str, lang: str) -> str:
    return code_name(_ROLES, role, lang)


def alert_kind_name(kind: str, lang: str) -> str:
    return code_name(_ALERT_KINDS, kind, lang)


def severity_name(severity: str, lang: str) -> str:
    return code_name(_SEVERITIES, severity, lang)


def event_name(action: str, lang: str) -> str:
    return code_name(_EVENTS, action, lang)


def progress_text(on_track: bool | None, lang: str) -> str:
    return gettext(_PROGRESS[on_track], lang)
