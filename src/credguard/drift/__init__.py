"""Drift monitoring (runbook 2.3): is a product's population, and its model, still what it was?

Owns ``drift_results``: per product, per client and for all clients, per day, the score PSI
against the reference frozen with the production model, every feature's drift, and the model's
performance (observed once outcomes arrive, estimated from its probabilities until then), each
with a status. ``stats`` computes on arrays; ``service`` reads the window, stores and lists
results; ``checks`` puts "action" drift into ``credguard models due``.
"""
