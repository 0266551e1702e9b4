"""The protocol era, as a fixture: a tool test that uses it runs once per era, through the same SDK client.

A module opts in with `pytest.mark.usefixtures("era")`; `connect()` then speaks that era (see
tests/support/mcp_client.py). The legacy SSE transport has no 2026-07-28 form, so it runs in 2025 only.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.mcp_client import Era, use_era


@pytest.fixture(params=["2025", "2026"])
def era(request: pytest.FixtureRequest) -> Iterator[Era]:
    value: Era = request.param
    callspec = getattr(request.node, "callspec", None)
    if value == "2026" and callspec is not None and callspec.params.get("transport") == "sse":
        pytest.skip("the legacy SSE transport speaks only the handshake era")
    with use_era(value):
        yield value
