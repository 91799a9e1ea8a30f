"""Settings: one typed object read from ``CREDGUARD_*`` environment variables.

Every variable is listed, with its default, in the README's configuration table. Nothing is read
at import time: call :func:`get_settings` (cached) where a setting is needed.
"""

from __future__ import annotations

import re
from datetime import time
from functools import lru_cache
from ipaddress import ip_network
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from credguard.errors import ConfigurationError

_PRODUCT_CODE = re.compile(r"[A-Z0-9_]{1,40}")

#: Default score cut-offs (lower bounds of bands A, B, C, D; anything lower is E). On the default
#: models' synthetic customers they give bands of about 42/23/11/10/11 % of customers with
#: observed default rates near 3, 8, 14, 20 and 41 %: each band clearly riskier than the last.
DEFAULT_CUTOFFS: tuple[int, int, int, int] = (950, 900, 850, 750)

#: Incident severities of the runbook's section 6.1 (P1 critical … P4 low).
Severity = Literal["P1", "P2", "P3", "P4"]


def _default_severities() -> dict[str, Severity]:
    return {"drift": "P3"}


class Settings(BaseSettings):
    """CredGuard's configuration."""

    model_config = SettingsConfigDict(env_prefix="CREDGUARD_", extra="ignore")

    data_dir: Path = Field(
        Path("credguard-data"), description="Where SQLite, uploads and models live."
    )
    database_url: str = Field("", description="SQLAlchemy URL; empty means SQLite in data_dir.")
    products: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["CARTAO", "EMPRESTIMO", "CREDIARIO"],
        description="Product codes accepted in the `produto` column (comma-separated).",
    )
    band_cutoffs: dict[str, list[int]] = Field(
        default_factory=dict,
        description="Per product, the lowest score of bands A, B, C, D (JSON).",
    )
    worker_threads: int = Field(2, ge=1, description="Threads LightGBM uses to train models.")
    promotion_auc_tolerance: float = Field(
        0.01,
        ge=0,
        le=1,
        description="A candidate's hold-out AUC may be this much below production's.",
    )
    promotion_ks_tolerance: float = Field(
        0.02,
        ge=0,
        le=1,
        description="A candidate's hold-out KS may be this much below production's.",
    )
    promotion_calibration_tolerance: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Largest gap between predicted and observed default rate in a band (100+ customers).",
    )
    mlflow_tracking_uri: str = Field(
        "embedded",
        description="MLflow registry mirror: `embedded` (SQLite under data_dir/mlflow), a tracking"
        " server URL (http://…), or `off`.",
    )
    chunk_size: int = Field(100_000, ge=100, description="Rows per committed chunk of a batch job.")
    lease_timeout_seconds: float = Field(
        60.0, gt=0, description="A job whose heartbeat is older than this is taken over."
    )
    poll_interval_seconds: float = Field(1.0, gt=0, description="Idle worker's polling interval.")
    max_attempts: int = Field(3, ge=1, description="Claims of one job before it is failed.")
    admin_email: str = Field(
        "admin@credguard.local", description="Bootstrap admin created by init."
    )
    demo_client: str = Field("Loja Demo", description="Demo client company created by init.")
    training_rows: int = Field(
        60_000, ge=2_000, description="Synthetic customers per product for the default models."
    )
    log_level: str = Field("INFO", description="Application log level.")
    environment: Literal["development", "production"] = Field(
        "development", description="`production` refuses to start without an explicit secret."
    )
    secret_key: SecretStr = Field(
        SecretStr(""),
        description="Signs access tokens; empty in development means a key kept in data_dir.",
    )
    pseudonym_key: SecretStr = Field(
        SecretStr(""),
        description="Keys the CPF hashes of the outcomes training store; empty in development"
        " means a key kept in data_dir. A new key stops new outcomes matching older ones.",
    )
    outcome_retention_days: int = Field(
        1825,
        ge=1,
        le=36_500,
        description="Observed outcomes are purged this many days after their dataReferencia.",
    )
    drift_window_days: int = Field(
        30, ge=1, le=366, description="Days of scores (by dataProcessamento) a drift result judges."
    )
    drift_min_sample: int = Field(
        500,
        ge=1,
        description="Fewer customers (or outcomes) than this: `insufficient_sample`, not an alarm.",
    )
    drift_feature_threshold_pct: float = Field(
        20.0, gt=0, le=100, description="A feature whose drift exceeds this percentage is flagged."
    )
    drift_performance_drop: float = Field(
        0.05,
        gt=0,
        lt=1,
        description="Relative drop of AUC or accuracy at the cut-off from the model's baseline"
        " that needs action (0.05: 5 %).",
    )
    drift_cutoff_band: Literal["B", "C", "D", "E"] = Field(
        "D", description="Customers in this band or riskier count as predicted to default."
    )
    drift_run_at: str = Field(
        "09:00",
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="UTC time (HH:MM) of the daily drift run of `credguard serve`'s scheduler.",
    )
    drift_schedule: bool = Field(
        True,
        description="`credguard serve` (with its worker) runs drift daily, and at start-up when"
        " today's run is missing after its time; false where the systemd timer runs it.",
    )
    access_token_minutes: int = Field(30, ge=1, le=24 * 60, description="Access token lifetime.")
    upload_max_bytes: int = Field(
        500 * 1024 * 1024, ge=1024, description="Largest batch file accepted over HTTP."
    )
    host: str = Field("127.0.0.1", description="`credguard serve` listens here.")
    port: int = Field(8000, ge=1, le=65535, description="`credguard serve` port.")
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="`credguard serve` processes; above 1, set CREDGUARD_REDIS_URL so rate limits"
        " are shared.",
    )
    log_dir: Path | None = Field(
        None, description="Where backend.log and access.log are written; empty means data_dir/logs."
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Proxies (IPs/CIDRs, comma-separated) whose X-Forwarded-For is believed.",
    )
    rate_limit_per_minute: int = Field(
        600, ge=0, description="API requests per minute per token (or per IP); 0 disables."
    )
    redis_url: str = Field("", description="Redis for shared rate-limit counters; empty: memory.")
    redis_key_prefix: str = Field("credguard:", description="Prefix of CredGuard's Redis keys.")
    login_max_failures: int = Field(
        5, ge=1, description="Failed logins per account before delays start."
    )
    login_window_minutes: int = Field(
        15, ge=1, description="Failed logins older than this no longer count."
    )
    login_max_delay_seconds: int = Field(
        900, ge=1, description="Longest delay imposed between login attempts on one account."
    )
    ip_block_cache_seconds: float = Field(
        5.0, ge=0, description="How long the IP block list is cached before it is re-read."
    )
    incident_severities: dict[str, Severity] = Field(
        default_factory=_default_severities,
        description="Severity of the incidents each source opens (JSON); drift at 'action' is a"
        " degradation of model performance: P3 (runbook 6.1).",
    )
    response_minutes_p1: int = Field(15, ge=1, description="P1 (critical): response time.")
    response_minutes_p2: int = Field(60, ge=1, description="P2 (high): response time.")
    response_minutes_p3: int = Field(240, ge=1, description="P3 (medium): response time.")
    response_minutes_p4: int = Field(1440, ge=1, description="P4 (low): response time.")
    escalation_p1: str = Field(
        "cto@credguard.com", max_length=200, description="P1: who is escalated to."
    )
    escalation_p2: str = Field(
        "tech-lead@credguard.com", max_length=200, description="P2: who is escalated to."
    )
    escalation_p3: str = Field("Equipe de Dev", max_length=200, description="P3: escalation.")
    escalation_p4: str = Field("Backlog", max_length=200, description="P4: escalation.")
    operations_email: str = Field(
        "ops@credguard.com",
        max_length=254,
        description="Operations team: told of incidents across all clients; Reply-To of mails.",
    )
    support_retraining_days: int = Field(
        10,
        ge=1,
        le=365,
        description="Business days a client with a support plan is told retraining takes.",
    )
    smtp_host: str = Field("", description="SMTP server; empty: mails stay queued, none sent.")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port (587 STARTTLS, 465 TLS).")
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        "starttls",
        description="`starttls` (upgrade a plain connection), `tls` (implicit TLS) or `none`.",
    )
    smtp_username: str = Field("", description="SMTP login; empty: no authentication.")
    smtp_password: SecretStr = Field(SecretStr(""), description="SMTP password.")
    smtp_ca_file: Path | None = Field(
        None, description="CA certificates to verify the SMTP server with; empty: the system's."
    )
    smtp_from: str = Field(
        "CredGuard <noreply@credguard.com>", max_length=254, description="From address of mails."
    )
    smtp_timeout_seconds: float = Field(
        30.0, gt=0, description="Timeout of each SMTP connection and command."
    )
    mail_max_attempts: int = Field(
        30,
        ge=1,
        description="Sending attempts of one mail before it is marked failed (30: about a day).",
    )
    mail_retry_seconds: float = Field(
        60.0,
        ge=0,
        description="Wait before the first retry of a mail; doubles each attempt, at most 1 h.",
    )
    mail_lease_seconds: float = Field(
        300.0, gt=0, description="A mail claimed longer ago than this is taken over by a sender."
    )

    @field_validator("products", mode="before")
    @classmethod
    def _split_products(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().upper() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for network in value:
            ip_network(network, strict=False)  # a ValueError names the bad entry
        return value

    @model_validator(mode="after")
    def _check_products_and_cutoffs(self) -> Settings:
        bad = [code for code in self.products if not _PRODUCT_CODE.fullmatch(code)]
        if bad or not self.products:
            raise ValueError(
                f"product codes must be 1-40 characters A-Z, 0-9 or _, got {bad or 'none'}"
            )
        unknown = [product for product in self.band_cutoffs if product not in self.products]
        if unknown:
            raise ValueError(f"band cut-offs given for products not configured: {unknown}")
        for product, cuts in self.band_cutoffs.items():
            if any(not 0 <= cut <= 1000 for cut in cuts):
                raise ValueError(f"band cut-offs for {product} must be scores from 0 to 1000")
            if len(cuts) != 4 or any(a <= b for a, b in pairwise(cuts)):
                raise ValueError(
                    f"band cut-offs for {product} must be 4 strictly decreasing scores, got {cuts}"
                )
        return self

    @model_validator(mode="after")
    def _check_mail_lease(self) -> Settings:
        # A send may take several SMTP commands of up to the timeout each: a shorter lease lets
        # another sender take over a slow but healthy send and deliver the mail twice.
        if self.mail_lease_seconds < 10 * self.smtp_timeout_seconds:
            raise ValueError(
                f"CREDGUARD_MAIL_LEASE_SECONDS ({self.mail_lease_seconds:g}) must be at least 10 "
                f"times CREDGUARD_SMTP_TIMEOUT_SECONDS ({self.smtp_timeout_seconds:g})"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to SQLite inside the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'credguard.db').resolve()}"

    def cutoffs_for(self, product: str) -> tuple[int, int, int, int]:
        """Score cut-offs of bands A–D for ``product``."""
        cuts = self.band_cutoffs.get(product)
        return DEFAULT_CUTOFFS if cuts is None else (cuts[0], cuts[1], cuts[2], cuts[3])

    def response_minutes(self, severity: Severity) -> int:
        """How soon an incident of ``severity`` must be answered (runbook 6.1)."""
        return {
            "P1": self.response_minutes_p1,
            "P2": self.response_minutes_p2,
            "P3": self.response_minutes_p3,
            "P4": self.response_minutes_p4,
        }[severity]

    def escalation(self, severity: Severity) -> str:
        """Who an incident of ``severity`` is escalated to (runbook 6.1 and 6.2)."""
        return {
            "P1": self.escalation_p1,
            "P2": self.escalation_p2,
            "P3": self.escalation_p3,
            "P4": self.escalation_p4,
        }[severity]

    @property
    def drift_run_time(self) -> time:
        """:attr:`drift_run_at` as a time of day (UTC)."""
        hours, minutes = self.drift_run_at.split(":")
        return time(int(hours), int(minutes))

    @property
    def resolved_log_dir(self) -> Path:
        """Where the log files go (the runbook's is /var/log/credguard)."""
        return self.log_dir or self.data_dir / "logs"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def results_dir(self) -> Path:
        return self.data_dir / "results"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, validated once; a bad variable becomes a clear error."""
    try:
        return Settings()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise ConfigurationError(f"invalid CREDGUARD_* configuration: {exc}") from None
