"""LLM checkpoints side by side: int8 against bf16, SmolLM2 against Qwen2.5-Coder-0.5B, in-process.

Usage: ``.venv/bin/python bench/bench_llm_int8.py [--rounds 2] [--models DIR ...] [--out var/bench-llm-int8.json]``

Each measurement runs in a fresh process (one vLLM engine at a time: they would share the two
cores), the models alternating, with the CPU profile's LLM block (its ``engine_args`` and
``env``: LoRA on, one OpenMP thread on core 1, eager); only the model directory differs.
Time per token: one greedy stream of 64 tokens (``ignore_eos``), 14 times, the first two
dropped, median and minimum. Perplexity: vLLM's prompt log-probabilities over the
GNU GPL v3 (Debian's ``/usr/share/common-licenses``) and a few receptionist dialogues; bits per
character of English and of Russian receptionist text (comparable across tokenizers, unlike
perplexity); and how Russian four Russian questions' greedy answers are (share of Cyrillic
letters). The CPU's features are printed with the results: int8 runs on AMX tiles or on oneDNN.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DIALOGUES = [
    "<|im_start|>system\nYou are Anna, the receptionist of a dental clinic. Answer briefly and politely.<|im_end|>\n"
    "<|im_start|>user\nHello, can I book an appointment for Friday at ten?<|im_end|>\n<|im_start|>assistant\n"
    "Of course. I can book you in for Friday at ten. May I have your name, please?<|im_end|>\n",
    "<|im_start|>user\nWhat time do you open tomorrow?<|im_end|>\n<|im_start|>assistant\n"
    "We open at nine in the morning and close at six in the evening.<|im_end|>\n",
    "Здравствуйте! Вы позвонили в стоматологическую клинику. Чем я могу вам помочь? "
    "Я хотел бы записаться на приём в пятницу.",
]
LICENSE = Path("/usr/share/common-licenses/GPL-3")
# Russian text scored for bits per character (a receptionist's talk, written for this benchmark).
RUSSIAN_TEXTS = [
    "Здравствуйте! Вы позвонили в стоматологическую клинику «Улыбка». Меня зовут Марина, чем я могу вам "
    "помочь? Мы работаем с понедельника по пятницу с девяти утра до шести вечера, в субботу до двух.",
    "Да, конечно, я могу записать вас на приём к терапевту в пятницу в десять утра. Назовите, пожалуйста, "
    "вашу фамилию и номер телефона, чтобы врач мог перезвонить вам, если время изменится.",
    "К сожалению, сейчас доктор занят. Оставьте, пожалуйста, сообщение, и мы обязательно перезвоним вам "
    "сегодня после обеда. Стоимость первичного осмотра составляет полторы тысячи рублей.",
]
RU_SYSTEM = "Ты Марина, вежливый секретарь стоматологической клиники. Отвечай по-русски одним-двумя предложениями."
RU_QUESTIONS = [
    "Здравствуйте, можно записаться к врачу на пятницу?",
    "Сколько стоит осмотр?",
    "Во сколько вы завтра открываетесь?",
    "Можно оставить сообщение для доктора?",
]


def is_russian(text: str) -> bool:
    return cyrillic_share(text) > 0.5


def cyrillic_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    return sum("а" <= c.lower() <= "я" or c.lower() == "ё" for c in letters) / max(1, len(letters))


PROFILE = ROOT / "cluster" / "profiles" / "cpu.yaml"


def texts() -> list[str]:
    out = list(DIALOGUES)
    if LICENSE.exists():
        body = LICENSE.read_text()
        out += [body[i : i + 2500] for i in range(3000, 3000 + 2500 * 6, 2500)]
    return out


def measure(model: str) -> dict:
    """Runs inside the child process: one engine, speed then perplexity."""
    import yaml

    from deployments.llm.engine import VLLMConfig, resolve_env_value
    from infra.cpu_features import usable_cpus
    from infra.settings import get_settings

    spec = yaml.safe_load(PROFILE.read_text())["applications"][0]["args"]["llm"]
    config = VLLMConfig.from_dict({**spec, "nice": 0})  # alone on the machine: no one to yield to
    for k, v in config.env.items():
        os.environ.setdefault(k, resolve_env_value(str(v), usable_cpus()))
    from vllm import LLM, SamplingParams

    llm = LLM(model=str(get_settings().resolve_model_path(model)), **config.resolved_engine_args())
    ask = [{"role": "user", "content": "Can I book an appointment for Friday at ten?"}]
    greedy = SamplingParams(max_tokens=64, temperature=0, ignore_eos=True)
    per_token = []
    for _ in range(14):
        t = time.perf_counter()
        llm.chat(ask, greedy, use_tqdm=False)
        per_token.append((time.perf_counter() - t) / 64 * 1000)
    per_token = per_token[2:]
    nll, n = 0.0, 0
    for text in texts():
        out = llm.generate(text, SamplingParams(max_tokens=1, prompt_logprobs=0), use_tqdm=False)[0]
        lps = [next(iter(d.values())).logprob for d in out.prompt_logprobs[1:]]
        nll, n = nll - sum(lps), n + len(lps)
    reply = llm.chat(ask, SamplingParams(max_tokens=40, temperature=0), use_tqdm=False)[0].outputs[0].text
    # Across tokenizers perplexity does not compare; bits per character of the same text does.
    bits = {}
    for language, items in (("en", [t for t in texts() if not is_russian(t)]), ("ru", RUSSIAN_TEXTS)):
        nats, chars = 0.0, 0
        for text in items:
            out = llm.generate(text, SamplingParams(max_tokens=1, prompt_logprobs=0), use_tqdm=False)[0]
            nats -= sum(next(iter(d.values())).logprob for d in out.prompt_logprobs[1:])
            chars += len(text)
        bits[language] = round(nats / chars / math.log(2), 3)
    ru_replies = [
        o.outputs[0].text
        for o in llm.chat(
            [[{"role": "system", "content": RU_SYSTEM}, {"role": "user", "content": q}] for q in RU_QUESTIONS],
            SamplingParams(max_tokens=48, temperature=0),
            use_tqdm=False,
        )
    ]
    return {
        "ms_per_token_median": round(statistics.median(per_token), 1),
        "ms_per_token_min": round(min(per_token), 1),
        "perplexity": round(math.exp(nll / n), 3),
        "tokens_scored": n,
        "greedy_reply": reply,
        "bits_per_char_en": bits["en"],
        "bits_per_char_ru": bits["ru"],
        "ru_cyrillic_share": round(statistics.mean(cyrillic_share(r) for r in ru_replies), 3),
        "ru_replies": ru_replies,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--models",
        nargs="+",
        default=["smollm2-135m-instruct", "smollm2-135m-instruct-w8a8"],
        help="model directories; add qwen2.5-coder-0.5b-instruct(-w8a8) to compare the Russian personas' LLM",
    )
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--out", default="var/bench-llm-int8.json")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print("RESULT " + json.dumps(measure(args.child)), flush=True)
        return
    runs: dict[str, list[dict]] = {m: [] for m in args.models}
    for r in range(args.rounds):
        order = args.models if r % 2 == 0 else list(reversed(args.models))
        for model in order:
            out = subprocess.run(
                [sys.executable, __file__, "--child", model], capture_output=True, text=True, check=True, cwd=ROOT
            ).stdout
            result = json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:])
            runs[model].append(result)
            print(model, {k: v for k, v in result.items() if k not in ("greedy_reply", "ru_replies")}, flush=True)
    summary = {
        m: {
            "ms_per_token_median": statistics.median(x["ms_per_token_median"] for x in rs),
            "ms_per_token_min": min(x["ms_per_token_min"] for x in rs),
            "perplexity": rs[0]["perplexity"],
            "bits_per_char_en": rs[0]["bits_per_char_en"],
            "bits_per_char_ru": rs[0]["bits_per_char_ru"],
            "ru_cyrillic_share": rs[0]["ru_cyrillic_share"],
            "greedy_reply": rs[0]["greedy_reply"],
            "ru_replies": rs[0]["ru_replies"],
        }
        for m, rs in runs.items()
    }
    from infra.cpu_features import detect

    cpu = detect().as_log()
    print(json.dumps({"cpu": cpu, **summary}, indent=2, ensure_ascii=False))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"cpu": cpu, "summary": summary, "runs": runs}, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
