"""Rendering dashboard pages: templates, the one stylesheet, security headers, HTML error pages.

Every page goes out with a strict Content-Security-Policy: nothing but this origin, no script at
all (the dashboard has none: filters are plain GET forms), the stylesheet allowed by its hash,
no framing, no form posted elsewhere. Pages are never cached (``no-store``): they hold a
client's figures. Templates escape everything they interpolate (Jinja autoescape), client names
included; the SVG charts escape their own text (:mod:`credguard.dashboard.charts`).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from functools import cache
from typing import Any, cast

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from starlette.exceptions import HTTPException as StarletteHTTPException

from credguard.errors import CredGuardError

log = structlog.get_logger(__name__)

#: Every path the dashboard answers lies under this prefix (the session cookie's Path too).
PREFIX = "/dashboard"

STYLESHEET = """
:root{--green:#1b7f3b;--yellow:#f2c200;--red:#c62828;--grey:#6b7280;--ink:#1f2933;
--muted:#52606d;--line:#d9dee3;--paper:#f5f7f9;--blue:#3b6ea8;--orange:#e07b24}
*{box-sizing:border-box}
body{margin:0;font-family:system-ui,"DejaVu Sans","Liberation Sans",Arial,sans-serif;
color:var(--ink);background:var(--paper);font-size:15px;line-height:1.45}
header.top{display:flex;align-items:center;justify-content:space-between;gap:1rem;
padding:.6rem 1.5rem;background:#17324d;color:#fff}
header.top h1{font-size:1.15rem;margin:0}
header.top .who{display:flex;align-items:center;gap:.8rem;font-size:.9rem}
header.top button{background:#fff;color:#17324d;border:0;border-radius:4px;padding:.3rem .8rem;
font:inherit;cursor:pointer}
main{max-width:1260px;margin:0 auto;padding:1rem 1.5rem 3rem}
form.filters{display:flex;flex-wrap:wrap;align-items:flex-end;gap:1rem;background:#fff;
border:1px solid var(--line);border-radius:6px;padding:.8rem 1rem;margin-bottom:1rem}
form.filters label{display:flex;flex-direction:column;font-size:.85rem;color:var(--muted)}
form.filters select,form.filters button{font:inherit;padding:.3rem .5rem;margin-top:.2rem}
form.filters button{background:#17324d;color:#fff;border:0;border-radius:4px;padding:.4rem 1rem}
.scope{font-size:.95rem;margin:.2rem 0 1rem;color:var(--muted)}
.overview{display:grid;grid-template-columns:repeat(auto-fill,minmax(290px,1fr));gap:.8rem;
margin-bottom:1.2rem}
.card{display:block;background:#fff;border:1px solid var(--line);border-left:10px solid var(--grey);
border-radius:6px;padding:.6rem .9rem;color:inherit;text-decoration:none}
.card.stable{border-left-color:var(--green)}.card.attention{border-left-color:var(--yellow)}
.card.action{border-left-color:var(--red)}
.card .head{display:flex;flex-direction:column;align-items:flex-start;gap:.25rem;margin-bottom:.3rem}
.card .product{font-weight:700;font-size:1.05rem}
.card .line{display:block;font-size:.85rem;color:var(--muted)}
.nowrap{white-space:nowrap}
.badge{display:inline-block;border-radius:999px;padding:.1rem .7rem;font-weight:700;
font-size:.85rem;color:#fff;background:var(--grey);white-space:nowrap}
.badge.stable{background:var(--green)}.badge.attention{background:var(--yellow);color:#3d2e00}
.badge.action{background:var(--red)}.badge.big{font-size:1.05rem;padding:.2rem .9rem}
.badge.estimate{background:#fff;color:#7a4d00;border:2px dashed #b07200}
section.product{background:#fff;border:1px solid var(--line);border-top:8px solid var(--grey);
border-radius:6px;padding:1rem 1.2rem;margin-bottom:1.5rem}
section.product.stable{border-top-color:var(--green)}
section.product.attention{border-top-color:var(--yellow)}
section.product.action{border-top-color:var(--red)}
section.product>h2{display:flex;align-items:center;gap:.8rem;margin:0 0 .3rem;font-size:1.35rem}
.facts{display:flex;flex-wrap:wrap;gap:.3rem 1.4rem;font-size:.88rem;color:var(--muted);
margin:0 0 .8rem;padding:0;list-style:none}
.facts strong{color:var(--ink)}
.parts{display:flex;flex-wrap:wrap;gap:.5rem 1.2rem;margin-bottom:.8rem;font-size:.9rem}
.grid{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:1.2rem}
@media (max-width:900px){.grid{grid-template-columns:1fr}}
.panel h3{font-size:1.02rem;margin:.4rem 0 .4rem}
.panel p{margin:.3rem 0;font-size:.88rem}
.note{color:var(--muted);font-size:.84rem}
figure{margin:0}
figure svg{width:100%;height:auto;display:block}
figcaption{font-size:.8rem;color:var(--muted)}
table{border-collapse:collapse;width:100%;font-size:.88rem}
th,td{padding:.3rem .45rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:middle}
th{font-weight:600;color:var(--muted)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr.flagged td{background:#fdecea}
td code,p code{font-size:.78rem;color:var(--muted)}
.flag{color:var(--red);font-weight:700}
.empty{background:#fff;border:1px solid var(--line);border-radius:6px;padding:1.2rem 1.5rem}
pre{background:#17324d;color:#fff;padding:.6rem 1rem;border-radius:4px;display:inline-block}
.howto{font-size:.86rem;color:var(--muted);border-top:1px solid var(--line);margin-top:2rem}
.howto dt{font-weight:700;color:var(--ink);margin-top:.6rem}
.login{max-width:380px;margin:4rem auto;background:#fff;border:1px solid var(--line);
border-radius:8px;padding:1.5rem 1.8rem}
.login h1{font-size:1.3rem;margin-top:0}
.login label{display:block;margin:.8rem 0 .2rem;font-weight:600}
.login input{width:100%;font:inherit;padding:.45rem .5rem;border:1px solid #9aa5b1;border-radius:4px}
.login button{margin-top:1.2rem;width:100%;font:inherit;padding:.55rem;background:#17324d;
color:#fff;border:0;border-radius:4px;cursor:pointer}
.alert{background:#fdecea;border:1px solid #f5b7b1;color:#8a1c14;border-radius:4px;padding:.5rem .7rem}
.error-page{max-width:560px;margin:4rem auto;background:#fff;border:1px solid var(--line);
border-radius:8px;padding:1.5rem 1.8rem}
"""

_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLESHEET.encode()).digest()).decode()
#: No script, nothing from elsewhere; the inline stylesheet by its hash; the favicon inline.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; "
    f"style-src 'sha256-{_STYLE_HASH}'; "
    "img-src data:; "
    "form-action 'self'; "
    "frame-ancestors 'none'; "
    "base-uri 'none'"
)
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
}


@cache
def _templates() -> Environment:
    environment = Environment(
        loader=PackageLoader("credguard.dashboard", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["stylesheet"] = Markup(STYLESHEET)
    return environment


def render(
    template: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """A page from ``template`` with the security headers."""
    html = _templates().get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})


def secure(response: Response) -> Response:
    """``response`` with the security headers (redirects too: they must not be cached)."""
    response.headers.update(SECURITY_HEADERS)
    return response


# --- error pages ----------------------------------------------------------------------------

_TITLES = {
    400: "Requisição inválida",
    401: "Sessão necessária",
    403: "Acesso negado",
    404: "Página não encontrada",
    405: "Método não permitido",
    409: "Conflito",
    413: "Conteúdo grande demais",
    422: "Parâmetros inválidos",
    429: "Muitas requisições",
    500: "Erro interno",
    503: "Serviço indisponível",
}
_EXPLANATIONS = {
    404: "O endereço não existe ou não está disponível para o seu usuário.",
    422: "Algum filtro do endereço não é válido. Volte ao painel e escolha de novo.",
    500: "Ocorreu um erro interno; ele foi registrado. Tente de novo em instantes.",
}


def error_page(status: int, headers: Mapping[str, str] | None = None) -> HTMLResponse:
    """A Portuguese error page for ``status``: no internal message, no value sent echoed."""
    title = _TITLES.get(status, "Erro")
    explanation = _EXPLANATIONS.get(status, "Não foi possível atender a requisição.")
    return render(
        "error.html",
        {"status": status, "title": title, "explanation": explanation},
        status=status,
        headers=headers,
    )


Handler = Callable[[Request, Exception], Response | Awaitable[Response]]


def is_page(request: Request) -> bool:
    """Whether ``request`` is for the dashboard (answered in HTML)."""
    path = request.url.path
    return path == PREFIX or path.startswith(PREFIX + "/")


def _html_first(original: Handler | None, status_of: Callable[[Exception], int]) -> Handler:
    async def handler(request: Request, exc: Exception) -> Response:
        if is_page(request):
            status = status_of(exc)
            if status >= 500:
                log.error(
                    "unhandled error", path=request.url.path, error=type(exc).__name__, exc_info=exc
                )
            headers = getattr(exc, "headers", None) if status in (405, 429) else None
            return error_page(status, headers)
        if original is None:
            raise exc
        answer = original(request, exc)
        return await answer if isinstance(answer, Awaitable) else answer

    return handler


def install_error_pages(app: FastAPI) -> None:
    """Answer errors under ``/dashboard`` with HTML pages; the API keeps its problem details."""
    statuses: dict[type[Exception], Callable[[Exception], int]] = {
        CredGuardError: lambda exc: cast(CredGuardError, exc).status,
        RequestValidationError: lambda _: 422,
        StarletteHTTPException: lambda exc: cast(StarletteHTTPException, exc).status_code,
        Exception: lambda _: 500,
    }
    for kind, status_of in statuses.items():
        original = cast(Handler | None, app.exception_handlers.get(kind))
        app.add_exception_handler(kind, _html_first(original, status_of))
