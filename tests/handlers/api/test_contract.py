"""A property-based run of the API against its own contract: no 5xx, and no answer that breaks the schema."""
from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, given, settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from handlers.api import tokens
from tests.handlers.api.test_open_api import api, make_permit  # noqa: F401 - fixtures and rows shared

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# The same inputs every CI run; FUZZ_EXAMPLES explores fresh ones locally, as the fuzz suite does.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0")) or 25


def test_every_operation_keeps_its_contract_under_generated_requests(api):  # noqa: F811
    make_permit("DH-20261124-0001")
    headers = {"Authorization": f"Bearer {tokens.create('契约测试', 'write')}"}
    # The park view answers only the park office's token, and it only the park view.
    park = {"Authorization": f"Bearer {tokens.create('园区契约测试', 'park')}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api.application)
    tried = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @hypothesis_settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("FUZZ_EXAMPLES"),
                             suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def run(case):
            nonlocal tried
            tried += 1
            case.call_and_validate(headers=park if case.path.startswith("/api/v1/park/") else headers,
                                   checks=CHECKS)

        run()
    # Printed for the README's figure: requests tried, failures 0 (a failure raises above).
    print(f"contract: {tried} requests over {len(schema)} operations, 0 failures")
    assert tried >= 7 * 5
