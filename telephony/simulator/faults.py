"""Fault injection for the simulator: seeded, scriptable, one field per fault class of spec §5."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Faults:
    seed: int = 0
    # 1. no answer: how an outgoing call ends ("answer", "NO CARRIER", "BUSY", "NO ANSWER")
    dial_outcome: str = "answer"
    caller_gives_up_after_rings: int | None = None
    # 2. audio: CPCMREG=1 refused N times and/or until the call is this old; degraded audio
    pcmreg_errors: int = 0
    pcm_accept_delay_s: float = 0.0
    uplink_silent: bool = False
    downlink_stall_after_s: float | None = None
    uplink_wedge_after_s: float | None = None  # the OUT endpoint stops taking data (until reset)
    # 4. garbled lines: probability per response line of a flipped byte / truncation; 1-byte
    #    fragments; URCs merged into responses; noise on open
    flip_probability: float = 0.0
    truncate_probability: float = 0.0
    one_byte_fragments: bool = False
    noise_on_open: bool = False
    # 5. scripted errors: command (upper case, as sent) -> error line; SIM / network state
    errors: dict[str, str] = field(default_factory=dict)
    sim_ready: bool = True
    registration: int = 1
    signal_rssi: int = 16
    # 6. slow replies: command -> seconds before its final result (a late OK)
    delays: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.pcmreg_errors_left = self.pcmreg_errors

    def garble(self, data: bytes) -> bytes:
        if self.flip_probability and self.rng.random() < self.flip_probability and data:
            i = self.rng.randrange(len(data))
            data = data[:i] + bytes([data[i] ^ (1 << self.rng.randrange(8))]) + data[i + 1 :]
        if self.truncate_probability and self.rng.random() < self.truncate_probability and len(data) > 2:
            data = data[: self.rng.randrange(1, len(data))]
        return data
