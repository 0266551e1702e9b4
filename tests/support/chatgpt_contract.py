"""ChatGPT's search/fetch contract as JSON Schema, and helpers that check a tool result against it.

The contract (OpenAI's MCP server documentation for search and fetch): each tool returns exactly one text
content item whose text is JSON; search gives {"results": [{"id", "title", "url"}]}, fetch gives
{"id", "title", "text", "url", "metadata"}. Beside it, as the guide's example does, the same object is the
result's structuredContent. A result is cited only when its url is a non-empty string. Metadata values are
typed: counts are integers, flags booleans, the primary key an array of column names, the rest strings.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
from mcp_types import CallToolResult, TextContent

from mssql_mcp.faces.chatgpt.signing import IdSigner

_URL = {"type": "string", "minLength": 1, "format": "uri", "pattern": "^https?://"}

SEARCH_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["results"],
    "additionalProperties": False,
    "properties": {
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "title", "url"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "string", "minLength": 1},
                    "title": {"type": "string", "minLength": 1},
                    "url": _URL,
                },
            },
        }
    },
}

FETCH_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["id", "title", "text", "url"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "minLength": 1},
        "title": {"type": "string", "minLength": 1},
        "text": {"type": "string"},
        "url": _URL,
        "metadata": {
            "type": "object",
            "required": ["kind"],
            "properties": {
                "kind": {"enum": ["catalog", "table", "column", "sample", "row", "query"]},
                "tables": {"type": "integer", "minimum": 0},
                "row_count": {"type": ["integer", "null"], "minimum": 0},
                "truncated": {"type": "boolean"},
                "truncated_reason": {"enum": ["rows", "bytes"]},
                "cached": {"type": "boolean"},
                "primary_key": {"type": "array", "items": {"type": "string", "minLength": 1}},
            },
            "additionalProperties": {"type": "string"},
        },
    },
}

_FORMATS = jsonschema.Draft202012Validator.FORMAT_CHECKER


def _payload(result: CallToolResult) -> Any:
    """The JSON of the one text item, which must equal the structured content beside it."""
    assert not result.is_error, result.content
    assert len(result.content) == 1, f"expected exactly one content item, got {len(result.content)}"
    block = result.content[0]
    assert isinstance(block, TextContent)
    payload = json.loads(block.text)
    assert result.structured_content == payload, "structuredContent is the text item's JSON, as it is"
    return payload


def search_results(result: CallToolResult) -> list[dict[str, str]]:
    payload = _payload(result)
    jsonschema.validate(payload, SEARCH_SCHEMA, format_checker=_FORMATS)
    results: list[dict[str, str]] = payload["results"]
    return results


def fetched(result: CallToolResult) -> dict[str, Any]:
    payload: dict[str, Any] = _payload(result)
    jsonschema.validate(payload, FETCH_SCHEMA, format_checker=_FORMATS)
    return payload


# Record ids are signed (mssql_mcp/faces/chatgpt/signing.py). Test servers run with RECORD_ID_KEYS set to this
# key, so a test can name a record directly, as search would have handed it out.
TEST_ID_KEY = "test-only-record-id-key-0123456789abcdef"
_TAGGED = re.compile(r"~[A-Za-z0-9_-]{22}\Z")


def signed(record_id: str, key: str = TEST_ID_KEY) -> str:
    """`record_id` with the tag the test key gives it (left as it is when it already carries one)."""
    return record_id if _TAGGED.search(record_id) else IdSigner([key.encode()]).sign(record_id)


def unsigned(record_id: str) -> str:
    """The id without its tag, to compare with what a test expects."""
    return _TAGGED.sub("", record_id)
