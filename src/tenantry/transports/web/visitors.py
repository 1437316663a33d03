"""Who is looking at a page: the session cookie resolved and re-checked on every request, the
CSRF checks of form posts, and the cookies themselves. The session logic is the domain's
(`tenantry.domain.identity.web_sessions`); this module only moves cookies and form fields."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Request, Response
from starlette.datastructures import FormData

from tenantry.bootstrap import Container
from tenantry.domain.identity.access import Principal
from tenantry.domain.identity.web_sessions import WebIdentity
from tenantry.errors import Unauthenticated
from tenantry.transports.rest import cookies
from tenantry.transports.rest.deps import ContainerDep
from tenantry.transports.web.destinations import back_here, login_url
from tenantry.transports.web.render import page, redirect

# The cookies' names under http; under https they take the `__Host-` prefix (cookie_name).
SESSION_COOKIE = "tenantry_session"
FORM_COOKIE = "tenantry_form"  # the pre-login CSRF nonce
CSRF_FIELD = "csrf_token"
CROSS_SITE_OK = frozenset({"same-origin", "none"})


class SignInRequired(Exception):
    """No valid session: the visitor goes to the sign-in page, then back to `back_to`."""

    def __init__(self, back_to: str) -> None:
        self.back_to = back_to


class CsrfRejected(Exception):
    """A form post without a valid CSRF token, or from another site."""


class PageInterrupt(Exception):
    """A page's answer found before its handler's work (the no-access page, a refusal): raised
    by the helper that found it, so no caller has to hand it back up, and sent as it is."""

    def __init__(self, response: Response) -> None:
        self.response = response


@dataclass(frozen=True)
class Visitor:
    """A signed-in browser, checked like an API call on this request."""

    identity: WebIdentity
    principal: Principal
    token: str
    csrf_token: str


def secure_cookies(container: Container) -> bool:
    return cookies.secure_cookies(container.settings)


def cookie_name(container: Container, name: str) -> str:
    return cookies.cookie_name(container.settings, name)


def session_token(request: Request, container: Container) -> str | None:
    """The web session token the browser presented, if any."""
    return request.cookies.get(cookie_name(container, SESSION_COOKIE))


def set_session_cookie(response: Response, container: Container, token: str) -> None:
    response.set_cookie(
        cookie_name(container, SESSION_COOKIE),
        token,
        max_age=container.settings.web_session_ttl,
        path="/",
        secure=secure_cookies(container),
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, container: Container) -> None:
    response.delete_cookie(
        cookie_name(container, SESSION_COOKIE),
        path="/",
        secure=secure_cookies(container),
        httponly=True,
        samesite="lax",
    )


def _presented_nonce(request: Request, container: Container) -> str:
    return request.cookies.get(cookie_name(container, FORM_COOKIE), "")


def form_nonce(request: Request, container: Container) -> tuple[str, bool]:
    """The browser's pre-login nonce, and whether it is new (to be set on the response)."""
    nonce = _presented_nonce(request, container)
    if 20 <= len(nonce) <= 100:
        return nonce, False
    return secrets.token_urlsafe(32), True


def set_form_cookie(response: Response, container: Container, nonce: str) -> None:
    response.set_cookie(
        cookie_name(container, FORM_COOKIE),
        nonce,
        path="/",
        secure=secure_cookies(container),
        httponly=True,
        samesite="lax",
    )


def same_site_request(request: Request, container: Container) -> bool:
    """False when the browser says the post came from another site. Requests without these
    headers (non-browser clients) rely on the token alone."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in CROSS_SITE_OK:
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    public = urlsplit(container.settings.public_url)
    allowed = {
        f"{public.scheme}://{public.netloc}",
        f"{request.url.scheme}://{request.headers.get('host', '')}",
    }
    return origin in allowed


async def _form(request: Request) -> FormData:
    return await request.form(max_files=0, max_fields=50)


def field(form: FormData, name: str, *, limit: int = 4096) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def form_id(form: FormData, name: str) -> uuid.UUID | None:
    """The id a select posted, or None when it is missing or malformed."""
    try:
        return uuid.UUID(field(form, name, limit=40))
    except ValueError:
        return None


async def entry_form(request: Request, container: ContainerDep) -> FormData:
    """The fields of a pre-login form post, after its double-submit CSRF check."""
    form = await _form(request)
    nonce = _presented_nonce(request, container)
    presented = field(form, CSRF_FIELD, limit=200)
    if not same_site_request(request, container) or not container.web_sessions.form_token_valid(
        nonce, presented
    ):
        raise CsrfRejected
    return form


EntryForm = Annotated[FormData, Depends(entry_form)]


async def resolve_visitor(request: Request, container: Container) -> Visitor | None:
    token = session_token(request, container)
    if not token or len(token) > 200:
        return None
    identity = await container.web_sessions.resolve(token)
    if identity is None:
        return None
    try:
        principal, _ = await container.authenticator.authenticate_session(
            user_id=identity.user_id,
            session_id=identity.session_id,
            email=identity.email,
            signed_in_at=identity.signed_in_at,
        )
    except Unauthenticated:
        return None
    csrf = container.web_sessions.csrf_token(identity.web_session_id)
    return Visitor(identity, principal, token, csrf)


async def signed_in(request: Request, container: ContainerDep) -> Visitor:
    visitor = await resolve_visitor(request, container)
    if visitor is None:
        raise SignInRequired(back_here(request))
    return visitor


VisitorDep = Annotated[Visitor, Depends(signed_in)]


@dataclass(frozen=True)
class Post:
    visitor: Visitor
    form: FormData


async def checked_post(request: Request, container: ContainerDep, visitor: VisitorDep) -> Post:
    """A signed-in form post whose CSRF token is bound to this web session."""
    form = await _form(request)
    presented = field(form, CSRF_FIELD, limit=200)
    valid = container.web_sessions.csrf_valid(visitor.identity.web_session_id, presented)
    if not same_site_request(request, container) or not valid:
        raise CsrfRejected
    return Post(visitor, form)


PostDep = Annotated[Post, Depends(checked_post)]


async def _sign_in_required(request: Request, error: Exception) -> Response:
    assert isinstance(error, SignInRequired)
    container: Container = request.app.state.container
    had_cookie = session_token(request, container) is not None
    notice = "session_ended" if had_cookie else ""
    response = redirect(login_url("/login", error.back_to, notice=notice))
    if had_cookie:
        clear_session_cookie(response, container)
    return response


async def _csrf_rejected(request: Request, _error: Exception) -> Response:
    return page(request, "rejected.html", status=403, title="Request refused")


async def _interrupted(_request: Request, error: Exception) -> Response:
    assert isinstance(error, PageInterrupt)
    return error.response


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(SignInRequired, _sign_in_required)
    app.add_exception_handler(CsrfRejected, _csrf_rejected)
    app.add_exception_handler(PageInterrupt, _interrupted)
