"""The runbook's ml_training scripts and the service's settings file they read."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.db.test_runbook_sql import run_runbook_script

ROOT = Path(__file__).resolve().parents[2]


def run_script(script: str, *args: str, env_file: str | None) -> subprocess.CompletedProcess[str]:
    return run_runbook_script(script, *args, env_file=env_file)


@pytest.mark.parametrize("script", ["train_model.py", "register_model.py"])
def test_an_unreadable_settings_file_stops_the_script(script: str, tmp_path: Path) -> None:
    """Not default settings and an empty SQLite database here, but one line saying what to do.

    The settings "file" is a directory: reading it fails for root too (a file without read
    permission would not, and the tests may run as root); both are the same OSError path.
    """
    result = run_script(script, "--help", env_file=str(tmp_path))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    message = result.stderr
    assert message.startswith(f"{script}: cannot read the service's settings from {tmp_path}")
    assert "Is a directory" in message and f"sudo -u credguard python3 {script}" in message
    assert "CREDGUARD_ENV_FILE" in message


def test_a_missing_settings_file_is_an_error_only_when_named(tmp_path: Path) -> None:
    missing = tmp_path / "credguard.env"
    result = run_script("train_model.py", "--help", env_file=str(missing))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        f"train_model.py: CREDGUARD_ENV_FILE is {missing}, which does not exist; point it at "
        "the service's settings file or unset it to use /etc/credguard/credguard.env"
    )
    # Unset or empty: the default file, which a development machine does not have.
    if Path("/etc/credguard/credguard.env").exists():
        pytest.skip("this machine has a service settings file")
    for unset in (None, ""):
        result = run_script("train_model.py", "--help", env_file=unset)
        assert result.returncode == 0, result.stderr
        assert "--input" in result.stdout


def test_a_readable_settings_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "credguard.env"
    path.write_text("# the service's settings\nCREDGUARD_PRODUCTS='CARTAO,LOJA'\n")
    result = run_script(
        "train_model.py", "--input", str(tmp_path / "training_data.csv"), "--output",
        str(tmp_path / "new_model.pkl"), "--product", "EMPRESTIMO", env_file=str(path),
    )  # fmt: skip
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "unknown product EMPRESTIMO; configured: CARTAO, LOJA" in result.stderr
