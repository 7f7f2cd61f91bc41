"""Telegram: the message as text, with the call's audio as a voice note (OGG/Opus) when recorded.

One Bot API request per delivery: with a recording the message is the voice note's caption
(``sendVoice``), without one it is a ``sendMessage``, so a retry never posts the text twice.
The client is pyTelegramBotAPI; ``SECRETARY_TELEGRAM_API_URL`` points it at a local Bot API
server (or the tests' fake).
"""

from __future__ import annotations

import asyncio
import io
import wave

import numpy as np

from messages import compose
from messages.channels.base import Channel, DeliveryFailed, DeliveryRefused, Notification

CAPTION_LIMIT = 1024  # the Bot API's, for a voice note's caption


def voice_note(wav: bytes) -> tuple[bytes, int]:
    """A two-channel call recording as a mono OGG/Opus voice note, and its whole seconds."""
    from infra.audio import encode_audio

    with wave.open(io.BytesIO(wav)) as w:
        rate, channels, frames = w.getframerate(), w.getnchannels(), w.readframes(w.getnframes())
    pcm = np.frombuffer(frames, dtype=np.int16).reshape(-1, channels).astype(np.int32)
    mono = np.clip(pcm.sum(axis=1), -32768, 32767).astype(np.int16)
    return encode_audio(mono, rate, "opus"), max(1, round(len(mono) / rate))


class TelegramChannel(Channel):
    name = "telegram"

    def __init__(self, api_url: str = "https://api.telegram.org") -> None:
        from telebot import apihelper

        # The library keeps its server in a module global; every bot of this process uses one.
        apihelper.API_URL = api_url.rstrip("/") + "/bot{0}/{1}"
        apihelper.FILE_URL = api_url.rstrip("/") + "/file/bot{0}/{1}"

    async def send(self, note: Notification) -> None:
        token, chat = note.channels.telegram_token, note.channels.telegram_chat_id
        if not token or not chat:
            raise DeliveryRefused("no Telegram bot token and chat are set")
        text = compose.text(note.message, note.language, None)
        wav = await note.recording()
        voice = await asyncio.to_thread(voice_note, wav) if wav else None
        await asyncio.to_thread(self._send, token, chat, text, voice)

    @staticmethod
    def _send(token: str, chat: str, text: str, voice: tuple[bytes, int] | None) -> None:
        import telebot
        from telebot.apihelper import ApiTelegramException

        bot = telebot.TeleBot(token, threaded=False)
        try:
            if voice is not None and len(text) <= CAPTION_LIMIT:
                audio, seconds = voice
                bot.send_voice(chat, voice=audio, caption=text, duration=seconds, timeout=30)
            else:
                bot.send_message(chat, text, timeout=30)
        except ApiTelegramException as exc:
            if exc.error_code in (400, 401, 403, 404):  # a wrong token or chat: retrying will not fix it
                raise DeliveryRefused(f"Telegram refused: {exc.description}") from None
            raise DeliveryFailed(f"Telegram: {exc.error_code} {exc.description}") from None
        except Exception as exc:  # requests' connection and timeout errors
            raise DeliveryFailed(f"Telegram: {type(exc).__name__}: {exc}"[:300]) from None
