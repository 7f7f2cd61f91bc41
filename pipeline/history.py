"""A call's conversation history, bounded so it always fits the model's context.

A long call must never fail because its history outgrew the context window. Before each LLM
request the oldest exchanges are dropped (whole user/assistant pairs, so roles stay alternating)
until the estimate fits the budget; the system prompt and the newest user message always stay.
The estimate is deliberately pessimistic (about 3 characters a token, which holds for English
and Russian on small-vocabulary tokenizers), so the server's exact check is never the one that fires.
"""

from __future__ import annotations

CHARS_PER_TOKEN = 3.0
MESSAGE_OVERHEAD_TOKENS = 8  # role markers and separators of a chat template, per message


def estimate_tokens(messages: list[dict[str, str]]) -> int:
    return sum(int(len(m["content"]) / CHARS_PER_TOKEN) + MESSAGE_OVERHEAD_TOKENS for m in messages)


def bounded(messages: list[dict[str, str]], max_tokens: int) -> list[dict[str, str]]:
    """The system message(s), then as many of the newest messages as fit ``max_tokens``."""
    system = [m for m in messages if m["role"] == "system"]
    rest = [m for m in messages if m["role"] != "system"]
    if not rest:
        return system
    budget = max_tokens - estimate_tokens(system)
    kept: list[dict[str, str]] = [rest[-1]]  # the newest message is the question: always kept
    used = estimate_tokens(kept)
    for message in reversed(rest[:-1]):
        cost = estimate_tokens([message])
        if used + cost > budget:
            break
        kept.insert(0, message)
        used += cost
    while kept[0]["role"] == "assistant" and len(kept) > 1:
        kept.pop(0)  # start with a user turn, as chat templates expect after the system prompt
    used = estimate_tokens(kept)
    if used > budget:  # a single huge question: keep its end, which is what was said last
        last = kept[-1]
        room = max(16, budget) * CHARS_PER_TOKEN
        kept[-1] = {**last, "content": last["content"][-int(room) :]}
    return [*system, *kept]
