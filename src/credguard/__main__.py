"""``python -m credguard`` is the ``credguard`` command."""

from credguard.cli.main import run

run()
