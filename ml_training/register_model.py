#!/usr/bin/env python3
"""The runbook's registration step (section 5.2, step 3), as written there:

    python3 register_model.py --model /tmp/new_model.pkl --name fa_12_v2 --metrics /tmp/metrics.json

It is ``credguard models register`` (see ``credguard models register --help``), run in
CredGuard's own environment whatever ``python3`` starts it (see ``_runbook.py``).
"""

from _runbook import run_credguard

if __name__ == "__main__":
    run_credguard(__file__, "models", "register")
