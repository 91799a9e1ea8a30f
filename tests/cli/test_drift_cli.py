"""``credguard drift run|show`` through the entry point: a shifted batch is "action", one like the
training data "stable"; the action shows in ``credguard models due``."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select

from credguard.accounts import service as accounts
from credguard.config import Settings
from credguard.db.engine import session_scope
from credguard.drift.tables import DriftResult
from tests import factories
from tests.cli.test_cli import credguard


def test_a_shifted_batch_is_action_and_a_usual_one_stable(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path
) -> None:
    with session_scope(engine) as session:
        shifted = accounts.create_client(session, "Loja [red]Nova[/red]").id
    usual_file, shifted_file = tmp_path / "usual.csv", tmp_path / "shifted.csv"
    env = {"CREDGUARD_PRODUCTS": "CARTAO"}
    credguard(settings, "synth", "--rows", "3000", "--seed", "5", "-o", str(usual_file), env=env)
    credguard(
        settings, "synth", "--rows", "3000", "--seed", "6", "-o", str(shifted_file),
        "--relationships", "0.5", env=env,
    )  # fmt: skip
    for path, client in ((usual_file, client_id), (shifted_file, shifted)):
        factories.process(engine, settings, factories.submit(engine, settings, path, client))

    run = credguard(settings, "drift", "run")
    assert "CARTAO" in run.stdout and "1 action, 1 stable" in run.stdout
    assert "skipped" not in run.stdout
    with session_scope(engine) as session:
        statuses = {r.scope: r.status for r in session.scalars(select(DriftResult))}
    assert statuses[f"client:{client_id}"] == "stable"
    assert statuses[f"client:{shifted}"] == "action"

    shown = credguard(settings, "drift", "show", "--product", "cartao")
    assert "Loja [red]Nova[/red]" in shown.stdout  # a client's name is printed as written
    assert "relationship_days" in shown.stdout and "action" in shown.stdout
    mine = credguard(settings, "drift", "show", "--client", "Loja Teste").stdout
    assert "Loja Teste" in mine and "Nova" not in mine
    due = credguard(settings, "models", "due")
    assert "drift" in due.stdout and f"client {shifted}" in due.stdout

    again = credguard(settings, "drift", "run", "--date", "2020-01-31", "--product", "emprestimo")
    assert "EMPRESTIMO" in again.stdout and "insufficient_sample" in again.stdout
    wrong = credguard(settings, "drift", "run", "--product", "SEGURO", check=False)
    assert wrong.returncode == 1 and "unknown product SEGURO" in wrong.stderr
    assert "Traceback" not in wrong.stderr
