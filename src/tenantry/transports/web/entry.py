"""The entry flow (SPEC §11): one "continue with email" page, then the same next page for
every address (password, or a mailed code that signs in or signs up), code confirmation,
forgotten passwords and sign-out. Thin: the identity flows decide; these pages show."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData

from tenantry.bootstrap import Container
from tenantry.domain.identity.addresses import normalize_email
from tenantry.domain.identity.toolkit import TokenPair
from tenantry.errors import DomainError, PermissionDenied, Throttled
from tenantry.transports.rest.deps import ClientDep, ContainerDep
from tenantry.transports.rest.devices import remember_device
from tenantry.transports.rest.problems import status_for
from tenantry.transports.web.destinations import HOME, NEXT_LIMIT, login_url, safe_next
from tenantry.transports.web.render import WebRoute, page, redirect
from tenantry.transports.web.visitors import (
    CSRF_FIELD,
    EntryForm,
    clear_session_cookie,
    field,
    form_nonce,
    resolve_visitor,
    same_site_request,
    session_token,
    set_form_cookie,
    set_session_cookie,
)

router = APIRouter(route_class=WebRoute, include_in_schema=False)
EMAIL_LIMIT = 320
CODE_LIMIT = 32


def next_of(form: FormData) -> str:
    return safe_next(field(form, "next", limit=NEXT_LIMIT + 1))


def entry_page(
    request: Request, container: Container, template: str, *, status: int = 200, **context: Any
) -> Response:
    """A pre-login page: its forms carry the token for the browser's nonce cookie."""
    nonce, new = form_nonce(request, container)
    response = page(
        request,
        template,
        status=status,
        csrf_token=container.web_sessions.form_token(nonce),
        **context,
    )
    if new:
        set_form_cookie(response, container, nonce)
    return response


def failure(error: DomainError) -> tuple[int, str]:
    """The status and the message a failed step shows (the API's wording)."""
    if isinstance(error, Throttled):
        minutes = math.ceil(error.retry_after / 60)
        unit = "minute" if minutes == 1 else "minutes"
        return 429, f"Too many attempts. Try again in {minutes} {unit}."
    return status_for(error), error.detail


def refused_page(
    request: Request,
    container: Container,
    error: DomainError,
    template: str,
    title: str,
    email: str,
    to: str,
    *,
    message: str | None = None,
) -> Response:
    """The page the visitor came from again, with the refusal (or `message` in its place); a
    throttled one says when to retry."""
    status, refusal = failure(error)
    response = entry_page(
        request,
        container,
        template,
        status=status,
        title=title,
        email=email,
        error=message or refusal,
        next=to,
    )
    if isinstance(error, Throttled):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


async def signed_in_response(
    request: Request, container: Container, pair: TokenPair, to: str = HOME
) -> Response:
    """Start a web session on the identity session just opened: always a new cookie token
    (the old one, if any, is ended), so no token chosen before sign-in survives it."""
    old = session_token(request, container)
    if old:
        await container.web_sessions.close(old[:200])
    token = await container.web_sessions.open(refresh_token=pair.refresh_token)
    response = redirect(to)
    set_session_cookie(response, container, token)
    remember_device(response, container.settings, pair)
    return response


def normalized_email(raw: str) -> str | None:
    try:
        return normalize_email(raw.strip())
    except ValueError:
        return None


@router.get("/")
async def home(request: Request, container: ContainerDep) -> Response:
    visitor = await resolve_visitor(request, container)
    return redirect("/app" if visitor else "/login")


@router.get("/login")
async def login_page(request: Request, container: ContainerDep) -> Response:
    to = safe_next(request.query_params.get("next", ""))
    if await resolve_visitor(request, container):
        return redirect(to)
    return entry_page(
        request, container, "login.html", title="Continue with email", email="", next=to
    )


@router.post("/login")
async def continue_with_email(
    request: Request, container: ContainerDep, form: EntryForm
) -> Response:
    """The next step is the same for every well-formed address: nothing is looked up."""
    raw = field(form, "email", limit=EMAIL_LIMIT)
    email = normalized_email(raw)
    if email is None:
        return entry_page(
            request,
            container,
            "login.html",
            status=422,
            title="Continue with email",
            email=raw,
            error="Enter a valid email address.",
            next=next_of(form),
        )
    return entry_page(
        request, container, "login_next.html", title="Sign in", email=email, next=next_of(form)
    )


