"""From dialogues to a training set: masking, deduplication, a train/eval split and the statistics shown first.

The statistics (dialogues, turns, characters, an estimate of tokens, duplicates dropped, numbers
and e-mails masked) are shown to the owner before a job starts, so a wrong export is caught
before it costs a fine-tune from the plan. The split is deterministic (a hash of each dialogue),
so resubmitting the same material evaluates on the same held-out dialogues.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from finetune.dialogues import DatasetError, Dialogue, Turn
from finetune.masking import MaskCounts, mask


@dataclass
class DatasetStats:
    dialogues: int
    train: int
    eval: int
    turns: int
    assistant_turns: int
    characters: int
    approx_tokens: int  # characters / 3.5: a rough figure for a BPE tokenizer on Russian and English
    duplicates_dropped: int
    phones_masked: int
    emails_masked: int


@dataclass
class PreparedDataset:
    train: list[Dialogue]
    eval: list[Dialogue]
    stats: DatasetStats

    def write(self, directory: Path) -> None:
        """``train.jsonl``, ``eval.jsonl`` and ``stats.json``: what the job reads with Ray Data."""
        directory.mkdir(parents=True, exist_ok=True)
        for name, items in (("train", self.train), ("eval", self.eval)):
            lines = (json.dumps({"messages": d.messages}, ensure_ascii=False) for d in items)
            (directory / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (directory / "stats.json").write_text(json.dumps(asdict(self.stats), indent=1), encoding="utf-8")


def _key(d: Dialogue) -> str:
    canon = json.dumps([(t.role, " ".join(t.content.lower().split())) for t in d.turns], ensure_ascii=False)
    return hashlib.sha256(canon.encode()).hexdigest()


def prepare(
    dialogues: list[Dialogue], mask_personal: bool = True, eval_fraction: float = 0.1, min_eval: int = 2
) -> PreparedDataset:
    """Mask, deduplicate and split; ``DatasetError`` when nothing trainable is left."""
    if not dialogues:
        raise DatasetError("dataset", "no dialogues: nothing in the material is a user turn answered by the owner")
    if not any(d.assistant_turns for d in dialogues):
        raise DatasetError("dataset", "no assistant turns: the owner never answers in this material")
    counts = MaskCounts()
    seen: set[str] = set()
    unique: list[tuple[str, Dialogue]] = []
    for d in dialogues:
        if mask_personal:
            d = Dialogue(tuple(Turn(t.role, mask(t.content, counts)) for t in d.turns))
        key = _key(d)
        if key in seen:
            continue
        seen.add(key)
        unique.append((key, d))
    ordered = sorted(unique, key=lambda kd: kd[0])  # a stable pseudo-random order
    n_eval = max(min_eval, round(len(ordered) * eval_fraction)) if len(ordered) > 1 else 0
    n_eval = min(n_eval, len(ordered) - 1)
    eval_set = [d for _, d in ordered[:n_eval]]
    train = [d for _, d in ordered[n_eval:]]
    chars = sum(len(t.content) for _, d in unique for t in d.turns)
    stats = DatasetStats(
        dialogues=len(unique),
        train=len(train),
        eval=len(eval_set),
        turns=sum(len(d.turns) for _, d in unique),
        assistant_turns=sum(d.assistant_turns for _, d in unique),
        characters=chars,
        approx_tokens=round(chars / 3.5),
        duplicates_dropped=len(dialogues) - len(unique),
        phones_masked=counts.phones,
        emails_masked=counts.emails,
    )
    return PreparedDataset(train, eval_set, stats)


def read_jsonl(path: Path) -> list[list[dict[str, str]]]:
    return [json.loads(line)["messages"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
