"""Personas: who answers a business's phone (name, language, prompt, lines, voice, adapter, FAQ)."""
