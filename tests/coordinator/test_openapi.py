"""Property-based tests of the API from its own OpenAPI description (schemathesis): requests
generated for every operation, valid and invalid, against a real server holding a month, with
every answer checked against the description (status codes, content types, bodies) and never
a server error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from linkage.coordinator import upload
from tests.coordinator.conftest import Service

#: Operations only an agency's token may call; staff's token is used for the rest.
_AGENCY_ONLY = {("POST", "/v1/uploads/{month}"), ("GET", "/v1/results")}


@pytest.fixture()
def api(service: Service, uploads: list[Path]) -> Any:
    """The description the running service serves, over a store holding one month."""
    for i, path in enumerate(uploads, start=1):
        upload(service.url, service.tokens[f"agency_{i}"], path, "2026-01", waits=())
    assert service.ingest("2026-01")["state"] == "done"
    schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json")
    schema.service = service  # type: ignore[attr-defined]
    return schema


schema = schemathesis.pytest.from_fixture("api")


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_holds_to_its_description(case: Any, service: Service) -> None:
    who = "agency_1" if (case.method, case.path) in _AGENCY_ONLY else "staff"
    # an upload's body is a .clk file, which no schema can describe: bytes the description
    # allows are still refused (422) unless they are a checked, matching upload
    skip = [positive_data_acceptance] if case.path == "/v1/uploads/{month}" else []
    case.call_and_validate(
        headers={"authorization": f"Bearer {service.tokens[who]}"}, excluded_checks=skip
    )
