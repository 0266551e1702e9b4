"""Two fields of a /token or /revoke form that the MCP SDK does not pass to the provider, handed over per request.

Why this exists: the SDK's token and revocation handlers parse the form themselves, then call
`provider.get_client(client_id)` and `provider.exchange_*(client, grant)` without the form. Two of its
fields matter to us:

- the client secret presented: clients' secrets are stored only as digests, while the SDK compares
  `client_secret` in clear, so `Provider.get_client` must know what was presented to hand the SDK a
  matching value (routes.py's `TokenRequestShim` has the form);
- the RFC 8707 `resource` of a token request, which must equal the one the code or refresh token was
  issued for (RFC 8707 §2.2).

`TokenRequestShim` reads the form and opens `token_request(...)` around the SDK's handler; `Provider` reads
the values back. Context variables are per task, so concurrent requests never see each other's values, and
outside a token request both are None. Nothing else uses them; were the SDK to pass the form to the
provider, this module would go.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

_secret: contextvars.ContextVar[str | None] = contextvars.ContextVar("presented_secret", default=None)
_resource: contextvars.ContextVar[str | None] = contextvars.ContextVar("requested_resource", default=None)


@contextmanager
def token_request(*, secret: str | None, resource: str | None) -> Iterator[None]:
    """For the duration of one /token or /revoke request: what its form (or Basic header) carried."""
    tokens = (_secret.set(secret), _resource.set(resource))
    try:
        yield
    finally:
        _secret.reset(tokens[0])
        _resource.reset(tokens[1])


def presented_secret() -> str | None:
    return _secret.get()


def requested_resource() -> str | None:
    return _resource.get()
