"""Property-based tests of the API from its own OpenAPI description (schemathesis): requests
generated for every operation, valid and invalid, against a real server holding a month, with
every answer checked against the description (status codes, content types, bodies) and never
a server error.

The cases are drawn from each operation's Hypothesis strategy inside one plain test rather
than through schemathesis's pytest plugin: the plugin's fixture-loaded schemas reach into
pytest's private node attributes and broke on pytest 9.2, while strategies and
``call_and_validate`` are the library's documented Python interface."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from linkage.agency.upload import upload
from tests.service.conftest import Service

#: Operations only an agency's token may call; staff's token is used for the rest.
_AGENCY_ONLY = {("POST", "/v1/uploads/{month}"), ("GET", "/v1/results")}


def _check_operation(operation: Any, mode: GenerationMode, service: Service) -> None:
    """Draw cases of one operation in one mode and hold every answer to the description."""
    who = "agency_1" if (operation.method.upper(), operation.path) in _AGENCY_ONLY else "staff"
    # an upload's body is a .clk file, which no schema can describe: bytes the description
    # allows are still refused (422) unless they are a checked, matching upload
    skip = [positive_data_acceptance] if operation.path == "/v1/uploads/{month}" else []

    @given(case=operation.as_strategy(generation_mode=mode))
    # schemathesis filters what it draws (invalid data must really be invalid), as its own
    # runner allows for
    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def holds(case: Any) -> None:
        case.call_and_validate(
            base_url=service.url,
            headers={"authorization": f"Bearer {service.tokens[who]}"},
            excluded_checks=skip,
        )

    holds()


def test_every_operation_holds_to_its_description(service: Service, uploads: list[Path]) -> None:
    for i, path in enumerate(uploads, start=1):
        upload(service.url, service.tokens[f"agency_{i}"], path, "2026-01", waits=())
    assert service.ingest("2026-01")["state"] == "done"
    schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    described = {(operation.method.upper(), operation.path) for operation in operations}
    assert _AGENCY_ONLY | {("POST", "/v1/months/{month}/ingest")} <= described
    for operation in operations:
        for mode in GenerationMode:
            try:
                _check_operation(operation, mode, service)
            except Unsatisfiable as error:
                # no invalid request can be drawn for an operation that takes nothing (the
                # health check) or only a path segment every string fits; valid ones can be
                if mode is GenerationMode.NEGATIVE:
                    continue
                error.add_note(f"in {operation.label}, {mode.value}")
                raise
            except Exception as error:
                error.add_note(f"in {operation.label}, {mode.value}")
                raise
