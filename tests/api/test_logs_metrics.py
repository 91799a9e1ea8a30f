"""The logs the runbook reads (backend.log, access.log) and the /metrics it watches."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import httpx
import structlog

from credguard import logs, metrics
from credguard.config import Settings
from tests.api.conftest import People

#: %h - %u [%d/%b/%Y:%H:%M:%S %z] "%r" %s %b "%{Referer}i" "%{User-agent}i"
COMBINED = re.compile(
    r"^(?P<host>\S+) - (?P<user>\S+) \[(?P<time>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "
    r'"(?P<request>(?:[^"\\]|\\.)*)" (?P<status>\d{3}) (?P<bytes>\d+|-) '
    r'"(?P<referer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)"$'
)


def _access_lines(settings: Settings, count: int) -> list[str]:
    """The access log once it has ``count`` lines (written just after each answer is sent)."""
    path = settings.resolved_log_dir / logs.ACCESS_LOG
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count:
            return lines
        time.sleep(0.05)
    raise AssertionError(f"access.log has fewer than {count} lines")


def test_access_log_in_combined_format(
    http: httpx.Client, people: People, settings: Settings
) -> None:
    http.get("/health", headers={"User-Agent": 'curl/8 "quoted"', "Referer": "https://x.test/"})
    http.get("/api/v1/batches")
    http.post("/api/v1/auth/login", json={"email": "a@b.test", "password": "12345678909"})
    http.get("/api/v1/batches/999999", headers=people.analyst.headers)
    http.get("/api/v1/batches?cpf=123.456.789-09&q=12345678909", headers=people.analyst.headers)

    lines = _access_lines(settings, 5)[-5:]
    parsed = [COMBINED.match(line) for line in lines]
    assert all(parsed), lines
    fields = [match.groupdict() for match in parsed if match]
    assert [f["status"] for f in fields] == ["200", "401", "401", "404", "200"]
    assert fields[0]["request"] == "GET /health HTTP/1.1"
    assert fields[0]["host"] == "127.0.0.1" and fields[0]["referer"] == "https://x.test/"
    assert fields[0]["agent"] == 'curl/8 \\"quoted\\"'
    assert fields[2]["request"] == "POST /api/v1/auth/login HTTP/1.1"
    assert fields[0]["bytes"].isdigit()
    # The runbook's grep finds the refusals; no CPF and no request body in any line.
    assert len([line for line in lines if re.search(r"401|403|429", line)]) == 2
    text = "\n".join(lines)
    assert "12345678909" not in text and "123.456.789-09" not in text
    assert "password" not in text
    assert logs.CPF_MASK in fields[4]["request"]


def test_backend_log_levels_and_masking(tmp_path: Path) -> None:
    logs.configure("INFO", log_dir=tmp_path)
    try:
        log = structlog.get_logger("credguard.test")
        log.info("batch scored", rows=12)
        log.error(
            "row rejected",
            cpf="123.456.789-09",
            detail="customer 98765432100 has no income",
            name="Maria da Silva",
            raw=12345678901,
            job_id=42,
        )
        log.critical("database unreachable")
        logging.getLogger("sqlalchemy.test").warning("plain logging with 111.222.333-44 too")
        try:
            raise ValueError("bad CPF 12345678909")
        except ValueError:
            log.exception("unexpected failure")
    finally:
        logs.configure("WARNING")
    lines = (tmp_path / logs.BACKEND_LOG).read_text().splitlines()
    assert any("level='INFO'" in line and "rows=12" in line for line in lines)
    errors = [line for line in lines if "error" in line.lower()]
    assert len(errors) == 2 and "job_id=42" in errors[0]
    assert any("level='CRITICAL'" in line for line in lines)
    assert any("level='WARNING'" in line and "plain logging" in line for line in lines)
    text = "\n".join(lines)
    for secret in ["123.456.789-09", "98765432100", "12345678901", "111.222.333-44", "Maria"]:
        assert secret not in text
    assert "12345678909" not in text and "Traceback" in text  # tracebacks kept, masked


def test_masking_leaves_other_numbers_alone() -> None:
    assert logs.mask_cpf("job 123 at 2026-01-02, id 1234567890123") == (
        "job 123 at 2026-01-02, id 1234567890123"
    )
    assert logs.mask_cpf("cpf=52998224725;") == f"cpf={logs.CPF_MASK};"


def test_metrics_after_some_requests(http: httpx.Client, people: People) -> None:
    for job_id in (1, 2, 3):
        http.get(f"/api/v1/batches/{job_id}", headers=people.analyst.headers)
    http.get("/api/v1/batches", headers=people.analyst.headers)
    http.get("/no/such/page")
    metrics.observe_batch(12.5, 25_000)

    answer = http.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    template = 'method="GET",route="/api/v1/batches/{job_id}"'
    buckets = [
        line
        for line in text.splitlines()
        if line.startswith("credguard_http_request_duration_seconds_bucket{")
    ]
    assert any(template in line and 'le="0.005"' in line for line in buckets)
    assert f'credguard_http_errors_total{{{template},status="404"}}' in text
    assert 'route="/api/v1/batches/1"' not in text  # per template, never per raw path
    assert 'route="<unmatched>"' in text
    for name in [
        "credguard_db_connections_in_use",
        "credguard_db_connections_max",
        "credguard_batch_queue_depth",
        "credguard_batch_job_duration_seconds_count",
        "credguard_batch_job_rows_per_second_count",
    ]:
        assert re.search(rf"^{name} \d", text, re.MULTILINE), name
    maximum = re.search(r"^credguard_db_connections_max (\S+)$", text, re.MULTILINE)
    in_use = re.search(r"^credguard_db_connections_in_use (\S+)$", text, re.MULTILINE)
    assert maximum and in_use and 0 <= float(in_use.group(1)) <= float(maximum.group(1))
    assert re.search(r"^credguard_batch_queue_depth 0\.0$", text, re.MULTILINE)
