"""Personal data under 152-FZ and the GDPR: consent records, the privacy policy, erasure."""
