"""API keys for ``/v1``: made (shown once), listed, revoked, always within the caller's tenant."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from accounts.service import AccountError
from billing.dependencies import Services, TenantUser
from infra.http_errors import APIError

router = APIRouter(prefix="/api-keys", tags=["api-keys"])


class NewKey(BaseModel):
    name: str = Field(min_length=1, max_length=100)


@router.get("")
async def list_keys(user: TenantUser, services: Services) -> dict:
    keys = await services.accounts.list_api_keys(user.tenant_id)
    return {
        "items": [
            {"id": k.id, "name": k.name, "prefix": k.prefix, "created_at": k.created_at.isoformat(), "revoked": k.revoked}
            for k in keys
        ]
    }


@router.post("", status_code=201)
async def create_key(body: NewKey, user: TenantUser, services: Services) -> dict:
    info, key = await services.accounts.issue_api_key(user.tenant_id, body.name)
    return {
        "id": info.id,
        "name": info.name,
        "prefix": info.prefix,
        "key": key,
        "note": "this is the only time the key is shown; store it now",
    }


@router.delete("/{key_id}", status_code=204)
async def revoke_key(key_id: str, user: TenantUser, services: Services) -> Response:
    try:
        await services.accounts.revoke_api_key(user.tenant_id, key_id)
    except AccountError:
        raise APIError(404, "no such API key", param="key_id", code="not_found") from None
    return Response(status_code=204)
