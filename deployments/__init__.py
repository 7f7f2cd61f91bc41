"""Ray Serve deployments: the model servers (STT, LLM, TTS) and the OpenAI-compatible ingress.

Model servers know nothing of calls, personas' business or money: they turn audio into text,
messages into tokens and text into audio. Engines (pure Python, testable in-process) sit beside
the thin Serve deployment classes that host them.
"""