@router.post("/login/password")
async def sign_in_with_password(
    request: Request, container: ContainerDep, client: ClientDep, form: EntryForm
) -> Response:
    email = field(form, "email", limit=EMAIL_LIMIT)
    try:
        pair = await container.login.login(
            email=email, password=field(form, "password"), client=client
        )
    except DomainError as error:
        message = None
        if isinstance(error, PermissionDenied):  # email_not_confirmed: only after a right password
            message = "Confirm your email address first: email yourself a code below."
        return refused_page(
            request,
            container,
            error,
            "login_next.html",
            "Sign in",
            email,
            next_of(form),
            message=message,
        )
    return await signed_in_response(request, container, pair, next_of(form))


@router.post("/login/code")
async def email_me_a_code(
    request: Request, container: ContainerDep, client: ClientDep, form: EntryForm
) -> Response:
    email = normalized_email(field(form, "email", limit=EMAIL_LIMIT))
    if email is None:
        return redirect("/login")
    try:
        await container.signup.request_email_code(email=email, client=client)
    except Throttled as error:
        return refused_page(
            request, container, error, "login_next.html", "Sign in", email, next_of(form)
        )
    return entry_page(
        request,
        container,
        "login_code.html",
        title="Check your email",
        email=email,
        next=next_of(form),
    )


@router.post("/login/confirm")
async def confirm_code(
    request: Request, container: ContainerDep, client: ClientDep, form: EntryForm
) -> Response:
    email = field(form, "email", limit=EMAIL_LIMIT)
    try:
        pair = await container.signup.confirm(
            email=email,
            code=field(form, "code", limit=CODE_LIMIT).strip(),
            password=None,
            client=client,
        )
    except DomainError as error:
        return refused_page(
            request, container, error, "login_code.html", "Check your email", email, next_of(form)
        )
    to = next_of(form)
    if to == HOME:  # a new account's first confirmation lands on its tenant's onboarding wizard
        started = await container.signup.start_onboarding(email=email)
        if started is not None:
            to = f"/app/t/{started}/onboarding"
    return await signed_in_response(request, container, pair, to)


@router.get("/login/forgot")
async def forgot_page(request: Request, container: ContainerDep) -> Response:
    email = request.query_params.get("email", "")[:EMAIL_LIMIT]
    to = safe_next(request.query_params.get("next", ""))
    return entry_page(
        request, container, "forgot.html", title="Reset your password", email=email, next=to
    )


@router.post("/login/forgot")
async def forgot(
    request: Request, container: ContainerDep, client: ClientDep, form: EntryForm
) -> Response:
    email = field(form, "email", limit=EMAIL_LIMIT).strip()
    if not email:
        return redirect(login_url("/login/forgot", next_of(form)))
    try:
        await container.recovery.forgot_password(email=email, client=client)
    except Throttled as error:
        return refused_page(
            request, container, error, "forgot.html", "Reset your password", email, next_of(form)
        )
    return entry_page(
        request,
        container,
        "reset.html",
        title="Choose a new password",
        email=email,
        next=next_of(form),
    )


@router.post("/login/reset")
async def reset(
    request: Request, container: ContainerDep, client: ClientDep, form: EntryForm
) -> Response:
    email = field(form, "email", limit=EMAIL_LIMIT)
    try:
        await container.recovery.reset_password(
            email=email,
            code=field(form, "code", limit=CODE_LIMIT).strip(),
            password=field(form, "password"),
            client=client,
        )
    except DomainError as error:
        return refused_page(
            request,
            container,
            error,
            "reset.html",
            "Choose a new password",
            email,
            next_of(form),
        )
    return redirect(login_url("/login", next_of(form), notice="password_reset"))


@router.post("/logout")
async def sign_out(request: Request, container: ContainerDep) -> Response:
    """Sign out of this browser. Checked against the session's own CSRF token: a forged
    post cannot sign anyone out."""
    visitor = await resolve_visitor(request, container)
    if visitor is not None:
        form = await request.form(max_files=0, max_fields=50)
        presented = field(form, CSRF_FIELD, limit=200)
        valid = container.web_sessions.csrf_valid(visitor.identity.web_session_id, presented)
        if not valid or not same_site_request(request, container):
            return page(request, "rejected.html", status=403, title="Request refused")
        await container.web_sessions.close(visitor.token)
    to = safe_next(request.query_params.get("next", ""))
    response = redirect(login_url("/login", to, notice="signed_out"))
    clear_session_cookie(response, container)
    return response
