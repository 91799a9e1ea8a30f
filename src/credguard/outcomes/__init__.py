"""Observed outcomes: what happened to customers a client had scored, and the training store.

Clients send back, per customer and product, whether the customer defaulted by a reference date.
Each outcome is linked to the score it judges (the latest scoring of that client's customer and
product on or before that date) and kept in ``observed_outcomes`` with a copy of that score's
input features, under a keyed hash of the CPF instead of the CPF. Scores are linked from
``score_snapshots``, a copy of ``customer_scores`` under the same hash (:mod:`.snapshots`):
defaults show months after a scoring, and the runbook's 90-day archival of ``customer_scores``
empties neither table. Models are retrained on the export (``credguard models
export-training-data``).
"""
