"""The plan life cycle: every action from every state by every role."""

from __future__ import annotations

import pytest

from health_advisor.errors import ConflictError, InputError, PermissionDenied
from health_advisor.plans.workflow import ACTIONS, ROLES, STATES, Actor, check_edit, next_state

LEGAL = {
    ("draft", "submit"): "in_review",
    ("in_review", "approve"): "approved",
    ("in_review", "reject"): "draft",
    ("approved", "activate"): "active",
    ("active", "complete"): "completed",
    ("draft", "supersede"): "superseded",
    ("in_review", "supersede"): "superseded",
    ("approved", "supersede"): "superseded",
    ("active", "supersede"): "superseded",
}


@pytest.mark.parametrize("status", STATES)
@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("role", ROLES)
def test_only_legal_transitions_by_allowed_roles(status: str, action: str, role: str) -> None:
    actor = Actor("someone", role)
    allowed = role in ACTIONS[action].roles
    if not allowed:
        with pytest.raises(PermissionDenied):
            next_state(status, action, actor, "a comment")
    elif (status, action) in LEGAL:
        assert next_state(status, action, actor, "a comment") == LEGAL[(status, action)]
    else:
        with pytest.raises(ConflictError):
            next_state(status, action, actor, "a comment")


def test_only_a_professional_approves_and_a_rejection_needs_a_comment() -> None:
    assert ACTIONS["approve"].roles == {"professional"}
    doc = Actor("doc", "professional")
    with pytest.raises(InputError, match="comment"):
        next_state("in_review", "reject", doc, "  ")
    with pytest.raises(InputError, match="unknown plan action"):
        next_state("draft", "publish", doc)


def test_edits_only_in_draft_by_editors_with_a_reason() -> None:
    check_edit("draft", Actor("c", "coordinator"), "client prefers swimming")
    with pytest.raises(PermissionDenied):
        check_edit("draft", Actor("d", "professional"), "x")
    with pytest.raises(ConflictError):
        check_edit("in_review", Actor("c", "coordinator"), "x")
    with pytest.raises(InputError):
        check_edit("draft", Actor("c", "coordinator"), "")
    with pytest.raises(InputError):
        Actor("x", "nurse")
