#!/usr/bin/env python3
"""The runbook's training step (section 5.2, step 2), as written there:

    cd /opt/credguard/ml_training
    python3 train_model.py --input /tmp/training_data.csv --output /tmp/new_model.pkl --product CARTAO

It is ``credguard models train`` (see ``credguard models train --help``), run in CredGuard's own
environment whatever ``python3`` starts it (see ``_runbook.py``).
"""

from _runbook import run_credguard

if __name__ == "__main__":
    run_credguard(__file__, "models", "train")
