"""Messages for the owner (``/admin/messages``), the channels they go to, and what failed.

A tenant's owner or admin sees and changes only that tenant's; the operator sees every tenant's
messages and acts on one tenant's channels with ``?tenant=``. Another tenant's message id is a
404, exactly like a missing one.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict

from admin.dependencies import database_url
from admin.schemas import PageOut
from infra.auth import Admin, Reader
from infra.http_errors import APIError
from messages.delivery_settings import ChannelsIn, DeliverySettings
from messages.outbox import Outbox
from messages.store import MessageNotFound, MessageStore
from screening.lists import ScreeningLists

router = APIRouter(tags=["messages"])


def acting_tenant(principal: Reader, tenant: Annotated[str | None, Query(max_length=64)] = None) -> str | None:
    """The tenant a settings route acts for: a signed-in user's own; the operator's choice."""
    if principal.tenant_id is not None:
        if tenant is not None and tenant != principal.tenant_id:  # as absent as a tenant that does not exist
            raise APIError(404, f"no tenant {tenant!r}", param="tenant", code="tenant_not_found")
        return principal.tenant_id
    return tenant


Tenant = Annotated[str | None, Depends(acting_tenant)]
Db = Annotated[str | None, Depends(database_url)]


def messages_of(principal: Reader, db: Db) -> MessageStore:
    return MessageStore(db, tenant_id=principal.tenant_id)


Messages = Annotated[MessageStore, Depends(messages_of)]


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["new", "read", "done"]


class VerdictIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    verdict: Literal["legit", "spam", "sales"]


def _not_found(message_id: str) -> APIError:
    return APIError(404, f"no message {message_id!r}", param="message_id", code="message_not_found")


@router.get("/messages", response_model=PageOut)
async def list_messages(
    messages: Messages,
    status: Literal["new", "read", "done"] | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> PageOut:
    items, total = await messages.list(False, status, limit, offset)
    return PageOut(items=items, total=total, limit=limit, offset=offset)


@router.get("/messages/channels")
async def get_channels(_: Admin, tenant: Tenant, db: Db) -> dict:
    return (await DeliverySettings(db).get(tenant)).public()


@router.put("/messages/channels")
async def put_channels(_: Admin, tenant: Tenant, db: Db, body: ChannelsIn) -> dict:
    return (await DeliverySettings(db).put(tenant, body)).public()


@router.get("/messages/deliveries/failed")
async def failed_deliveries(principal: Admin, db: Db) -> dict:
    """Deliveries that failed for good, or failed and wait for their next attempt."""
    return {"items": await Outbox({}, db).failures(principal.tenant_id)}


@router.get("/messages/{message_id}")
async def get_message(messages: Messages, message_id: str) -> dict:
    try:
        return await messages.get(message_id)
    except MessageNotFound:
        raise _not_found(message_id) from None


@router.patch("/messages/{message_id}")
async def set_status(_: Admin, messages: Messages, message_id: str, body: StatusIn) -> dict:
    try:
        return await messages.set_status(message_id, body.status)
    except MessageNotFound:
        raise _not_found(message_id) from None


@router.get("/screening/calls", response_model=PageOut)
async def screened_calls(
    messages: Messages, limit: Annotated[int, Query(ge=1, le=100)] = 20, offset: Annotated[int, Query(ge=0)] = 0
) -> PageOut:
    """Calls the secretary screened out (blocked, robocall, spam, sales), for the owner to review."""
    items, total = await messages.list(True, None, limit, offset)
    return PageOut(items=items, total=total, limit=limit, offset=offset)


@router.post("/screening/calls/{message_id}/verdict")
async def correct(_: Admin, messages: Messages, db: Db, message_id: str, body: VerdictIn) -> dict:
    """The owner's correction: ``legit`` releases the message to the channels and allows the
    number; ``spam``/``sales`` screens it and blocks the number."""

    async def channels_for(tenant_id: str | None) -> list[str]:
        return (await DeliverySettings(db).get(tenant_id)).enabled

    try:
        done = await messages.correct(message_id, body.verdict, channels_for)
    except MessageNotFound:
        raise _not_found(message_id) from None
    if done.list is not None and done.number_hash is not None:
        await ScreeningLists(db, tenant_id=done.tenant_id).put_hash(done.number_hash, done.number_masked, done.list)
    return {**done.message, "list": done.list}


class ListEntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str
    list: Literal["allow", "block"]
    note: str | None = None


@router.get("/screening/lists")
async def list_entries(tenant: Tenant, db: Db) -> dict:
    return {"items": [e.as_dict() for e in await ScreeningLists(db, tenant_id=tenant).entries()]}


@router.put("/screening/lists")
async def put_entry(_: Admin, tenant: Tenant, db: Db, body: ListEntryIn) -> dict:
    from screening.lists import InvalidNumber

    if body.note is not None and len(body.note) > 200:
        raise APIError(400, "note is at most 200 characters", param="note", code="invalid_request")
    try:
        return (await ScreeningLists(db, tenant_id=tenant).put(body.number, body.list, body.note)).as_dict()
    except InvalidNumber as exc:
        raise APIError(400, str(exc), param="number", code="invalid_number") from None


@router.delete("/screening/lists/{entry_id}")
async def delete_entry(_: Admin, tenant: Tenant, db: Db, entry_id: str) -> dict:
    if not await ScreeningLists(db, tenant_id=tenant).remove(entry_id):
        raise APIError(404, "no such entry on this tenant's lists", param="entry_id", code="entry_not_found")
    return {"deleted": entry_id}
