"""Speech-to-text: the engine interface, its faster-whisper implementation and the Serve deployment."""
