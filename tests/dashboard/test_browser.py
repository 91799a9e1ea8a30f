"""The drift page in a real headless Chromium, against a real server and real drift history.

Each test logs in through the form, as a person would, in a fresh browser context; every test
ends by checking that the browser logged no console error and asked nothing of any host but
the test server.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from pathlib import Path

from PIL import Image, ImageStat
from playwright.sync_api import Locator, Page

from credguard.dashboard import charts
from tests.dashboard.conftest import OTHER_CLIENT, Site, Tab

HOME = "/dashboard/drift-monitoring"
#: Computed colours of the status badges (CSS: --green, --yellow, --red, --grey).
BADGE_COLOURS = {
    "stable": "rgb(27, 127, 59)",
    "attention": "rgb(242, 194, 0)",
    "action": "rgb(198, 40, 40)",
    "insufficient_sample": "rgb(107, 114, 128)",
}


def _background(locator: Locator) -> str:
    return str(locator.evaluate("element => getComputedStyle(element).backgroundColor"))


def _section(page: Page, product: str) -> Locator:
    return page.locator(f"section.product[data-product={product}]")


def _log_in(tab: Tab, site: Site, who: str, path: str = HOME) -> None:
    tab.goto(path)
    assert "/dashboard/login" in tab.page.url
    tab.log_in(site.emails[who])
    tab.page.wait_for_url(re.compile(re.escape(site.url + HOME)))


def test_operator_reads_every_product_at_a_glance(tab: Tab, site: Site, tmp_path: Path) -> None:
    page = tab.page
    _log_in(tab, site, "operator")
    assert page.locator("html").get_attribute("lang") == "pt-BR"
    today = f"{site.today:%d/%m/%Y}"

    # The overview: one card per product, worst first, its colour and word.
    cards = page.locator("nav.overview a.card")
    assert cards.evaluate_all("cards => cards.map(card => card.dataset.product)") == [
        "EMPRESTIMO",
        "CARTAO",
        "CREDIARIO",
    ]
    for product, status, word in (
        ("EMPRESTIMO", "action", "Ação necessária"),
        ("CARTAO", "stable", "Estável"),
        ("CREDIARIO", "insufficient_sample", "Amostra insuficiente"),
    ):
        badge = page.locator(f"a.card[data-product={product}] .badge")
        assert badge.inner_text() == word
        assert _background(badge) == BADGE_COLOURS[status]
        section = _section(page, product)
        assert section.locator("h2 .badge").inner_text() == word
        assert f"Resultado de {today}" in section.locator(".facts").inner_text()
        assert "_base v1" in section.locator(".facts").inner_text()  # model name and version

    shifted = _section(page, "EMPRESTIMO")
    # PSI over time: a point per day, the two threshold lines, the noise level in words.
    trend = shifted.get_by_role("img", name=re.compile("PSI do score ao longo do tempo"))
    points = trend.locator("g.points circle")
    assert points.count() == 21
    lines = trend.locator('line[stroke-dasharray="7 4"]')
    assert lines.count() == 2
    assert trend.locator("text", has_text="0,10 atenção").count() == 1
    assert trend.locator("text", has_text="0,25 ação necessária").count() == 1
    # Early days of the window were too small to judge: hollow grey points, not alarms.
    assert trend.locator('g.points circle[fill="#fff"]').count() >= 1
    assert trend.locator(f'g.points circle[fill="{charts.RED}"]').count() >= 1
    assert trend.locator(f'g.points circle[fill="{charts.GREEN}"]').count() >= 1
    noise = shifted.locator("[data-noise]").inner_text()
    assert re.search(r"PSI abaixo de 0,\d{4} pode ser ruído de amostra", noise)
    # Reference vs current score bins: two bars per frozen bin, a legend.
    bins = shifted.get_by_role("img", name=re.compile("Distribuição do score"))
    reference = bins.locator(f'g.bars rect[fill="{charts.REFERENCE}"]')
    current = bins.locator(f'g.bars rect[fill="{charts.CURRENT}"]')
    assert current.count() == reference.count() >= 5
    assert bins.locator("text", has_text="Referência (treino do modelo)").count() == 1
    # Feature drift: the shortened relationships flagged, with the definition on the page.
    flagged = shifted.locator("tr.flagged[data-feature]")
    assert "relationship_days" in flagged.evaluate_all("rows => rows.map(r => r.dataset.feature)")
    row = shifted.locator("tr[data-feature=relationship_days]")
    assert "Tempo de relacionamento" in row.inner_text()
    assert "Acima de 20" in row.inner_text()
    assert "distância de variação total" in shifted.locator("[data-definition]").inner_text()
    # Performance: estimated, and said to be.
    performance = shifted.locator("table[data-performance]")
    assert "Baseline do modelo" in performance.inner_text()
    assert shifted.locator(".badge.estimate").first.is_visible()
    assert shifted.locator(".badge.estimate").first.inner_text() == "estimativa"

    stable = _section(page, "CARTAO")
    assert stable.locator("tr.flagged").count() == 0
    small = _section(page, "CREDIARIO")
    assert "Não é um alarme" in small.locator("[data-insufficient]").inner_text()

    shot = tmp_path / "drift-monitoring.png"
    page.screenshot(path=str(shot), full_page=True)
    with Image.open(shot) as image:
        assert image.width >= 1300 and image.height > 2000
        spread = ImageStat.Stat(image.convert("L")).stddev[0]
        colours = len(image.convert("RGB").getcolors(1 << 24) or [])
    assert spread > 20 and colours > 200, "the screenshot looks blank"
    tab.assert_clean()


def test_staff_filter_by_client_product_and_period(tab: Tab, site: Site) -> None:
    page = tab.page
    _log_in(tab, site, "admin")
    options = page.locator("select[name=client] option")
    assert OTHER_CLIENT in options.all_inner_texts()  # the name as written, not as markup
    page.select_option("select[name=client]", label=OTHER_CLIENT)
    page.select_option("select[name=period]", "30")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r"client=\d+"))
    assert "period=30" in page.url
    assert page.locator(".scope strong").inner_text() == OTHER_CLIENT
    assert page.locator("section.product").evaluate_all(
        "sections => sections.map(s => s.dataset.product)"
    ) == ["CREDIARIO"]
    assert page.locator("loja").count() == 0  # the name never became an element

    page.select_option("select[name=client]", label="Loja Teste")
    page.select_option("select[name=product]", "CARTAO")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r"product=CARTAO"))
    sections = page.locator("section.product")
    assert sections.count() == 1
    assert sections.first.locator("h2 .badge").inner_text() == "Estável"
    tab.assert_clean()


def test_analyst_sees_only_their_client(tab: Tab, site: Site) -> None:
    page = tab.page
    _log_in(tab, site, "analyst")
    assert page.locator("select[name=client]").count() == 0
    assert "Loja Teste" in page.locator("header.top").inner_text()
    assert page.locator(".scope strong").inner_text() == "Loja Teste"
    products = page.locator("section.product").evaluate_all(
        "sections => sections.map(s => s.dataset.product)"
    )
    assert products == ["EMPRESTIMO", "CARTAO"]  # their own batches; no CREDIARIO of the other
    assert OTHER_CLIENT not in page.content()
    assert tab.goto(f"{HOME}?client={site.client_id}") == 200
    for forged in (str(site.other_client_id), "999999", "all"):
        assert tab.goto(f"{HOME}?client={forged}", refused=True) == 404
        assert page.locator("h1").inner_text() == "Página não encontrada"
        assert OTHER_CLIENT not in page.content()
    tab.assert_clean()


def test_no_session_goes_to_login_and_logout_ends_it(tab: Tab, site: Site) -> None:
    page = tab.page
    tab.goto(f"{HOME}?product=CARTAO")
    assert (
        page.url
        == f"{site.url}/dashboard/login?next=%2Fdashboard%2Fdrift-monitoring%3Fproduct%3DCARTAO"
    )
    tab.refused.add(f"{site.url}/dashboard/login")  # the wrong password's 401
    tab.log_in(site.emails["operator"], "not the password")
    assert page.locator(".alert").inner_text() == "E-mail ou senha inválidos."
    assert page.locator("#email").input_value() == site.emails["operator"]
    tab.log_in(site.emails["operator"])
    page.wait_for_url(f"{site.url}{HOME}?product=CARTAO")  # back where they were going
    cookie = next(c for c in page.context.cookies() if c["name"] == "credguard_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/dashboard"
    assert not cookie["secure"]  # development over plain http (production: Secure)
    lifetime = cookie["expires"] - time.time()
    assert abs(lifetime - timedelta(minutes=30).total_seconds()) < 60

    page.click("header.top button[type=submit]")  # Sair
    page.wait_for_url(f"{site.url}/dashboard/login")
    assert not [c for c in page.context.cookies() if c["name"] == "credguard_session"]
    tab.goto(HOME)
    assert page.url == f"{site.url}/dashboard/login"
    tab.assert_clean()
