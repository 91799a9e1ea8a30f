"""deploy/: the systemd units, env example, nginx site and logrotate agree with the code.

Catches drift without installing anything: a setting renamed in ``Settings``, a command renamed
in the CLI, an upload limit changed on one side only. (``nginx -t`` and ``systemd-analyze
verify`` are run by hand, see docs/deploy.md.)
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import typer

from credguard.cli.main import app
from credguard.config import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def unit(name: str) -> dict[str, list[str]]:
    """``Key`` → its values (a key may repeat) across all sections of a systemd unit file."""
    keys: dict[str, list[str]] = {}
    for line in (DEPLOY / name).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            keys.setdefault(key.strip(), []).append(value.strip())
    return keys


def env_example() -> dict[str, str]:
    """The example's variables as bash reads them (the deploy guide's ``cg`` sources the file)."""
    shown = subprocess.run(
        ["bash", "-c", 'set -ea; . "$1"; env -0', "bash", str(DEPLOY / "credguard.env.example")],
        env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert shown.stderr == "", shown.stderr
    pairs = (item.split("=", 1) for item in shown.stdout.split("\0") if "=" in item)
    return {key: value for key, value in pairs if key.startswith("CREDGUARD_")}


def cli_commands() -> set[str]:
    group = typer.main.get_command(app)
    return set(getattr(group, "commands", {}))


@pytest.mark.parametrize(
    ("name", "command"),
    [("credguard-backend.service", "serve"), ("credguard-worker@.service", "worker")],
)
def test_units_run_credguard_as_its_own_user_hardened(name: str, command: str) -> None:
    keys = unit(name)
    (exec_start,) = keys["ExecStart"]
    assert exec_start == f"/opt/credguard/.venv/bin/credguard {command}"
    assert command in cli_commands()
    assert keys["User"] == ["credguard"] and keys["Restart"] == ["on-failure"]
    assert keys["EnvironmentFile"] == ["/etc/credguard/credguard.env"]
    assert keys["NoNewPrivileges"] == ["yes"] and keys["ProtectSystem"] == ["strict"]
    env = env_example()
    writable = keys["ReadWritePaths"][0].split()
    assert env["CREDGUARD_DATA_DIR"] in writable and env["CREDGUARD_LOG_DIR"] in writable
    assert keys["WantedBy"] == ["multi-user.target"]


def test_mlflow_unit_serves_the_mirror_the_settings_name_on_loopback_without_telemetry() -> None:
    keys = unit("credguard-mlflow.service")
    (exec_start,) = keys["ExecStart"]
    words = exec_start.split()
    assert words[:2] == ["/opt/credguard/.venv/bin/mlflow", "server"]
    flags = dict(zip(words[2::2], words[3::2], strict=True))
    uri = env_example()["CREDGUARD_MLFLOW_TRACKING_URI"]
    assert uri == f"http://{flags['--host']}:{flags['--port']}" and flags["--host"] == "127.0.0.1"
    store = Path(flags["--backend-store-uri"].removeprefix("sqlite:///"))
    artifacts = Path(flags["--artifacts-destination"])
    (writable,) = keys["ReadWritePaths"]
    assert store.parent == artifacts.parent == Path(writable) == Path(keys["WorkingDirectory"][0])
    assert Path(env_example()["CREDGUARD_DATA_DIR"]) in store.parents
    assert "MLFLOW_DISABLE_TELEMETRY=true" in keys["Environment"]
    assert keys["User"] == ["credguard"] and keys["NoNewPrivileges"] == ["yes"]


def test_env_example_sets_only_known_settings_for_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = env_example()
    known = {f"CREDGUARD_{field.upper()}" for field in Settings.model_fields}
    assert set(env) <= known, f"not settings: {sorted(set(env) - known)}"
    for key in (
        "CREDGUARD_DATABASE_URL",
        "CREDGUARD_SECRET_KEY",
        "CREDGUARD_PSEUDONYM_KEY",
        "CREDGUARD_ENVIRONMENT",
        "CREDGUARD_DATA_DIR",
        "CREDGUARD_LOG_DIR",
        "CREDGUARD_TRUSTED_PROXIES",
    ):
        assert env.get(key), key
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()  # every value is valid as written
    assert settings.environment == "production"
    assert settings.database_url.startswith("mysql+pymysql://credguard:")
    assert settings.database_url.split("?")[0].endswith("/credguard")
    assert settings.resolved_log_dir == Path("/var/log/credguard")
    assert settings.trusted_proxies == ["127.0.0.1"]
    assert len(settings.secret_key.get_secret_value()) >= 32
    assert len(settings.pseudonym_key.get_secret_value()) >= 32


def test_nginx_site_matches_the_application() -> None:
    site = (DEPLOY / "nginx" / "credguard.conf").read_text()
    settings_env = env_example()
    size = re.search(r"client_max_body_size (\d+)m;", site)
    assert size and int(size.group(1)) * 1024 * 1024 == int(
        settings_env["CREDGUARD_UPLOAD_MAX_BYTES"]
    )
    assert f"server 127.0.0.1:{settings_env['CREDGUARD_PORT']};" in site
    assert "proxy_request_buffering off;" in site
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in site
    assert "return 301 https://$host$request_uri;" in site
    assert "ssl_certificate     /etc/letsencrypt/live/" in site
    metrics = site.split("location = /metrics {")[1].split("}")[0]
    assert "deny all;" in metrics and "allow " in metrics


def test_logrotate_covers_the_log_dir() -> None:
    rules = (DEPLOY / "logrotate" / "credguard").read_text()
    assert rules.startswith("#") and f"{env_example()['CREDGUARD_LOG_DIR']}/*.log {{" in rules
    assert "copytruncate" not in rules.replace("no copytruncate", "")


#: Keys of the backend unit that say what it runs and how; every other key is hardening.
_OPERATIONAL = {
    "Description", "Documentation", "After", "Wants", "Type", "User", "Group", "EnvironmentFile",
    "WorkingDirectory", "ExecStart", "Restart", "RestartSec", "TimeoutStopSec", "KillSignal",
    "UMask", "LimitNOFILE", "WantedBy",
}  # fmt: skip


def test_drift_timer_runs_the_drift_command_daily_hardened_as_the_backend() -> None:
    service, backend = unit("credguard-drift.service"), unit("credguard-backend.service")
    (exec_start,) = service["ExecStart"]
    assert exec_start == "/opt/credguard/.venv/bin/credguard drift run"
    drift = typer.main.get_command(app).commands["drift"]  # type: ignore[attr-defined]
    assert "run" in drift.commands
    assert service["Type"] == ["oneshot"] and service["User"] == ["credguard"]
    assert service["EnvironmentFile"] == backend["EnvironmentFile"]
    hardening = set(backend) - _OPERATIONAL
    assert {"NoNewPrivileges", "ProtectSystem", "SystemCallFilter"} <= hardening
    for key in hardening:
        assert service.get(key) == backend[key], key
    timer = unit("credguard-drift.timer")
    assert timer["Unit"] == ["credguard-drift.service"]
    assert timer["OnCalendar"] == [f"*-*-* {Settings().drift_run_at}:00 UTC"]
    assert timer["Persistent"] == ["yes"] and timer["WantedBy"] == ["timers.target"]
    # Where the timer runs drift, the backends' scheduler does not also run it.
    assert env_example()["CREDGUARD_DRIFT_SCHEDULE"] == "false"
