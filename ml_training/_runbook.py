"""What the runbook's scripts share: find CredGuard's Python, read the service's settings, run.

The runbook runs the system's ``python3``, which does not have CredGuard installed: a script then
re-runs itself with the project's own Python, found at ``$CREDGUARD_PYTHON``, or in the
``.venv`` beside this folder (``/opt/credguard/.venv`` when deployed by docs/deploy.md), or in
the checkout's ``.venv``. The service's settings are read from ``$CREDGUARD_ENV_FILE`` (default
``/etc/credguard/credguard.env``), for variables not already set. Without them a script would
work on default settings — an empty SQLite database in the current folder — and register a model
the service never sees. A file only the service may read (as docs/deploy.md installs it) makes the
script re-run itself as the service's user through sudo; any other file it cannot read stops it,
saying why; only the default file may be missing (a development machine has none).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

_REEXEC = "CREDGUARD_TRAINING_REEXEC"
_AS_SERVICE = "CREDGUARD_TRAINING_AS_SERVICE"
_DEFAULT_ENV_FILE = "/etc/credguard/credguard.env"


def _project_python() -> str | None:
    here = Path(os.path.abspath(__file__)).parent  # a symlinked folder keeps its own path
    candidates = [
        os.environ.get("CREDGUARD_PYTHON"),
        str(here.parent / ".venv" / "bin" / "python"),
        str(Path(os.path.realpath(__file__)).parent.parent / ".venv" / "bin" / "python"),
    ]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def _load_env_file(script: str) -> None:
    explicit = os.environ.get("CREDGUARD_ENV_FILE")
    path = Path(explicit or _DEFAULT_ENV_FILE)
    name = Path(script).name
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        if not explicit:
            return
        sys.exit(
            f"{name}: CREDGUARD_ENV_FILE is {path}, which does not exist; point it at the "
            f"service's settings file or unset it to use {_DEFAULT_ENV_FILE}"
        )
    except PermissionError:
        _as_service_user(script, path)  # returns only when that is not possible
        sys.exit(
            f"{name}: cannot read the service's settings from {path} (Permission denied); run it"
            f" as the service's user (sudo -u {_service_user()} python3 {name} ...) or set"
            " CREDGUARD_ENV_FILE to a settings file you can read"
        )
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "not UTF-8 text"
        sys.exit(
            f"{name}: cannot read the service's settings from {path} ({reason}); run it as the "
            f"service's user (sudo -u credguard python3 {name} ...) or set CREDGUARD_ENV_FILE "
            "to a settings file you can read"
        )
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            os.environ.setdefault(key.strip(), value.strip().strip('"').strip("'"))


def _service_user() -> str:
    return os.environ.get("CREDGUARD_SERVICE_USER") or "credguard"


def _as_service_user(script: str, env_file: Path) -> None:
    """Re-run the script as the service's user through sudo, as the runbook's operator would.

    On a server deployed by docs/deploy.md the settings file is readable by root and the service
    only, and the service owns the data directory the registry writes to: the operator's own
    account can do neither. sudo asks for the operator's password as usual; only the settings
    file's location and this marker go through sudo's cleaned environment.
    """
    sudo = shutil.which("sudo")
    if sudo is None or os.environ.get(_AS_SERVICE) or os.geteuid() == 0:
        return
    user = _service_user()
    print(
        f"{Path(script).name}: {env_file} is readable by the service only; running as {user}"
        " through sudo",
        file=sys.stderr,
        flush=True,
    )
    os.execv(
        sudo,
        [sudo, "-u", user, "--", "/usr/bin/env", f"CREDGUARD_ENV_FILE={env_file}",
         f"{_AS_SERVICE}=1", sys.executable, os.path.abspath(script), *sys.argv[1:]],
    )  # fmt: skip


def run_credguard(script: str, *command: str) -> None:
    """Run ``credguard COMMAND… ARGS`` with this process's arguments, in CredGuard's Python."""
    try:
        import credguard  # noqa: F401
    except ImportError:
        python = _project_python()
        if python is None or os.environ.get(_REEXEC):
            sys.exit(
                f"{Path(script).name}: CredGuard is not installed for this Python and no project "
                "environment was found; set CREDGUARD_PYTHON to the Python of CredGuard's venv"
            )
        os.environ[_REEXEC] = "1"
        os.execv(python, [python, os.path.abspath(script), *sys.argv[1:]])
    _load_env_file(script)
    from credguard.cli.main import run

    sys.argv = ["credguard", *command, *sys.argv[1:]]
    run()
