"""The web dashboard (runbook 2.3): ``/dashboard/drift-monitoring``, in Brazilian Portuguese.

A front door like the API and the CLI: it reads drift results through
:mod:`credguard.drift.service` and renders them as HTML with inline SVG charts (no JavaScript,
nothing fetched from elsewhere). People log in at ``/dashboard/login`` with the accounts
service's own login (the API's throttle and login records); the session is a cookie holding the
same signed access token the API issues. Staff see every client; a client's analysts only their
own client's drift. Errors under ``/dashboard`` are HTML pages, not the API's problem details.
"""

from __future__ import annotations

from fastapi import FastAPI

from credguard.dashboard import pages, routes


def install(app: FastAPI) -> None:
    """Add the dashboard's routes to ``app`` and answer errors under ``/dashboard`` in HTML.

    Call after :func:`credguard.api.errors.install`: it wraps those handlers.
    """
    app.include_router(routes.router)
    pages.install_error_pages(app)
