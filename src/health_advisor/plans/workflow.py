"""The plan's life cycle: which action moves a plan from which state, and who may do it.

Pure rules, no I/O (the service stores the result and the event)::

    draft --submit--> in_review --approve--> approved --activate--> active --complete--> completed
      ^                   |
      +------reject-------+            any state before completed --supersede--> superseded

A professional approves or rejects (with a comment, required on rejection); only an
approved or active plan is visible to the client; items can be edited only in draft, by
a coordinator or an admin, and every edit needs a reason. Generating a new version
supersedes the client's earlier versions that were not yet active; activating a version
supersedes the one active before it.
"""

from __future__ import annotations

from dataclasses import dataclass

from health_advisor.errors import ConflictError, InputError, PermissionDenied

__all__ = [
    "ACTIONS",
    "CLIENT_VISIBLE",
    "EDITABLE",
    "ROLES",
    "STATES",
    "Actor",
    "Transition",
    "check_edit",
    "next_state",
]

STATES: tuple[str, ...] = ("draft", "in_review", "approved", "active", "completed", "superseded")
ROLES: tuple[str, ...] = ("admin", "coordinator", "professional", "client")
CLIENT_VISIBLE: frozenset[str] = frozenset({"approved", "active", "completed"})
EDITABLE: frozenset[str] = frozenset({"draft"})
EDITORS: frozenset[str] = frozenset({"admin", "coordinator"})


@dataclass(frozen=True)
class Actor:
    """Who acts: a user name (or ``cli:<os user>``) and one of :data:`ROLES`."""

    name: str
    role: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise InputError(f"role must be one of {', '.join(ROLES)}, got {self.role!r}")
        if not self.name.strip():
            raise InputError("an actor needs a name")


@dataclass(frozen=True)
class Transition:
    sources: frozenset[str]
    target: str
    roles: frozenset[str]
    needs_comment: bool = False


ACTIONS: dict[str, Transition] = {
    "submit": Transition(frozenset({"draft"}), "in_review", frozenset({"admin", "coordinator"})),
    "approve": Transition(frozenset({"in_review"}), "approved", frozenset({"professional"})),
    "reject": Transition(
        frozenset({"in_review"}), "draft", frozenset({"professional"}), needs_comment=True
    ),
    "activate": Transition(
        frozenset({"approved"}), "active", frozenset({"admin", "coordinator", "professional"})
    ),
    "complete": Transition(
        frozenset({"active"}), "completed", frozenset({"admin", "coordinator", "professional"})
    ),
    "supersede": Transition(
        frozenset({"draft", "in_review", "approved", "active"}),
        "superseded",
        frozenset({"admin", "coordinator", "professional"}),
    ),
}


def next_state(status: str, action: str, actor: Actor, comment: str | None = None) -> str:
    """The state ``action`` leads to from ``status``, or the reason it may not happen.

    Raises :class:`InputError` for an unknown action or a missing comment,
    :class:`PermissionDenied` when the actor's role may not take the action and
    :class:`ConflictError` when the plan's state does not allow it.
    """
    rule = ACTIONS.get(action)
    if rule is None:
        raise InputError(f"unknown plan action {action!r}; expected one of {', '.join(ACTIONS)}")
    if actor.role not in rule.roles:
        raise PermissionDenied(
            f"{action}: a {actor.role} may not {action} a plan "
            f"(allowed: {', '.join(sorted(rule.roles))})"
        )
    if status not in rule.sources:
        raise ConflictError(
            f"{action}: the plan is {status}; it must be {' or '.join(sorted(rule.sources))}"
        )
    if rule.needs_comment and not (comment and comment.strip()):
        raise InputError(f"{action}: a comment is required")
    return rule.target


def check_edit(status: str, actor: Actor, reason: str | None) -> None:
    """Items may change only in draft, by a coordinator or admin, with a reason."""
    if actor.role not in EDITORS:
        raise PermissionDenied(f"a {actor.role} may not edit plan items")
    if status not in EDITABLE:
        raise ConflictError(f"the plan is {status}; items can be edited only in draft")
    if not (reason and reason.strip()):
        raise InputError("an edit needs a reason")
