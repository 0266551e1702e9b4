"""The sign-in and consent pages that `/authorize` sends the browser to.

    GET  /login?request=K    the form (username, password, CSRF); with AUTH_MODE=oidc, a 303 to the company's
                             identity provider (oidc_pages.py), or, with LOCAL_PASSWORDS=true, the form and a
                             "Sign in with ..." button
    POST /login              throttle → argon2 check → 303 to /consent (the pending request now names the
                             user and the browser that signed in)
    GET  /consent?request=K  who is asking, where the code will go, what access it gets
    POST /consent            Allow → 303 to redirect_uri?code&state&iss; Deny → ?error=access_denied&state&iss

Errors never say whether the username exists (one generic message, and the same argon2 work either way).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode, urlsplit

from mcp.server.auth.provider import AuthorizationParams
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from mssql_mcp.logs import event
from mssql_mcp.oauth.csrf import Csrf
from mssql_mcp.oauth.identity import is_person_key
from mssql_mcp.oauth.oidc_pages import UpstreamSignIn
from mssql_mcp.oauth.provider import Provider
from mssql_mcp.oauth.store import PendingRecord, digest
from mssql_mcp.oauth.throttle import LoginThrottle
from mssql_mcp.oauth.users import Users
from mssql_mcp.web import message_page, page

log = logging.getLogger("mssql_mcp.auth")

FAILED = "Sign-in failed. Check the username and password and try again."
EXPIRED = "This sign-in request has expired or was already used. Go back to the application and connect again."
FORM_EXPIRED = "This form has expired. Go back to the application and connect again."
ACCESS = "Use this server's database tools (list tables, read data) on your behalf, until you revoke it."


LOCAL_OFF = "Sign-in with a local password is off on this server. Use the identity provider's sign-in."


class LoginPages:
    """`upstream` (AUTH_MODE=oidc) adds the identity provider's sign-in, labelled `upstream_label`; the local
    password form is then offered only with `local_passwords` (break-glass accounts)."""

    def __init__(
        self,
        provider: Provider,
        users: Users,
        throttle: LoginThrottle,
        csrf: Csrf,
        prefix: str,
        *,
        upstream: UpstreamSignIn | None = None,
        upstream_label: str = "",
        local_passwords: bool = True,
    ) -> None:
        self.provider = provider
        self.users = users
        self.throttle = throttle
        self.csrf = csrf
        self.prefix = prefix
        self.upstream = upstream
        self.upstream_label = upstream_label
        self.local_passwords = local_passwords or upstream is None

    def routes(self) -> list[BaseRoute]:
        return [
            Route(f"{self.prefix}/login", self.login, methods=["GET", "POST"]),
            Route(f"{self.prefix}/consent", self.consent, methods=["GET", "POST"]),
        ]

    # -- /login ---------------------------------------------------------------------------------
    async def login(self, request: Request) -> Response:
        if request.method == "GET":
            key = request.query_params.get("request", "")
            if self.upstream is not None and not self.local_passwords:
                # The company's identity provider is the only way in: straight there.
                if await self.provider.pending(key) is None:
                    return message_page("Sign-in", EXPIRED, status=400)
                return RedirectResponse(self.upstream.start_url(key), status_code=303)
            return await self._login_form(request, key)
        if not self.local_passwords:
            return message_page("Sign-in", LOCAL_OFF, status=403)
        form = await request.form()
        key, csrf = str(form.get("request", "")), str(form.get("csrf", ""))
        username, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
        if not self.csrf.check("login", request, key, csrf):
            return message_page("Sign-in", FORM_EXPIRED, status=403)
        found = await self.provider.pending(key)
        if found is None:
            return message_page("Sign-in", EXPIRED, status=400)
        ip = request.client.host if request.client else "unknown"
        # A slot is reserved (counted as a failure) before the password is checked, so a burst of
        # concurrent attempts cannot all pass the throttle before any of them counts.
        wait = await self.throttle.reserve(username, ip)
        if wait > 0:
            event(log, "login_throttled", level=logging.WARNING, user=username, ip=ip, wait_s=round(wait, 1))
            return await self._login_form(
                request,
                key,
                error="Too many failed attempts. Wait a moment and try again.",
                username=username,
                status=429,
                headers={"Retry-After": str(int(wait) + 1)},
            )
        ok = await self.throttle.check_password(lambda: self.users.verify(username, password))
        if not ok:
            event(log, "login_failed", level=logging.WARNING, user=username, ip=ip)
            return await self._login_form(request, key, error=FAILED, username=username, status=401)
        await self.throttle.succeeded(username, ip)
        browser, _ = self.csrf.browser(request)
        await self.provider.mark_signed_in(key, username, browser)
        event(log, "login_ok", user=username, ip=ip, client=found[0].client_id)
        return RedirectResponse(f"{self.prefix}/consent?{urlencode({'request': key})}", status_code=303)

    async def _login_form(
        self,
        request: Request,
        key: str,
        *,
        error: str = "",
        username: str = "",
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Response:
        found = await self.provider.pending(key)
        if found is None:
            return message_page("Sign-in", EXPIRED, status=400 if status == 200 else status)
        client_name = await self._client_name(found[0].client_id)
        browser, new = self.csrf.browser(request)
        response = page(
            "login.html",
            title="Sign in",
            status=status,
            headers=headers,
            client_name=client_name,
            action=f"{self.prefix}/login",
            request=key,
            csrf=self.csrf.token("login", browser, key),
            username=username,
            error=error,
            upstream_action=self.upstream.start_path if self.upstream is not None else "",
            upstream_label=self.upstream_label,
        )
        if new:
            self.csrf.set_cookie(response, browser)
        return response

    # -- /consent -------------------------------------------------------------------------------
    async def consent(self, request: Request) -> Response:
        if request.method == "GET":
            key = request.query_params.get("request", "")
            return await self._with_signed_in(request, key, self._consent_form)
        form = await request.form()
        key, csrf, decision = str(form.get("request", "")), str(form.get("csrf", "")), str(form.get("decision", ""))
        if not self.csrf.check("consent", request, key, csrf):
            return message_page("Allow access?", FORM_EXPIRED, status=403)

        async def decide(request: Request, key: str, record: PendingRecord, params: AuthorizationParams) -> Response:
            # Consent is given once: take the pending request so a second POST finds nothing.
            if not await self.provider.take_pending(key):
                return message_page("Allow access?", EXPIRED, status=400)
            if decision == "approve":
                url = await self.provider.issue_code(record.client_id, record.username or "", params)
            else:
                event(log, "consent_denied", user=record.username, client=record.client_id)
                url = self.provider.deny_url(params)
            return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})

        return await self._with_signed_in(request, key, decide)

    async def _consent_form(
        self, request: Request, key: str, record: PendingRecord, params: AuthorizationParams
    ) -> Response:
        browser, _ = self.csrf.browser(request)
        return page(
            "consent.html",
            title="Allow access?",
            username=await self._shown_name(record.username or ""),
            client_name=await self._client_name(record.client_id),
            redirect_host=urlsplit(str(params.redirect_uri)).netloc,
            access=ACCESS,
            resource=params.resource or "",
            action=f"{self.prefix}/consent",
            request=key,
            csrf=self.csrf.token("consent", browser, key),
        )

    async def _with_signed_in(
        self,
        request: Request,
        key: str,
        then: Callable[[Request, str, PendingRecord, AuthorizationParams], Awaitable[Response]],
    ) -> Response:
        found = await self.provider.pending(key)
        if found is None:
            return message_page("Allow access?", EXPIRED, status=400)
        record, params = found
        browser = request.cookies.get(self.csrf.cookie_name, "")
        # Only the browser that signed in may consent (its CSRF cookie digest was recorded at sign-in).
        if record.username is None or not browser or record.browser_hash != digest(browser):
            return message_page("Allow access?", "Sign in first. " + EXPIRED, status=403)
        return await then(request, key, record, params)

    async def _shown_name(self, username: str) -> str:
        """A person from the identity provider is shown by name and e-mail, not by their key."""
        if not is_person_key(username):
            return username
        person = await self.provider.person(username)
        if person is None:
            return username
        return f"{person.name} <{person.email}>" if person.email and person.email != person.name else person.name

    async def _client_name(self, client_id: str) -> str:
        client = await self.provider.get_client(client_id)
        name = client.client_name if client is not None and client.client_name else "An application"
        return name[:100]
