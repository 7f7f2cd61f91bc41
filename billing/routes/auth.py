"""Sign-up and sign-in: a tenant and its owner, and session tokens (public routes); who is signed in.

Sign-up is the moment the owner accepts the privacy policy: the acceptance (its text's version)
is kept as a consent record, and there is no account without it."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, EmailStr, Field

from accounts.service import AccountError, InvalidCredentials
from billing.dependencies import Services
from infra.auth import Reader, issue_session_token
from infra.http_errors import APIError
from infra.settings import get_settings
from privacy.policy import load_policy

router = APIRouter(prefix="/auth", tags=["auth"])


class SignUp(BaseModel):
    business_name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    password: str = Field(min_length=10, max_length=200)
    accept_privacy_policy: bool = Field(description="The owner accepts the privacy policy (required).")
    privacy_policy_version: str = Field(min_length=1, max_length=32, description="The version the owner read.")


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
    if not body.accept_privacy_policy:
        raise APIError(400, "accept the privacy policy to sign up", param="accept_privacy_policy", code="consent_required")
    current = str(load_policy()["version"])
    if body.privacy_policy_version != current:
        raise APIError(
            409,
            f"the privacy policy has changed (now version {current}): read it again",
            param="privacy_policy_version",
            code="policy_changed",
        )
    try:
        tenant_id, user = await services.accounts.create_tenant(body.business_name, body.email, body.password)
    except AccountError as exc:
        raise APIError(409, str(exc), param="email", code="account_exists") from None
    await services.privacy(tenant_id).record_account_consent(user.id, current)
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


@router.get("/me")
async def me(principal: Reader, services: Services) -> dict:
    """Who is signed in: the console's header and what it offers (the role decides; the API enforces)."""
    if principal.tenant_id is None:
        return {"user_id": None, "email": None, "role": "operator", "tenant_id": None, "business_name": None}
    found = await services.accounts.user(principal.subject)
    if found is None:
        raise APIError(401, "this account is disabled; sign in again", code="invalid_credentials")
    user, business = found
    consents = await services.privacy(principal.tenant_id).account_consents(user.id)
    return {
        "user_id": user.id,
        "email": user.email,
        "role": user.role,
        "tenant_id": user.tenant_id,
        "business_name": business,
        "consents": [
            {"kind": c.kind, "granted": c.granted, "version": c.text_version, "at": c.at.isoformat()} for c in consents
        ],
    }
