"""The staff dashboard: three months sent through the service by three agencies, then read in
headless chromium (charts drawn, tables filled, a review ruling round-tripped) and through its
API (the same published figures as the reports, staff only, no identifiers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from linkage.agency.upload import upload
from linkage.bynamelist import build_report
from linkage.bynamelist.review import pending
from linkage.bynamelist.store.schema import decisions, records
from linkage.research.evaluation.longitudinal import encode_month
from linkage.research.synthetic.scenario import write_scenario
from linkage.service.charts import CHARTS
from tests.service.conftest import Service


@pytest.fixture(scope="module")
def months(tmp_path_factory: pytest.TempPathFactory, secret, hmis_config) -> dict[str, list[Path]]:
    """Three months of three agencies' uploads of a simulated community, by month."""
    out = tmp_path_factory.mktemp("community")
    scenario = write_scenario(out / "exports", 200, 3, months=3, seed=11)
    return {
        month: encode_month(scenario, month, hmis_config, secret, out / "uploads")
        for month in scenario.months
    }


@pytest.fixture()
def community(service: Service, months: dict[str, list[Path]]) -> Service:
    """The service once the agencies have sent every month and staff have ingested each."""
    for month, paths in months.items():
        for path in paths:
            upload(service.url, service.tokens[path.stem], path, month, waits=())
        assert service.ingest(month)["state"] == "done"
    return service


def test_dashboard_data_is_the_published_figures_for_staff_only(
    community: Service, months: dict[str, list[Path]]
) -> None:
    assert community.call("GET", "/v1/dashboard", "agency_1").status_code == 403
    data: dict[str, Any] = community.call("GET", "/v1/dashboard", "staff").json()
    assert data["months"] == sorted(months) and data["latest_month"] == max(months)
    for month in months:  # the suppressed figures, exactly as the month's report has them
        report = build_report(community.store, month)
        assert data["figures"][month] == report.rows
        assert data["active_estimates"][month] == report.active_estimate
    assert data["active_estimates"][max(months)] is not None  # 200 people: shown
    assert [a["agency"] for a in data["agencies"]] == ["agency_1", "agency_2", "agency_3"]
    for agency in data["agencies"]:
        assert agency["last_upload_month"] == max(months)
        assert agency["uploads_received"] == 3 and agency["uploads_waiting"] == 0
        assert agency["days_since_upload"] == 0
    assert data["review_pending"] == len(pending(community.store))
    for name in CHARTS:
        got = community.call("GET", f"/v1/dashboard/charts/{name}.svg", "staff")
        assert got.status_code == 200 and got.headers["content-type"] == "image/svg+xml"
        assert b"<svg" in got.content[:500]
    missing = community.call("GET", "/v1/dashboard/charts/people.svg", "staff")
    assert missing.status_code == 404 and "one of active" in missing.json()["detail"]


def test_the_page_carries_no_data_and_runs_only_its_own_script(service: Service) -> None:
    page = service.call("GET", "/dashboard", None)
    assert page.status_code == 200 and 'id="sign-in"' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["cache-control"] == "no-store"
    assert service.call("GET", "/dashboard/dashboard.js", None).status_code == 200
    assert service.call("GET", "/dashboard/..%2Fapp.py", None).status_code == 404
    home = service.call("GET", "/", None, follow_redirects=False)
    assert home.status_code == 307 and home.headers["location"] == "/dashboard"


def _open(browser: Any, service: Service, token: str) -> None:
    browser.get(service.url + "/dashboard")
    browser.find_element(By.ID, "token").send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "#sign-in button").click()


