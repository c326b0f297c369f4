"""``health-advisor plan …`` and ``health-advisor checkin …`` (registered by :mod:`.cli`).

Who acts is named with ``--by USER`` (a user of the store, see ``users add``); without
it the operator acts as ``cli:<os user>`` with the admin role, which may generate and
edit plans but, by design, not approve them: only a professional approves.
"""

from __future__ import annotations

import datetime as dt
import getpass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from health_advisor.cli import JsonFlag, emit_json, engine, err, out, settings
from health_advisor.errors import InputError, NotFoundError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from health_advisor.core.catalog import Catalog
    from health_advisor.plans.workflow import Actor
    from health_advisor.store.models import Plan

plan_app = typer.Typer(help="Health plans: generate, review, approve, track.", no_args_is_help=True)
item_app = typer.Typer(help="Edit a draft plan's items.", no_args_is_help=True)
checkin_app = typer.Typer(help="Weekly check-ins on an active plan.", no_args_is_help=True)
plan_app.add_typer(item_app, name="item")

FORMATS = ("text", "json", "html", "pdf", "fhir")
Lang = Annotated[str, typer.Option("--lang", help="es (default) or en.")]
Format = Annotated[str, typer.Option("--format", help="text, json, html, pdf or fhir.")]
OutFile = Annotated[
    Path | None, typer.Option("--out", help="Write the document here (needed for pdf).")
]
By = Annotated[str | None, typer.Option("--by", help="The acting user (see `users add`).")]
Reason = Annotated[str, typer.Option("--reason", help="Why (kept in the plan's history).")]
Comment = Annotated[str | None, typer.Option("--comment", help="A comment for the record.")]
Audience = Annotated[
    str, typer.Option("--audience", help="client or professional (shows the safety detail).")
]


def actor(session: Session, by: str | None) -> Actor:
    """The acting user, or the operator (admin role) when ``--by`` is not given."""
    from sqlalchemy import select

    from health_advisor.plans.workflow import Actor
    from health_advisor.store.models import User

    if by is None:
        return Actor(f"cli:{getpass.getuser()}", "admin")
    user = session.scalar(select(User).where(User.username == by))
    if user is None or not user.active:
        raise NotFoundError(f"user {by!r} not found or inactive (add one with `users add`)")
    return Actor(user.username, user.role)


def _catalog() -> Catalog:
    from health_advisor.catalog import load_catalog

    return load_catalog()


def _check(lang: str, fmt: str, out_file: Path | None) -> None:
    if lang not in ("es", "en"):
        raise InputError(f"--lang must be es or en, got {lang!r}")
    if fmt not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "pdf" and out_file is None:
        raise InputError("--format pdf needs --out FILE")


def _emit(
    session: Session, plan: Plan, fmt: str, lang: str, out_file: Path | None, audience: str
) -> None:
    """Print or write the plan in one of :data:`FORMATS`."""
    import json

    from health_advisor.plans import service

    catalog = _catalog()
    if fmt in ("text", "json"):
        document = service.plan_json(session, plan, catalog=catalog, lang=lang)
        if fmt == "json":
            _write_text(json.dumps(document, indent=2, ensure_ascii=False), out_file)
        else:
            _print_plan(document)
        return
    doc = service.plan_document(session, plan)
    if fmt == "fhir":
        from health_advisor.plans.fhir import to_fhir_bundle

        bundle = to_fhir_bundle(doc, catalog, lang=lang)
        _write_text(json.dumps(bundle, indent=2, ensure_ascii=False), out_file)
    elif fmt == "html":
        from health_advisor.plans.render import render_html

        _write_text(render_html(doc, lang, catalog, audience=audience), out_file)
    else:
        from health_advisor.plans.render import render_pdf

        assert out_file is not None
        out_file.write_bytes(render_pdf(doc, lang, catalog, audience=audience))
        err.print(f"wrote {out_file}", highlight=False)


def _write_text(text: str, out_file: Path | None) -> None:
    if out_file is None:
        typer.echo(text)
    else:
        out_file.write_text(text + "\n", encoding="utf-8")
        err.print(f"wrote {out_file}", highlight=False)


def _print_plan(doc: dict[str, Any]) -> None:
    model = f"model v{doc['model_version']}" if doc["model_version"] else "guideline rules only"
    out.print(
        f"[bold]Plan {doc['plan_id']}[/] for {doc['client_id']} (version {doc['version']}, "
        f"{doc['status']}, {model}, {doc['weekly_minutes']} min/week)"
    )
    if doc["fallback"]:
        out.print(f"ranked without a model: {doc['fallback']}")
    table = Table("item", "domain", "adherence", "score", "target", "why")
    for item in doc["items"]:
        table.add_row(
            item["title"],
            item["domain"],
            f"{item['predicted_adherence']:.0%}",
            f"{item['score']:.3f}",
            item["target"]["text"],
            "; ".join(r["text"] for r in item["reasons"][:3]),
        )
    out.print(table)
    if doc["excluded"]:
        out.print(
            f"{len(doc['excluded'])} items excluded by hard rules: "
            + ", ".join(f"{e['intervention_id']} ({e['rule']})" for e in doc["excluded"][:8])
            + (" …" if len(doc["excluded"]) > 8 else "")
        )


