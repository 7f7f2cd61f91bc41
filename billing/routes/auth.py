"""Sign-up and sign-in: a tenant and its owner, and session tokens (public routes)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, EmailStr, Field

from accounts.service import AccountError, InvalidCredentials
from billing.dependencies import Services
from infra.auth import issue_session_token
from infra.http_errors import APIError
from infra.settings import get_settings

router = APIRouter(prefix="/auth", tags=["auth"])


class SignUp(BaseModel):
    business_name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    password: str = Field(min_length=10, max_length=200)


class SignIn(BaseModel):
    email: EmailStr
    password: str = Field(min_length=1, max_length=200)


def _sessions_configured() -> None:
    if not get_settings().jwt_secret:
        raise APIError(
            503, "sign-in is not configured on this installation (SECRETARY_JWT_SECRET)", code="sessions_unavailable"
        )


@router.post("/signup", status_code=201)
async def signup(body: SignUp, services: Services) -> dict:
    _sessions_configured()
    try:
        tenant_id, user = await services.accounts.create_tenant(body.business_name, body.email, body.password)
    except AccountError as exc:
        raise APIError(409, str(exc), param="email", code="account_exists") from None
    await services.subscriptions.start_trial(tenant_id, "basic", services.plans.trial_days)
    return {"tenant_id": tenant_id, "user_id": user.id, "token": issue_session_token(user.id, tenant_id, user.role)}


@router.post("/login")
async def login(body: SignIn, services: Services) -> dict:
    _sessions_configured()
    throttle = services.login_throttle
    wait = await throttle.retry_after(body.email) if throttle else None
    if wait is not None:
        raise APIError(
            429,
            f"too many failed sign-ins for this account; try again in {wait} s",
            code="too_many_attempts",
            headers={"Retry-After": str(wait)},
        )
    try:
        user = await services.accounts.authenticate(body.email, body.password)
    except InvalidCredentials:
        if throttle:
            await throttle.failed(body.email)
        raise APIError(401, "wrong e-mail or password", code="invalid_credentials") from None
    if throttle:
        await throttle.succeeded(body.email)
    return {"token": issue_session_token(user.id, user.tenant_id, user.role), "tenant_id": user.tenant_id, "role": user.role}
