"""What the runbook's scripts share: find CredGuard's Python, read the service's settings, run.

The runbook runs the system's ``python3``, which does not have CredGuard installed: a script then
re-runs itself with the project's own Python, found at ``$CREDGUARD_PYTHON``, or in the
``.venv`` beside this folder (``/opt/credguard/.venv`` when deployed by docs/deploy.md), or in
the checkout's ``.venv``. The service's settings are read from ``$CREDGUARD_ENV_FILE`` (default
``/etc/credguard/credguard.env``), for variables not already set. Without them a script would
work on default settings — an empty SQLite database in the current folder — and register a model
the service never sees, so a file it cannot read stops it, saying why; only the default file may
be missing (a development machine has none).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_REEXEC = "CREDGUARD_TRAINING_REEXEC"
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
