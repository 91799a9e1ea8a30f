"""Incidents: problems CredGuard detects itself (drift at "action" first), with the runbook's
severities (section 6.1), one open incident per source × product × scope, acknowledged and
resolved by CredGuard staff; opening one queues the notice to the client (runbook 2.3, steps 2–3)
or, for an incident across all clients, to the operations team and to every client scored by that
product's model in the window.
"""
