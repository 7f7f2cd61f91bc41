"""Where a message goes: one class per channel, each beside the base class it implements."""
