"""Shared infrastructure: settings, logging, metrics and audio helpers.

Nothing here imports the product packages (deployments, pipeline, telephony, finetune, billing):
they all depend on this package, never the other way round.
"""
