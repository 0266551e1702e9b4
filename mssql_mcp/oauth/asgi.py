"""ASGI plumbing shared by the sign-in middleware: hand on a request body that was already read."""

from __future__ import annotations

from starlette.types import Message, Receive


def replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that first yields `body` as the whole request, then defers to the real one (which
    then reports the client's disconnect). Used after peeking at, or rewriting, a request body."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
