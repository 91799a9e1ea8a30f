"""A dashboard site with real drift history, a real server, and a real headless Chromium.

The site, built once per test run on SQLite (tests add users, never anything it shows): the
default models in production, two clients and one user per role; three weeks of daily batches
scored by the real batch path, each day's rows dated that day (``dataProcessamento``), then the
real drift run (``detect_drift``) for every day. Client "Loja Teste" sends CARTAO customers
drawn like the training population (stable) and EMPRESTIMO customers whose relationships turn
much shorter, with many more late payments, in the last eight days (the synthetic generator's
shift: action); the other client, whose name is full of HTML, sends a few CREDIARIO customers
(too few to judge: insufficient sample). One Chromium per module, a fresh context per test.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import polars as pl
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, sync_playwright
from sqlalchemy import Engine, update

from credguard.accounts import service as accounts
from credguard.accounts.tables import Role
from credguard.batches.tables import BatchJob, CustomerScore
from credguard.config import Settings
from credguard.db import engine as db_engine
from credguard.db.base import utcnow
from credguard.db.engine import session_scope
from credguard.drift import service as drift
from credguard.ml import registry
from credguard.ml.artifact import ModelArtifact
from credguard.synth import generator
from tests import factories
from tests.api.conftest import PASSWORD, People, http, people, running_server, server  # noqa: F401
from tests.conftest import PRODUCTS

CHROMIUM = Path("/usr/bin/chromium")
#: The flags this machine needs (no sandbox as root, nothing fetched from the network).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
#: A deliberately large shift (relationships a quarter as long, four times the late payments),
#: so the PSI trend crosses both of the runbook's lines as the shifted days fill the window.
SHIFT = generator.Shift(relationship_factor=0.25, late_payments_factor=4.0)
HISTORY_DAYS = 21
SHIFTED_DAYS = 8
#: The other client's name: every character HTML cares about.
OTHER_CLIENT = "Outra <Loja> & \"Cia\" 'Ltda'"


@dataclass
class Site:
    url: str
    engine: Engine
    settings: Settings
    today: date
    client_id: int
    other_client_id: int
    emails: dict[str, str] = field(default_factory=dict)  #: role key → e-mail


def _day_file(folder: Path, day: date, index: int) -> Path:
    """One day's file of Loja Teste: stable CARTAO, EMPRESTIMO shifted in the last days."""
    shifted = index >= HISTORY_DAYS - SHIFTED_DAYS
    parts = [
        generator.generate(
            250, seed=1_000 + index, products=["CARTAO"], reference_date=day, dirty_share=0.01
        ),
        generator.generate(
            1_000 if shifted else 250,
            seed=2_000 + index,
            products=["EMPRESTIMO"],
            reference_date=day,
            dirty_share=0.0,
            shift=SHIFT if shifted else None,
        ),
    ]
    return factories.write_file(pl.concat(parts), folder / f"loja-{day}.csv")


def _process_as_of(
    engine: Engine, settings: Settings, path: Path, client_id: int, day: date
) -> None:
    """Score ``path`` through the real batch path, then date its rows ``day`` (noon UTC)."""
    job = factories.process(engine, settings, factories.submit(engine, settings, path, client_id))
    assert job.status == "completed", job.error
    moment = datetime.combine(day, time(12))
    with session_scope(engine) as session:
        session.execute(
            update(CustomerScore)
            .where(CustomerScore.batch_job_id == job.id)
            .values(data_processamento=moment, created_at=moment)
        )
        session.execute(update(BatchJob).where(BatchJob.id == job.id).values(created_at=moment))


