"""``credguard drift …``: compute a day's drift (the systemd timer runs this daily) and show it."""

from __future__ import annotations

from datetime import date, timedelta

import typer
from rich.markup import escape
from rich.table import Table

from credguard.cli import context
from credguard.db.engine import session_scope
from credguard.errors import InvalidInput, NotFound

app = typer.Typer(help="Drift monitoring: compute and show (runbook 2.3).", no_args_is_help=True)

_COLOURS = {"stable": "green", "attention": "yellow", "action": "red"}
_ORDER = ("action", "attention", "stable", "insufficient_sample")


def _day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"--date must be a day like 2026-11-27, not {text!r}") from None


def _product(text: str | None) -> str | None:
    if text is None:
        return None
    product = text.strip().upper()
    configured = context.settings().products
    if product not in configured:
        raise InvalidInput(f"unknown product {product}; configured: {', '.join(configured)}")
    return product


def _status(value: str) -> str:
    colour = _COLOURS.get(value)
    return f"[{colour}]{value}[/{colour}]" if colour else value


@app.command("run")
def run_command(
    day: str | None = typer.Option(
        None, "--date", help="Day to compute (UTC, YYYY-MM-DD; default today); the window ends it."
    ),
    product: str | None = typer.Option(None, "--product", help="Only this product."),
) -> None:
    """Compute and store drift per product × client for a day (re-running replaces that day)."""
    from credguard.drift import service

    settings = context.settings()
    chosen = _product(product)
    with context.console.status("computing drift"):
        report = service.detect_drift(
            context.engine(),
            settings,
            day=_day(day),
            products=[chosen] if chosen else None,
        )
    context.console.print(
        f"drift of {report.day} (window {report.window_start:%Y-%m-%d} to "
        f"{report.window_end:%Y-%m-%d}, end exclusive): {len(report.result_ids)} result(s) stored"
    )
    table = Table("product", "model", "customers", "all clients", "clients", "seconds")
    for run in report.products:
        if run.skipped is not None:
            table.add_row(run.product, "-", "-", f"skipped: {run.skipped}", "-", "-")
            continue
        per_client = [status for scope, status in run.statuses.items() if scope != "all"]
        counts = ", ".join(f"{per_client.count(s)} {s}" for s in _ORDER if per_client.count(s))
        table.add_row(
            run.product,
            escape(run.model or "-"),
            f"{run.rows:,}",
            _status(run.statuses.get("all", "-")),
            counts or "none",
            f"{sum(run.seconds.values()):.2f}",
        )
    context.console.print(table)
    failed = [run for run in report.products if run.failed]
    for run in failed:
        context.err_console.print(
            f"[red]error:[/red] {run.product} not computed: {escape(run.skipped or '')}",
            highlight=False,
        )
    if failed:
        raise typer.Exit(1)


@app.command("show")
def show_command(
    product: str | None = typer.Option(None, "--product", help="Only this product."),
    client: str | None = typer.Option(None, "--client", help="Only this client (id or name)."),
    history: int = typer.Option(
        0, "--history", min=0, max=366, help="Also the previous N days (default: latest only)."
    ),
) -> None:
    """The latest drift result per product × scope (or a client's history with --history)."""
    from credguard.accounts import service as accounts
    from credguard.drift import service

    chosen = _product(product)
    with session_scope(context.engine()) as session:
        client_id = None
        if client is not None:
            value = client.strip()
            found = (
                accounts.get_client(session, int(value))
                if value.isascii() and value.isdigit()
                else accounts.get_client_by_name(session, value)
            )
            if found is None:
                raise NotFound(
                    f"client {value!r} does not exist; `credguard clients list` shows them"
                )
            client_id = found.id
        if history:
            newest = service.latest(session, product=chosen, client_id=client_id)
            last = max((view.result.dia for view in newest), default=None)
            views = (
                service.list_results(
                    session,
                    product=chosen,
                    client_id=client_id,
                    since=last - timedelta(days=history),
                )
                if last
                else []
            )
        else:
            views = service.latest(session, product=chosen, client_id=client_id)
    if not views:
        context.console.print("no drift results yet; `credguard drift run` computes them")
        return
    table = Table("day", "product", "scope", "customers", "score PSI", "features", "performance",
                  "status")  # fmt: skip
    for view in views:
        r = view.result
        parts = r.parts()
        features = parts["featureDrift"] or {}
        flagged, worst_pct = features.get("flagged") or [], features.get("maxDriftPct")
        judged_on = (parts["performance"] or {}).get("judgedOn")
        scope = "all clients" if r.client_id is None else f"{view.client_name} ({r.client_id})"
        table.add_row(
            f"{r.dia}",
            r.produto,
            escape(scope),
            f"{r.n_current:,}",
            _status(r.psi_status)
            + ("" if r.psi is None else f" {r.psi:.4f} (noise < {r.psi_critical or 0:.4f})"),
            _status(r.feature_status)
            + (f": {', '.join(flagged)}" if flagged else "")
            + ("" if worst_pct is None else f" (max {worst_pct:.1f} %)"),
            _status(r.performance_status) + (f" ({judged_on})" if judged_on else ""),
            _status(r.status),
        )
    context.console.print(table)
