"""The account's users: the owner adds admins and viewers and removes them.

Only the owner manages users (``Owner``): an admin who could create admins could keep access the
owner took away. Viewers see the console and change nothing (``infra/auth.py``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, EmailStr, Field

from accounts.service import AccountError
from billing.dependencies import Services
from infra.auth import Owner, Reader
from infra.http_errors import APIError

router = APIRouter(prefix="/team", tags=["team"])


class MemberIn(BaseModel):
    email: EmailStr
    password: str = Field(min_length=10, max_length=200)
    role: Literal["admin", "viewer"]


def _tenant(tenant_id: str | None) -> str:
    if tenant_id is None:
        raise APIError(403, "this route acts for a tenant: sign in as its owner", code="tenant_required")
    return tenant_id


@router.get("")
async def members(principal: Reader, services: Services) -> dict:
    return {"items": await services.accounts.members(_tenant(principal.tenant_id))}


@router.post("", status_code=201)
async def add_member(principal: Owner, services: Services, body: MemberIn) -> dict:
    tenant_id = _tenant(principal.tenant_id)
    try:
        user = await services.accounts.add_user(tenant_id, body.email, body.password, body.role)
    except AccountError as exc:
        raise APIError(409, str(exc), param="email", code="account_exists") from None
    return {"id": user.id, "email": user.email, "role": user.role}


@router.delete("/{user_id}", status_code=204)
async def remove_member(
    principal: Owner, services: Services, user_id: Annotated[str, Path(min_length=1, max_length=64)]
) -> None:
    if not await services.accounts.disable_user(_tenant(principal.tenant_id), user_id):
        raise APIError(404, f"no member {user_id!r} (the owner cannot be removed)", param="user_id", code="not_found")
