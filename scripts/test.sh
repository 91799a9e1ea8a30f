#!/usr/bin/env bash
# The README's second command: install what the tests need, then run the whole suite
# (lint, types, tests on SQLite and on MariaDB). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

# System packages the tests use: the mysql/mysqldump clients for the runbook's commands.
if ! command -v mysql >/dev/null 2>&1 || ! command -v mysqldump >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-client >/dev/null
  else
    echo "the tests need the mysql and mysqldump clients (package mariadb-client)" >&2
    exit 1
  fi
fi

# The system's python3 (the runbook runs `python3 train_model.py` with it; the runbook-script
# tests run it as an operator who cannot read this checkout), and setpriv to become that operator.
if [ ! -x /usr/bin/python3 ] || ! command -v setpriv >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-minimal util-linux >/dev/null
  else
    echo "the runbook-script tests need /usr/bin/python3 and setpriv (packages python3-minimal, util-linux)" >&2
    exit 1
  fi
fi

# Debian's Chromium for the dashboard's browser tests (Playwright drives /usr/bin/chromium).
if [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "the dashboard tests need Chromium at /usr/bin/chromium (Debian package chromium)" >&2
    exit 1
  fi
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'

.venv/bin/ruff check src tests bench ml_training
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
