"""POST /v1/audio/speech and POST /v1/audio/transcriptions.

Both are metered (``deployments/ingress/usage.py``): speech is refused once the month's
``tts_ms`` are used up and counts the audio it produced; a transcription knows its duration from
the decoded file and consumes it up front, atomically, so it is refused (402) when it would not fit.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

import numpy as np
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from faster_whisper.tokenizer import _LANGUAGE_CODES

from deployments.ingress import usage
from deployments.ingress.dependencies import AppSettings, Models
from deployments.ingress.errors import APIError
from deployments.ingress.model_calls import call_model, first_and_rest
from deployments.ingress.schemas import SpeechRequest, TranscriptionFormat
from infra.audio import MIME_TYPES, AudioDecodeError, decode_audio, encode_audio, encoded_rate

router = APIRouter(tags=["audio"])
OPENAI_PCM_RATE = 24000


def _resolve_voice(models: Models, voice: str) -> str:
    return models.config.voice_aliases.get(voice, voice)


@router.post("/v1/audio/speech")
async def speech(body: SpeechRequest, models: Models, settings: AppSettings, request: Request, gate: usage.Gate):
    if body.model not in models.config.speech_models:
        raise APIError(
            404,
            f"the model {body.model!r} does not exist; speech models: {', '.join(models.config.speech_models)}",
            "model",
            "model_not_found",
        )
    if len(body.input) > settings.max_speech_chars:
        raise APIError(
            400,
            f"input is {len(body.input)} characters; the limit is {settings.max_speech_chars}",
            "input",
            "string_above_max_length",
        )
    voice = _resolve_voice(models, body.voice)
    known = {v["id"] for v in await call_model(models.tts_voices())}
    if voice not in known:
        raise APIError(
            400, f"unknown voice {body.voice!r}; available: {', '.join(sorted(known))}", "voice", "voice_not_found"
        )
    rate = body.sample_rate or (OPENAI_PCM_RATE if body.response_format == "pcm" else None)
    await usage.check(gate, request, "tts_ms")
    tenant, event = usage.tenant_of(request), f"tts_ms:{request.state.usage_id}"

    if body.response_format == "pcm":
        gen = models.tts.options(stream=True).stream.remote(body.input, voice, body.speed, rate)
        first, rest = await first_and_rest(gen)

        async def chunks() -> AsyncIterator[bytes]:
            sent = 0
            try:
                if first:
                    sent += len(first)
                    yield first
                async for c in rest:
                    sent += len(c)
                    yield c
            finally:  # what was streamed, also when the client left early
                await usage.record(gate, tenant, "tts_ms", sent // 2 * 1000 // rate, event)

        return StreamingResponse(
            chunks(),
            media_type=MIME_TYPES["pcm"],
            headers={"X-Sample-Rate": str(rate), "X-Audio-Format": "s16le;channels=1"},
        )

    pcm, out_rate = await call_model(models.tts.synthesize.remote(body.input, voice, body.speed, rate))
    samples = np.frombuffer(pcm, dtype="<i2")
    if samples.size == 0:  # e.g. only symbols or unassigned characters: there is no sound to encode
        raise APIError(400, "the input has nothing the voice can speak", "input", "nothing_to_speak")
    await usage.record(gate, tenant, "tts_ms", len(samples) * 1000 // out_rate, event)
    data = await asyncio.to_thread(encode_audio, samples, out_rate, body.response_format)
    return Response(
        data,
        media_type=MIME_TYPES[body.response_format],
        headers={"X-Sample-Rate": str(encoded_rate(body.response_format, out_rate))},
    )


def _timestamp(t: float, sep: str) -> str:
    ms = round(t * 1000)
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _subtitles(segments: list[dict], vtt: bool) -> str:
    lines = ["WEBVTT", ""] if vtt else []
    for i, s in enumerate(segments, 1):
        sep = "." if vtt else ","
        if not vtt:
            lines.append(str(i))
        lines += [f"{_timestamp(s['start'], sep)} --> {_timestamp(s['end'], sep)}", s["text"], ""]
    return "\n".join(lines)


@router.post("/v1/audio/transcriptions")
async def transcriptions(
    models: Models,
    settings: AppSettings,
    request: Request,
    gate: usage.Gate,
    file: Annotated[UploadFile, File(description="audio file in any format FFmpeg reads")],
    model: Annotated[str, Form(min_length=1, max_length=256)],
    language: Annotated[str | None, Form(max_length=8)] = None,
    prompt: Annotated[str | None, Form(max_length=2000)] = None,
    response_format: Annotated[TranscriptionFormat, Form()] = "json",
    temperature: Annotated[float, Form(ge=0.0, le=1.0)] = 0.0,
):
    stt_ids = {m["id"] for m in await call_model(models.stt_models())} | {"whisper-1"}
    if model not in stt_ids:
        raise APIError(
            404,
            f"the model {model!r} does not exist; transcription models: {', '.join(sorted(stt_ids))}",
            "model",
            "model_not_found",
        )
    language = (language or "").strip().lower() or None
    if language is not None and language not in _LANGUAGE_CODES:
        raise APIError(400, f"unsupported language {language!r}; use an ISO-639-1 code such as 'en' or 'ru'", "language")
    data = await file.read(settings.max_audio_bytes + 1)
    if len(data) > settings.max_audio_bytes:
        raise APIError(413, f"the file is larger than the limit of {settings.max_audio_bytes} bytes", "file")
    try:
        audio = await asyncio.to_thread(decode_audio, data, 16000, settings.max_audio_seconds)
    except AudioDecodeError as exc:
        raise APIError(400, f"invalid audio file: {exc}", "file", "invalid_audio") from None
    await usage.consume(gate, request, "stt_ms", len(audio.samples) * 1000 // 16000)
    result = await call_model(models.stt.transcribe.remote(audio.samples, language, model, prompt, temperature))

    if response_format == "text":
        return PlainTextResponse(result["text"] + "\n")
    if response_format in ("srt", "vtt"):
        return PlainTextResponse(
            _subtitles(result["segments"], response_format == "vtt"),
            media_type="text/vtt" if response_format == "vtt" else "text/plain",
        )
    if response_format == "json":
        return {"text": result["text"]}
    segments = [
        {
            "id": s["id"],
            "seek": 0,
            "start": s["start"],
            "end": s["end"],
            "text": s["text"],
            "tokens": [],
            "temperature": temperature,
            "avg_logprob": s["avg_logprob"],
            "compression_ratio": s["compression_ratio"],
            "no_speech_prob": s["no_speech_prob"],
        }
        for s in result["segments"]
    ]
    body = {
        "task": "transcribe",
        "language": result["language"],
        "duration": result["duration"],
        "text": result["text"],
        "segments": segments,
    }
    return Response(json.dumps(body, ensure_ascii=False), media_type="application/json")
