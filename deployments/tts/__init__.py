"""Text-to-speech: the engine interface, Piper (CPU) and XTTS-v2 (GPU) engines, the Serve deployment."""