def test_dashboard_renders_and_a_review_ruling_round_trips_in_chromium(
    community: Service, browser: Any
) -> None:
    waiting = pending(community.store)
    assert waiting, "the community should leave pairs for review"
    _open(browser, community, community.tokens["staff"])
    wait = WebDriverWait(browser, 60)
    wait.until(lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-loaded"))
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "2026-01"
    assert not browser.find_element(By.ID, "sign-in").is_displayed()
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.id, i.complete, i.naturalWidth])"
    )
    assert sorted(i[0] for i in images) == sorted(f"chart-{n}" for n in CHARTS)
    assert all(done and width > 200 for _, done, width in images), images
    headline = browser.find_element(By.ID, "headline").text
    latest = build_report(community.store, "2026-01").rows["all"]
    assert f"Actively homeless\n{latest['active']:,}" in headline
    guess = build_report(community.store, "2026-01").active_estimate
    assert guess is not None
    assert (
        f"Estimated from the links\n{guess['estimate']:,} (90%: {guess['low']:,}–"
        f"{guess['high']:,})" in headline
    )
    agencies = browser.find_elements(By.CSS_SELECTOR, "#agencies tbody tr")
    assert [row.text.split()[0] for row in agencies] == ["agency_1", "agency_2", "agency_3"]
    rows = browser.find_elements(By.CSS_SELECTOR, "#review tbody tr")
    assert [int(r.get_attribute("data-pair")) for r in rows] == [p.id for p in waiting]

    # nothing that names a record or a person is anywhere on the page
    with community.store.engine.connect() as conn:
        held = conn.execute(select(records.c.record_id, records.c.person_id)).all()
    text = browser.find_element(By.TAG_NAME, "body").text + browser.page_source
    assert not [value for row in held for value in row if value in text]

    first = waiting[0]
    row = rows[0]
    row.find_element(By.TAG_NAME, "input").send_keys("checked with both agencies")
    row.find_element(By.CSS_SELECTOR, "button[data-ruling='never']").click()
    wait.until(lambda b: b.find_element(By.ID, "status").text.startswith(f"pair {first.id}:"))
    assert "error" not in (browser.find_element(By.ID, "status").get_attribute("class") or "")
    left = browser.find_elements(By.CSS_SELECTOR, "#review tbody tr")
    assert [int(r.get_attribute("data-pair")) for r in left] == [p.id for p in waiting[1:]]
    with community.store.engine.connect() as conn:
        kept = conn.execute(select(decisions.c.kind, decisions.c.note)).all()
    assert kept == [("never", "checked with both agencies")]
    assert [p.id for p in pending(community.store)] == [p.id for p in waiting[1:]]


def test_a_wrong_token_gets_one_line_and_no_board(service: Service, browser: Any) -> None:
    _open(browser, service, service.tokens["agency_1"])
    status = browser.find_element(By.ID, "status")
    WebDriverWait(browser, 30).until(lambda _: "staff" in status.text)
    assert status.text == "only the coordinator's staff can do this"
    assert not browser.find_element(By.ID, "board").is_displayed()
    assert browser.find_element(By.ID, "sign-in").is_displayed()
    assert browser.execute_script("return sessionStorage.length") == 0


def test_staff_discard_a_waiting_upload_on_the_dashboard(
    community: Service, months: dict[str, list[Path]], browser: Any
) -> None:
    late = months[max(months)][0]  # agency 1 sends its last month's file again, for no month
    sent = upload(community.url, community.tokens[late.stem], late, max(months), waits=())
    _open(browser, community, community.tokens["staff"])
    wait = WebDriverWait(browser, 60)
    wait.until(lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-loaded"))
    rows = browser.find_elements(By.CSS_SELECTOR, "#waiting tbody tr")
    assert [int(r.get_attribute("data-upload")) for r in rows] == [sent["id"]]
    rows[0].find_element(By.TAG_NAME, "input").send_keys("sent twice")
    rows[0].find_element(By.TAG_NAME, "button").click()
    wait.until(lambda b: b.find_element(By.ID, "status").text.startswith(f"upload {sent['id']}:"))
    assert browser.find_element(By.ID, "status").text == f"upload {sent['id']}: discarded"
    assert browser.find_elements(By.CSS_SELECTOR, "#waiting tbody tr") == []
    assert browser.find_element(By.ID, "waiting-empty").is_displayed()
    states = {u["id"]: u["state"] for u in community.call("GET", "/v1/uploads", "staff").json()}
    assert states[sent["id"]] == "discarded"