# --------------------------------------------------------------------------- plan


@plan_app.command("generate")
def plan_generate(
    client: Annotated[str, typer.Argument(help="The client's id as the source gave it.")],
    lang: Lang = "es",
    fmt: Format = "text",
    out_file: OutFile = None,
    by: By = None,
    rules_only: Annotated[
        bool, typer.Option("--rules-only", help="Ignore the model; rank by guideline rules.")
    ] = False,
    audience: Audience = "professional",
    json_out: JsonFlag = False,
) -> None:
    """Compose a plan for CLIENT and store it as a new draft version."""
    from health_advisor.plans import service
    from health_advisor.plans.scoring import load_champion
    from health_advisor.store.session import session_scope

    fmt = "json" if json_out else fmt
    _check(lang, fmt, out_file)
    model, fallback = (None, "rules_requested") if rules_only else load_champion(settings())
    with session_scope(engine()) as session:
        plan = service.generate(
            session,
            client,
            actor(session, by),
            catalog=_catalog(),
            model=model,
            fallback=fallback,
        )
        _emit(session, plan, fmt, lang, out_file, audience)


@plan_app.command("list")
def plan_list(
    client: Annotated[str | None, typer.Option("--client", help="Only this client.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="Only this status.")] = None,
    json_out: JsonFlag = False,
) -> None:
    """Plans, newest first."""
    from health_advisor.plans import service
    from health_advisor.store.session import session_scope

    with session_scope(engine()) as session:
        rows: list[dict[str, Any]] = [
            {
                "plan_id": plan.id,
                "client_id": ext,
                "version": plan.version,
                "status": plan.status,
                "items": len(plan.items),
                "model_version": plan.model_version,
                "created_by": plan.created_by,
                "created_at": plan.created_at.isoformat(),
                "reviewed_by": plan.reviewed_by,
            }
            for plan, ext in service.list_plans(session, client_id=client, status=status)
        ]
    if json_out:
        emit_json(rows)
        return
    table = Table("plan", "client", "version", "status", "items", "model", "created")
    for r in rows:
        table.add_row(
            str(r["plan_id"]),
            r["client_id"],
            str(r["version"]),
            r["status"],
            str(r["items"]),
            str(r["model_version"] or "rules"),
            r["created_at"][:16],
        )
    out.print(table)


@plan_app.command("show")
def plan_show(
    plan_id: Annotated[int, typer.Argument(help="The plan's id (see `plan list`).")],
    lang: Lang = "es",
    fmt: Format = "text",
    out_file: OutFile = None,
    audience: Audience = "professional",
    json_out: JsonFlag = False,
) -> None:
    """One plan: items, targets, reasons and exclusions, in any format."""
    from health_advisor.plans import service
    from health_advisor.store.session import session_scope

    fmt = "json" if json_out else fmt
    _check(lang, fmt, out_file)
    with session_scope(engine()) as session:
        _emit(session, service.get_plan(session, plan_id), fmt, lang, out_file, audience)


def _transition(plan_id: int, action: str, by: str | None, comment: str | None) -> None:
    from health_advisor.plans import service
    from health_advisor.store.session import session_scope

    with session_scope(engine()) as session:
        plan = service.transition(session, plan_id, action, actor(session, by), comment=comment)
        status = plan.status
    out.print(f"plan {plan_id}: {action} -> {status}")


@plan_app.command("submit")
def plan_submit(plan_id: int, by: By = None, comment: Comment = None) -> None:
    """Send a draft to a professional for review."""
    _transition(plan_id, "submit", by, comment)


@plan_app.command("approve")
def plan_approve(plan_id: int, by: By = None, comment: Comment = None) -> None:
    """Approve a plan in review (a professional, named with --by)."""
    _transition(plan_id, "approve", by, comment)


@plan_app.command("reject")
def plan_reject(plan_id: int, by: By = None, comment: Comment = None) -> None:
    """Send a plan in review back to draft with a comment (a professional)."""
    _transition(plan_id, "reject", by, comment)


@plan_app.command("activate")
def plan_activate(plan_id: int, by: By = None) -> None:
    """Start an approved plan (the client's previous active plan is superseded)."""
    _transition(plan_id, "activate", by, None)


@plan_app.command("complete")
def plan_complete(plan_id: int, by: By = None, comment: Comment = None) -> None:
    """Close an active plan."""
    _transition(plan_id, "complete", by, comment)


@plan_app.command("events")
def plan_events(plan_id: int, json_out: JsonFlag = False) -> None:
    """The plan's history: every transition and edit with its author and time."""
    from health_advisor.plans import service
    from health_advisor.store.session import session_scope

    with session_scope(engine()) as session:
        service.get_plan(session, plan_id)
        rows: list[dict[str, Any]] = [
            {
                "at": e.at.isoformat(),
                "actor": e.actor,
                "role": e.detail.get("role"),
                "action": e.action,
                "from": e.from_status,
                "to": e.to_status,
                "comment": e.comment,
                "detail": {k: v for k, v in e.detail.items() if k != "role"},
            }
            for e in service.plan_events(session, plan_id)
        ]
    if json_out:
        emit_json(rows)
        return
    table = Table("at", "actor", "action", "from", "to", "comment")
    for r in rows:
        table.add_row(
            r["at"][:19],
            r["actor"],
            r["action"],
            r["from"] or "",
            r["to"] or "",
            r["comment"] or "",
        )
    out.print(table)


@plan_app.command("outcomes")
def plan_outcomes(plan_id: int, json_out: JsonFlag = False) -> None:
    """Each target's metric since the plan started, and whether it is on track."""
    from health_advisor.plans import service
    from health_advisor.store.session import session_scope

    with session_scope(engine()) as session:
        rows = service.outcomes(session, plan_id)
    if json_out:
        emit_json(rows)
        return
    table = Table("item", "metric", "baseline", "current", "target", "on track", "check-ins")
    for r in rows:
        on_track = r["on_track"]
        table.add_row(
            r["intervention_id"],
            r["metric"] or "adherence",
            _num(r["baseline"]),
            _num(r["current"] if r["basis"] == "metric" else r["mean_adherence"]),
            _num(r["target_value"]),
            "—" if on_track is None else ("yes" if on_track else "no"),
            str(r["checkins"]),
        )
    out.print(table)


def _num(value: Any) -> str:
    return "—" if value is None else f"{value:,.1f}"


# --------------------------------------------------------------------------- items


def _edit(action: str, plan_id: int, by: str | None, **kwargs: Any) -> None:
    from health_advisor.plans import service
    from health_advisor.store.session import session_scope

    with session_scope(engine()) as session:
        who = actor(session, by)
        if action == "add":
            service.add_item(
                session, plan_id, kwargs["item"], who, reason=kwargs["reason"], catalog=_catalog()
            )
        elif action == "remove":
            service.remove_item(session, plan_id, kwargs["item"], who, reason=kwargs["reason"])
        else:
            service.swap_item(
                session,
                plan_id,
                kwargs["old"],
                kwargs["new"],
                who,
                reason=kwargs["reason"],
                catalog=_catalog(),
            )
    out.print(f"plan {plan_id}: item {action} done")


@item_app.command("add")
def item_add(plan_id: int, intervention: str, reason: Reason, by: By = None) -> None:
    """Add a catalog intervention to a draft (hard rules still apply)."""
    _edit("add", plan_id, by, item=intervention, reason=reason)


@item_app.command("remove")
def item_remove(plan_id: int, intervention: str, reason: Reason, by: By = None) -> None:
    """Remove an item from a draft (mandatory items stay)."""
    _edit("remove", plan_id, by, item=intervention, reason=reason)


@item_app.command("swap")
def item_swap(plan_id: int, old: str, new: str, reason: Reason, by: By = None) -> None:
    """Replace one item of a draft by another."""
    _edit("swap", plan_id, by, old=old, new=new, reason=reason)


# --------------------------------------------------------------------------- check-ins


@checkin_app.command("add")
def checkin_add(
    client: Annotated[str, typer.Argument(help="The client's id.")],
    intervention: Annotated[str, typer.Argument(help="An item of the client's active plan.")],
    adherence: Annotated[float, typer.Option("--adherence", help="Adherence that week, 0-100 %.")],
    week: Annotated[
        str | None,
        typer.Option("--week", help="A day of the week (YYYY-MM-DD); default: this week."),
    ] = None,
    rating: Annotated[int | None, typer.Option("--rating", help="1-5.")] = None,
    side_effects: Annotated[str | None, typer.Option("--side-effects")] = None,
    note: Annotated[str | None, typer.Option("--note")] = None,
    by: By = None,
    json_out: JsonFlag = False,
) -> None:
    """Record a weekly check-in; it becomes interactions for the next training run."""
    from dataclasses import asdict

    from health_advisor.plans import service
    from health_advisor.store.session import session_scope

    try:
        day = dt.date.fromisoformat(week) if week else dt.datetime.now(dt.UTC).date()
    except ValueError:
        raise InputError(f"--week: expected a date YYYY-MM-DD, got {week!r}") from None
    with session_scope(engine()) as session:
        result = service.add_checkin(
            session,
            client,
            intervention,
            actor(session, by),
            week=day,
            adherence_pct=adherence,
            rating=rating,
            side_effects=side_effects,
            note=note,
        )
    if json_out:
        emit_json(asdict(result))
        return
    verb = "corrected" if result.updated else "recorded"
    out.print(
        f"check-in {verb}: {client} {intervention} week of {result.week_start} "
        f"{result.adherence_pct:.0f} % -> {result.interactions} interaction(s)"
    )
