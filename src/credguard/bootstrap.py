"""``credguard init``: schema, bootstrap admin, demo client and a default model per product.

Idempotent: each step does only what is missing, so running it again changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Engine

from credguard.accounts import service as accounts
from credguard.config import Settings
from credguard.db import migrate
from credguard.db.base import utcnow
from credguard.db.engine import session_scope
from credguard.ml import registry, training

#: Seed of the synthetic customers the default models learn from (fixed: reproducible models).
DEFAULT_MODEL_SEED = 20_251_101


@dataclass
class InitReport:
    admin_email: str
    admin_password: str | None
    client_id: int
    trained: dict[str, dict[str, float]] = field(default_factory=dict)


def initialise(
    engine: Engine, settings: Settings, on_step: Callable[[str], None] = lambda _: None
) -> InitReport:
    """Bring a fresh or existing installation to a usable state."""
    on_step("migrating the database schema")
    migrate.upgrade(engine)
    with session_scope(engine) as session:
        password = accounts.ensure_bootstrap_admin(session, settings.admin_email)
        client = accounts.get_or_create_client(session, settings.demo_client)
        report = InitReport(settings.admin_email, password, client.id)
        production = registry.production_models(session)
    missing = [product for product in settings.products if product not in production]
    for product in missing:
        on_step(f"training the default model for {product}")
        with session_scope(engine) as session:
            version = registry.next_version(session, training.default_model_name(product))
        (artifact,) = training.train_default_models(
            [product],
            rows_per_product=settings.training_rows,
            seed=DEFAULT_MODEL_SEED,
            reference_date=training_reference_date(),
            threads=settings.worker_threads,
            version=version,
        )
        with session_scope(engine) as session:
            record = registry.register(session, artifact, settings.models_dir)
            registry.set_production(session, product, record)
        report.trained[product] = {
            k: float(v) for k, v in artifact.metrics.items() if isinstance(v, int | float)
        }
    return report


def training_reference_date() -> date:
    return utcnow().date()
