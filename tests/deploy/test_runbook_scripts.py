"""The runbook's ml_training scripts and the service's settings file they read."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
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


FAKE_SUDO = """#!/bin/sh
# Stands in for sudo: records how it was called (the real one would ask for a password).
printf '%s\\n' "$@" > "$(dirname "$0")/called"
"""


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A folder other users may enter (pytest's own tmp_path is private to root)."""
    with tempfile.TemporaryDirectory(dir="/tmp") as folder:
        Path(folder).chmod(0o755)
        yield Path(folder)


@pytest.mark.parametrize("script", ["train_model.py", "register_model.py"])
def test_a_settings_file_only_the_service_reads_reruns_the_script_as_the_service(
    script: str, open_tmp: Path
) -> None:
    """The operator's own account (here: nobody) meets the deploy guide's 0640 root:credguard file."""
    tmp_path = open_tmp
    # The checkout may sit where nobody cannot enter (a CI clone in a private folder): the
    # scripts and CredGuard's package marker are copied where nobody can read them.
    scripts = tmp_path / "ml_training"
    shutil.copytree(ROOT / "ml_training", scripts)
    (tmp_path / "src" / "credguard").mkdir(parents=True)
    shutil.copyfile(
        ROOT / "src" / "credguard" / "__init__.py", tmp_path / "src" / "credguard" / "__init__.py"
    )
    settings = tmp_path / "credguard.env"
    settings.write_text("CREDGUARD_PRODUCTS=CARTAO\n")
    settings.chmod(0o640)  # owned by root: nobody may not read it
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sudo").write_text(FAKE_SUDO)
    (bin_dir / "sudo").chmod(0o755)
    bin_dir.chmod(0o777)
    # nobody cannot enter /root, where this machine's own Pythons live: Debian's python3 with
    # CredGuard's source on its path stands in for the project's environment.
    python = "/usr/bin/python3"
    result = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", python, script,
         "--input", "training_data.csv"],
        cwd=scripts,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "CREDGUARD_ENV_FILE": str(settings),
             "PYTHONPATH": str(tmp_path / "src")},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "readable by the service only; running as credguard through sudo" in result.stderr
    called = (bin_dir / "called").read_text().splitlines()
    assert called[:4] == ["-u", "credguard", "--", "/usr/bin/env"]
    assert f"CREDGUARD_ENV_FILE={settings}" in called
    assert called[-3:] == [str(scripts / script), "--input", "training_data.csv"]
    assert called[-4] == python  # the Python CredGuard runs in (here the stand-in)
