"""Telephony: the AT protocol, the SIM7600G-H driver, the modem simulator, phone-number policy.

Works to ``shared/spec/sim7600.md``. Nothing here knows about models or money: calls hand audio
frames to the pipeline and hear back audio frames.
"""
