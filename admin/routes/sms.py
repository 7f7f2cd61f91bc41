"""SMS: the stored history (newest first) and sending through the number policy."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from admin.dependencies import Modem, Store
from admin.schemas import PageOut, SmsRequest
from infra.auth import Admin, Reader

router = APIRouter(prefix="/sms", tags=["sms"])


@router.get("", response_model=PageOut)
async def list_sms(
    _: Reader, store: Store, limit: Annotated[int, Query(ge=1, le=100)] = 20, offset: Annotated[int, Query(ge=0)] = 0
) -> PageOut:
    page = await store.list_sms(limit, offset)
    return PageOut(items=page.items, total=page.total, limit=page.limit, offset=page.offset)


@router.post("", status_code=202)
async def send_sms(_: Admin, modem: Modem, body: SmsRequest) -> dict:
    return await modem.call("send_sms", body.number, body.text)
