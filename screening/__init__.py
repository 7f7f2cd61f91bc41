"""Call screening: the owner's allow and block lists, robocall detection and spam verdicts."""
