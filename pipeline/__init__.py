"""The streaming call graph: audio frames in, turn-taking, STT -> LLM -> TTS, audio frames out.

The pipeline knows audio frames, not modems: telephony (or a WebSocket) feeds it 20 ms PCM
frames and plays what it returns.
"""
