"""GET /v1/models: the personas, the base chat model, the transcription and the speech models.

A persona is a chat model to OpenAI clients (``model="anna"``); its card says which base model
and adapter version it runs on and whether it is available.
"""

from __future__ import annotations

from fastapi import APIRouter

from deployments.ingress.auth import ApiCaller
from deployments.ingress.dependencies import Models, Personas
from deployments.ingress.errors import APIError
from deployments.ingress.model_calls import call_model
from deployments.ingress.personas import list_personas

router = APIRouter(tags=["models"])
CREATED = 1764028800  # 2025-11-25: a fixed date, OpenAI clients only need an int


def _card(model_id: str, kind: str) -> dict:
    return {"id": model_id, "object": "model", "created": CREATED, "owned_by": "secretary", "kind": kind}


async def model_cards(models: Models, assistant: Personas, tenant: str | None) -> list[dict]:
    llm = await call_model(models.llm_info())
    stt = await call_model(models.stt_models())
    by_language = {lang: e["model_id"] for lang, e in models.language_llms.items()}
    cards = [
        {
            **_card(p.name, "persona"),
            "parent": by_language.get(p.language, llm["id"]),
            "display_name": p.display_name,
            "language": p.language,
            "status": p.status,
            "adapter": f"{p.adapter.name}@v{p.adapter.version}" if p.adapter else None,
        }
        for p in await list_personas(assistant, tenant)
    ]
    plan = llm.get("cpu_plan")  # on the CPU profile: which kernel serves it here (deployments/llm/cpu_plan.py)
    base = {**_card(llm["id"], "chat"), **({"kernel": plan["kernel"], "fallback": plan["fallback"]} if plan else {})}
    cards += [base] + [_card(a, "chat") for a in models.config.llm_aliases]
    cards += [{**_card(e["model_id"], "chat"), "language": lang} for lang, e in models.language_llms.items()]
    cards += [_card(m["id"], "transcription") for m in stt] + [_card("whisper-1", "transcription")]
    cards += [_card(m, "speech") for m in models.config.speech_models]
    return cards


@router.get("/v1/models")
async def list_models(models: Models, assistant: Personas, caller: ApiCaller) -> dict:
    return {"object": "list", "data": await model_cards(models, assistant, caller.tenant_id)}


@router.get("/v1/models/{model_id:path}")
async def get_model(model_id: str, models: Models, assistant: Personas, caller: ApiCaller) -> dict:
    for card in await model_cards(models, assistant, caller.tenant_id):
        if card["id"] == model_id:
            return card
    raise APIError(404, f"the model {model_id!r} does not exist", "model", "model_not_found")
