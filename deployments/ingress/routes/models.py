"""GET /v1/models: the chat model, the transcription models and the speech models."""

from __future__ import annotations

from fastapi import APIRouter

from deployments.ingress.dependencies import Models
from deployments.ingress.errors import APIError
from deployments.ingress.model_calls import call_model

router = APIRouter(tags=["models"])
CREATED = 1764028800  # 2025-11-25: a fixed date, OpenAI clients only need an int


def _card(model_id: str, kind: str) -> dict:
    return {"id": model_id, "object": "model", "created": CREATED, "owned_by": "secretary", "kind": kind}


async def model_cards(models: Models) -> list[dict]:
    llm = await call_model(models.llm_info())
    stt = await call_model(models.stt_models())
    cards = [_card(llm["id"], "chat")] + [_card(a, "chat") for a in models.config.llm_aliases]
    cards += [_card(m["id"], "transcription") for m in stt] + [_card("whisper-1", "transcription")]
    cards += [_card(m, "speech") for m in models.config.speech_models]
    return cards


@router.get("/v1/models")
async def list_models(models: Models) -> dict:
    return {"object": "list", "data": await model_cards(models)}


@router.get("/v1/models/{model_id:path}")
async def get_model(model_id: str, models: Models) -> dict:
    for card in await model_cards(models):
        if card["id"] == model_id:
            return card
    raise APIError(404, f"the model {model_id!r} does not exist", "model", "model_not_found")