def build_site(
    folder: Path, template: Path, models: dict[str, Path]
) -> tuple[Engine, Settings, Site]:
    database = folder / "credguard.db"
    shutil.copyfile(template, database)
    engine = db_engine.create(f"sqlite:///{database}")
    settings = Settings(
        data_dir=folder / "data",
        database_url=f"sqlite:///{database}",
        products=PRODUCTS,
        chunk_size=1_000,
        mlflow_tracking_uri="off",
        drift_schedule=False,
    )
    today = utcnow().date()
    with session_scope(engine) as session:
        for product, path in models.items():
            record = registry.register(session, ModelArtifact.load(path), settings.models_dir)
            registry.set_production(session, product, record)
        loja = accounts.create_client(session, "Loja Teste", support_plan=True)
        other = accounts.create_client(session, OTHER_CLIENT)
        users = {
            "analyst": ("ana@loja.test", Role.ANALYST, loja.id),
            "other_analyst": ("otto@outra.test", Role.ANALYST, other.id),
            "operator": ("op@credguard.test", Role.OPERATOR, None),
            "admin": ("adm@credguard.test", Role.ADMIN, None),
        }
        for key, (email, role, client) in users.items():
            accounts.create_user(
                session, email=email, name=key, password=PASSWORD, role=role, client_id=client
            )
        loja_id, other_id = loja.id, other.id
    days = [today - timedelta(days=HISTORY_DAYS - 1 - i) for i in range(HISTORY_DAYS)]
    for index, day in enumerate(days):
        _process_as_of(engine, settings, _day_file(folder, day, index), loja_id, day)
    few = generator.generate(
        150, seed=3_000, products=["CREDIARIO"], reference_date=today, dirty_share=0.0
    )
    _process_as_of(
        engine, settings, factories.write_file(few, folder / "outra.csv"), other_id, today
    )
    for day in days:  # what the daily timer would have stored, day after day
        drift.detect_drift(engine, settings, day=day)
    site = Site(
        "",
        engine,
        settings,
        today,
        loja_id,
        other_id,
        {key: email for key, (email, _, _) in users.items()},
    )
    return engine, settings, site


@pytest.fixture(scope="session")
def site(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, default_models: dict[str, Path]
) -> Iterator[Site]:
    """The drift history above, served by a real server; its URL, users and clients."""
    engine, settings, built = build_site(
        tmp_path_factory.mktemp("site"), sqlite_template, default_models
    )
    with running_server(settings, worker=False) as url:
        built.url = url
        yield built
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright (one per module)."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: scripts/test.sh installs Debian's chromium package "
            "(apt-get install chromium)"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@dataclass
class Tab:
    """A page in a fresh browser context, with every request and console error it saw."""

    page: Page
    base: str
    requests: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  #: (message, URL)
    #: URLs the test expects an error status from (Chromium logs those as console errors).
    refused: set[str] = field(default_factory=set)

    def goto(self, path: str, *, refused: bool = False) -> int:
        if refused:
            self.refused.add(self.base + path)
        response = self.page.goto(self.base + path)
        assert response is not None
        return response.status

    def log_in(self, email: str, password: str = PASSWORD) -> None:
        self.page.fill("#email", email)
        self.page.fill("#password", password)
        self.page.click("button[type=submit]")

    def assert_clean(self) -> None:
        """No console error, no request to anything but the test server."""
        unexpected = [
            message
            for message, url in self.errors
            if not (url in self.refused and message.startswith("Failed to load resource"))
        ]
        assert unexpected == []
        elsewhere = [url for url in self.requests if not url.startswith(self.base + "/")]
        assert elsewhere == []


@pytest.fixture
def tab(browser: Browser, site: Site) -> Iterator[Tab]:
    context = browser.new_context(
        locale="pt-BR", timezone_id="America/Sao_Paulo", viewport={"width": 1366, "height": 900}
    )
    page = context.new_page()
    opened = Tab(page, site.url)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            opened.errors.append((message.text, message.location.get("url", "")))

    def on_request(request: Request) -> None:
        opened.requests.append(request.url)

    page.on("console", on_console)
    page.on("pageerror", lambda error: opened.errors.append((str(error), "")))
    context.on("request", on_request)
    yield opened
    context.close()
