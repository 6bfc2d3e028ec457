"""Scenarios: JSON files of repos (times relative to "now") plus seeded, realistic noise.

Format:
    {
      "repos": [{"type": "space", "id": "owner/name", "created": "-2h", "cardData": {...},
                 "sdk": "gradio", "files": {"app.py": "...", "model.safetensors": {"size": 123}}}],
      "noise": [{"type": "model", "count": 2000, "within": "24h", "seed": 1}]
    }
Times: "-90s", "-2h", "+5m", "-1d", "now", a number of seconds (negative = past) or an ISO timestamp.
Noise ids come from the real names in data/ (models.txt, models-timm.txt, datasets.txt, spaces.txt)
plus names derived from them the way people name uploads (fine-tunes, quantisations, course work,
demos), under made-up owners. Generation is deterministic for a given seed and "now".
"""

from __future__ import annotations

import base64
import json
import math
import random
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from monitor.hubsim.files import (
    FileEntry,
    gguf_file,
    llama_tensors,
    make_file,
    safetensors_file,
)
from monitor.hubsim.state import HubState, new_object_id, normalize_type


def _words(text: str) -> tuple[str, ...]:
    """Word lists written as one string, to keep the tables below short."""
    return tuple(text.split())


_UNITS = {"ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
_REL_RE = re.compile(r"^([+-]?)\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|min|m|h|d|w)?$")
HUB_EPOCH = datetime(2022, 3, 2, 23, 29, 4, tzinfo=UTC)  # createdAt of repos older than the Hub's records
# Words the noise must never contain, so a scenario's look-alikes and leaks are the only ones.
RESERVED = ("sora", "miqu")


def scenario_path(name: str) -> Path:
    """Path of a bundled scenario (e.g. "demo" -> .../monitor/hubsim/scenarios/demo.json)."""
    res = resources.files("monitor.hubsim").joinpath("scenarios", f"{name}.json")
    path = Path(str(res))
    if not path.is_file():
        raise FileNotFoundError(f"no bundled scenario named {name!r}")
    return path


def parse_duration(value: float | int | str) -> float:
    """Seconds in "90s", "2h", "1d", "30m", "1w", "500ms", or a plain number."""
    if isinstance(value, int | float):
        return float(value)
    m = _REL_RE.match(value.strip())
    if not m or m.group(1):
        raise ValueError(f"invalid duration {value!r}")
    return float(m.group(2)) * _UNITS[m.group(3) or "s"]


def parse_time(value: float | int | str | None, now: datetime) -> datetime:
    """A scenario time: signed relative ("-2h", "+30s"), seconds from now, "now", or ISO 8601."""
    if value is None or value == "now":
        return now
    if isinstance(value, int | float):
        return now + timedelta(seconds=value)
    text = value.strip()
    m = _REL_RE.match(text)
    if m:
        if not m.group(1):
            raise ValueError(f"relative time {value!r} needs a sign: '-{text}' for the past")
        secs = float(m.group(2)) * _UNITS[m.group(3) or "s"]
        return now + timedelta(seconds=secs if m.group(1) == "+" else -secs)
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


# --- loading -------------------------------------------------------------------------------------


def read_scenario(source: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(source, Mapping):
        return dict(source)
    path = Path(source)
    if not path.is_file() and isinstance(source, str) and "/" not in source and not source.endswith(".json"):
        path = scenario_path(source)
    return json.loads(path.read_text(encoding="utf-8"))


def load_scenario(
    state: HubState, source: str | Path | Mapping[str, Any], now: datetime | None = None
) -> int:
    """Add a scenario's repos and noise to `state`; returns how many repos were added."""
    data = read_scenario(source)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    specs = [_repo_spec(r, now) for r in data.get("repos", [])]
    added = 0
    with state.lock:
        for repo_type, repo_id, kwargs in specs:  # explicit repos must exist: a duplicate is an error
            state.add_repo(repo_type, repo_id, **kwargs)
            added += 1
        for noise in data.get("noise", []):
            added += state.add_many(noise_specs(noise, now, taken=state.exists))
    return added


_REPO_KEYS = {
    "created": "created_at",
    "createdAt": "created_at",
    "created_at": "created_at",
    "lastModified": "last_modified",
    "last_modified": "last_modified",
    "modified": "last_modified",
    "cardData": "card_data",
    "card_data": "card_data",
}


def _repo_spec(entry: Mapping[str, Any], now: datetime) -> tuple[str, str, dict[str, Any]]:
    entry = dict(entry)
    repo_type = normalize_type(entry.pop("type", "model"))
    repo_id = entry.pop("id")
    kwargs: dict[str, Any] = {}
    for key, value in entry.items():
        name = _REPO_KEYS.get(key, key)
        if name in ("created_at", "last_modified"):
            kwargs[name] = parse_time(value, now)
        elif name == "files":
            kwargs["files"] = [scenario_file(p, spec) for p, spec in value.items()]
        else:
            kwargs[name] = value
    kwargs.setdefault("created_at", now)
    return repo_type, repo_id, kwargs


def scenario_file(path: str, spec: Any) -> FileEntry:
    """A file from its scenario form: text, or {"text"|"base64", "size", "sha256", "lfs"},
    or {"safetensors": {"tensors": {name: [dtype, shape]}} | {"llama": {...}}}, or {"gguf": {...}}."""
    if isinstance(spec, str):
        return make_file(path, spec)
    if not isinstance(spec, Mapping):
        raise ValueError(f"file {path}: unsupported spec {spec!r}")
    if "safetensors" in spec:
        st = spec["safetensors"]
        if "llama" in st:
            tensors = llama_tensors(**st["llama"])
        else:
            tensors = {k: (d, tuple(s)) for k, (d, s) in st["tensors"].items()}
        return safetensors_file(path, tensors, st.get("metadata"), lfs_sha256=spec.get("sha256"))
    if "gguf" in spec:
        g = dict(spec["gguf"])
        total = int(g.pop("total"))
        return gguf_file(path, total, lfs_sha256=spec.get("sha256"), **g)
    content: bytes | None = None
    if "text" in spec:
        content = str(spec["text"]).encode()
    elif "base64" in spec:
        content = base64.b64decode(spec["base64"])
    return make_file(path, content, lfs_sha256=spec.get("sha256"), size=spec.get("size"), lfs=spec.get("lfs"))


# --- noise ---------------------------------------------------------------------------------------


@cache
def _names(filename: str) -> tuple[str, ...]:
    text = resources.files("monitor.hubsim").joinpath("data", filename).read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip() and "/" in line)


def noise_specs(
    spec: Mapping[str, Any], now: datetime, taken: Any = None
) -> list[tuple[str, str, dict[str, Any]]]:
    """Expand one noise entry into `count` unique (type, id, add_repo kwargs) specs.

    `taken(type, id)` tells which ids already exist (they are skipped, and replaced by others).
    """
    repo_type = normalize_type(spec.get("type", "model"))
    count = int(spec.get("count", 100))
    within = parse_duration(spec.get("within", "24h"))
    end = parse_time(spec.get("end", "now"), now)
    gen = _Noise(
        random.Random(spec.get("seed", 0)),
        end - timedelta(seconds=within),
        end,
        private=float(spec.get("private", 0.0)),
        real=spec.get("real_fraction"),
    )
    make = {"model": gen.model, "dataset": gen.dataset, "space": gen.space}[repo_type]
    out: list[tuple[str, str, dict[str, Any]]] = []
    seen: set[str] = set()
    attempts = 0
    while len(out) < count and attempts < count * 20 + 100:  # bounded: small name pools may run dry
        attempts += 1
        repo_id, kwargs = make()
        key = repo_id.lower()
        if key in seen or any(w in key for w in RESERVED) or (taken and taken(repo_type, repo_id)):
            continue
        seen.add(key)
        out.append((repo_type, repo_id, kwargs))
    return out


FIRST = _words(
    "alex maria john kenji priya ahmed sofia liam wei omar lucas emma minh ivan fatima yuki chen "
    "diego anna mohamed sara arjun noah elena hiro olga pedro amir julia ravi lena tomas aisha felix "
    "nadia marco ines kai zoe daniel hana victor leila jonas mei rahul clara yusuf eva ali sam nikhil "
    "jin fernando giulia hamza ayesha tuan dmitry"
)
LAST = _words(
    "smith nguyen kim garcia patel mueller rossi tanaka silva ivanov kowalski haddad chen dubois "
    "santos yilmaz kumar novak jensen ortiz sato park lopez khan weber singh li wang ali hoang petrov "
    "costa"
)
ADJ = _words(
    "quiet neon lazy brave tiny cosmic silent rapid lucky clever happy crimson golden frosty misty "
    "sunny wild urban retro hyper dark little"
)
NOUN = _words(
    "fox otter panda owl tiger koala lynx raven wolf byte pixel coder wizard hacker monk ninja nomad "
    "pilot sage llama-fan bear cat duck"
)
WORDS = _words(
    "nebula quantum lumen vector neural cedar atlas orbit pixel tensor vortex helix zephyr "
    "nova cobalt ember polar maple summit prism kite delta echo fable grove harbor iris jade lotus "
    "mosaic onyx pulse quartz ripple sable tidal umbra velvet willow zenith axiom beacon cipher"
)
UNIS = _words("tum kaist epfl ucl nyu umich tsinghua iitb uva kth unimelb ethz")
LANGS = _words("de fr es it pt ja ko zh ar hi tr vi id uz sw bn ru pl nl fa th uk yo ta")
# Repeated entries weight the choice: most uploads are apache-2.0 or mit.
LICENSES = _words(
    "apache-2.0 apache-2.0 apache-2.0 apache-2.0 mit mit mit other cc-by-4.0 cc-by-nc-4.0 openrail "
    "cc-by-sa-4.0 gpl-3.0"
)

_SIZE_RE = re.compile(r"(?<![a-z0-9])(?:(\d+)x)?(\d+(?:\.\d+)?)([bmt])(?![a-z])", re.I)
_FAMILIES = (
    ("mixtral", "mixtral"),
    ("qwen3", "qwen3"),
    ("qwen2", "qwen2"),
    ("qwen", "qwen2"),
    ("llama", "llama"),
    ("mistral", "mistral"),
    ("ministral", "mistral"),
    ("gemma", "gemma3"),
    ("phi", "phi3"),
    ("deepseek", "deepseek_v3"),
    ("gpt-oss", "gpt_oss"),
    ("gpt2", "gpt2"),
    ("distilgpt", "gpt2"),
    ("falcon", "falcon"),
    ("smollm", "llama"),
    ("olmo", "olmo2"),
    ("granite", "granite"),
    ("glm", "glm4"),
    ("opt-", "opt"),
    ("bloom", "bloom"),
    ("distilbert", "distilbert"),
    ("deberta", "deberta-v2"),
    ("roberta", "roberta"),
    ("modernbert", "modernbert"),
    ("bert", "bert"),
    ("electra", "electra"),
    ("minilm", "bert"),
    ("mpnet", "mpnet"),
    ("bge", "bert"),
    ("e5-", "bert"),
    ("gte", "bert"),
    ("whisper", "whisper"),
    ("wav2vec2", "wav2vec2"),
    ("hubert", "hubert"),
    ("siglip", "siglip"),
    ("clip", "clip"),
    ("blip", "blip-2"),
    ("detr", "detr"),
    ("sam", "sam"),
    ("stable-diffusion", "diffusers"),
    ("sdxl", "diffusers"),
    ("flux", "diffusers"),
    ("t5", "t5"),
    ("bart", "bart"),
    ("vit", "vit"),
    ("swin", "swin"),
    ("convnext", "convnext"),
    ("resnet", "resnet"),
    ("efficientnet", "efficientnet"),
)
_LLM = frozenset(
    {
        "mixtral",
        "qwen3",
        "qwen2",
        "llama",
        "mistral",
        "gemma3",
        "phi3",
        "deepseek_v3",
        "gpt_oss",
        "gpt2",
        "falcon",
        "olmo2",
        "granite",
        "glm4",
        "opt",
        "bloom",
    }
)
_ENCODERS = frozenset({"distilbert", "deberta-v2", "roberta", "modernbert", "bert", "electra", "mpnet"})
_VISION = frozenset({"vit", "swin", "convnext", "resnet", "efficientnet", "timm"})
_CAMEL = {
    "mixtral": "Mixtral",
    "qwen3": "Qwen3",
    "qwen2": "Qwen2",
    "llama": "Llama",
    "mistral": "Mistral",
    "gemma3": "Gemma3",
    "phi3": "Phi3",
    "deepseek_v3": "DeepseekV3",
    "gpt_oss": "GptOss",
    "gpt2": "GPT2",
    "falcon": "Falcon",
    "olmo2": "Olmo2",
    "granite": "Granite",
    "glm4": "Glm4",
    "opt": "OPT",
    "bloom": "Bloom",
    "distilbert": "DistilBert",
    "deberta-v2": "DebertaV2",
    "roberta": "Roberta",
    "modernbert": "ModernBert",
    "bert": "Bert",
    "electra": "Electra",
    "mpnet": "MPNet",
    "whisper": "Whisper",
    "wav2vec2": "Wav2Vec2",
    "hubert": "Hubert",
    "siglip": "Siglip",
    "clip": "CLIP",
    "blip-2": "Blip2",
    "detr": "Detr",
    "sam": "Sam",
    "t5": "T5",
    "bart": "Bart",
    "vit": "ViT",
    "swin": "Swin",
    "convnext": "ConvNext",
    "resnet": "ResNet",
    "efficientnet": "EfficientNet",
}
_HEADS = {
    "text-generation": "CausalLM",
    "text-classification": "SequenceClassification",
    "token-classification": "TokenClassification",
    "question-answering": "QuestionAnswering",
    "fill-mask": "MaskedLM",
    "text2text-generation": "ForConditionalGeneration",
    "summarization": "ForConditionalGeneration",
    "translation": "ForConditionalGeneration",
    "automatic-speech-recognition": "ForConditionalGeneration",
    "image-classification": "ImageClassification",
    "audio-classification": "SequenceClassification",
    "object-detection": "ObjectDetection",
    "zero-shot-image-classification": "Model",
    "image-to-text": "ForConditionalGeneration",
    "feature-extraction": "Model",
    "sentence-similarity": "Model",
    "mask-generation": "Model",
}
_DTYPE_SIZE = {"BF16": 2, "F16": 2, "F32": 4, "I32": 4, "U32": 4, "U8": 1, "F8_E4M3": 1}

LLM_SUFFIXES = _words(
    "sft dpo orpo grpo instruct chat it merged v2 v0.1 v1.5 reasoning distill medical code math legal "
    "finance roleplay uncensored abliterated sft-lora-merged thinking tool-use function-calling ko ja "
    "tr ar vi de es hi pt-br ft full-ft e3 lr2e-5 checkpoint-final"
)
ENC_SUFFIXES = _words(
    "finetuned-squad finetuned-imdb finetuned-emotion finetuned-ner finetuned-cola finetuned-sst2 "
    "finetuned-mrpc finetuned-rte finetuned-tweet-eval finetuned-amazon sentiment ner pos spam-detector "
    "fake-news toxicity intent-classifier finetuned-clinc finetuned-yelp qa nli emotion "
    "hate-speech topic-classifier"
)
VISION_SUFFIXES = _words(
    "finetuned-beans finetuned-food101 finetuned-cifar10 finetuned-eurosat finetuned-plantvillage "
    "brain-tumor xray-pneumonia skin-cancer waste-classifier dog-breeds finetuned-fer2013 deepfake-detector "
    "ai-vs-human-images"
)
ASR_SUFFIXES = (*LANGS, "finetuned-common-voice", "medical-dictation", "atc")
QUANT = _words(
    "GGUF GGUF GGUF i1-GGUF Q4_K_M-GGUF Q8_0-GGUF Q5_K_M-GGUF AWQ awq GPTQ GPTQ-Int4 gptq-4bit "
    "mlx-4bit mlx-8bit MLX-4bit 4bit bnb-4bit 8bit exl2 FP8 FP8-Dynamic W4A16 int4"
)
GGUF_QUANTS = _words("Q2_K Q3_K_M Q4_K_S Q4_K_M Q5_K_M Q6_K Q8_0 IQ4_XS f16")
_SPECIAL_TOKENS = {"bos_token": "<s>", "eos_token": "</s>"}  # GGUF tokenizer metadata
_BPW = {
    "Q2_K": 2.6,
    "Q3_K_M": 3.9,
    "Q4_K_S": 4.6,
    "Q4_K_M": 4.85,
    "Q5_K_M": 5.7,
    "Q6_K": 6.6,
    "Q8_0": 8.5,
    "IQ4_XS": 4.3,
    "f16": 16.0,
}
COURSE = (  # (name template, base, pipeline, dataset) from the HF course and task guides
    ("my_awesome_model", "distilbert/distilbert-base-uncased", "text-classification", "imdb"),
    ("my_awesome_qa_model", "distilbert/distilbert-base-uncased", "question-answering", "squad"),
    ("my_awesome_wnut_model", "distilbert/distilbert-base-uncased", "token-classification", "wnut_17"),
    ("my_awesome_eli5_clm-model", "distilbert/distilgpt2", "text-generation", "eli5_category"),
    ("my_awesome_eli5_mlm_model", "distilbert/distilroberta-base", "fill-mask", "eli5_category"),
    ("my_awesome_opus_books_model", "google-t5/t5-small", "translation", "opus_books"),
    ("my_awesome_billsum_model", "google-t5/t5-small", "summarization", "billsum"),
    ("my_awesome_food_model", "google/vit-base-patch16-224-in21k", "image-classification", "food101"),
    ("my_awesome_mind_model", "facebook/wav2vec2-base", "audio-classification", "minds14"),
    ("my_awesome_asr_mind_model", "facebook/wav2vec2-base", "automatic-speech-recognition", "minds14"),
    ("whisper-small-{lang}", "openai/whisper-small", "automatic-speech-recognition", "common_voice_11_0"),
    ("vit-base-beans", "google/vit-base-patch16-224-in21k", "image-classification", "beans"),
    ("bert-finetuned-ner", "google-bert/bert-base-cased", "token-classification", "conll2003"),
    ("bert-finetuned-squad", "google-bert/bert-base-cased", "question-answering", "squad"),
    ("marian-finetuned-kde4-en-to-{lang}", "Helsinki-NLP/opus-mt-en-fr", "translation", "kde4"),
    ("distilbert-base-uncased-finetuned-imdb", "distilbert/distilbert-base-uncased", "fill-mask", "imdb"),
    ("results", "FacebookAI/roberta-base", "text-classification", None),
    ("test_trainer", "google-bert/bert-base-cased", "text-classification", "yelp_review_full"),
    ("model_output", "distilbert/distilbert-base-uncased", "text-classification", None),
)
RL = (  # (name, library, env)
    ("ppo-LunarLander-v2", "stable-baselines3", "LunarLander-v2"),
    ("ppo-LunarLander-v3", "stable-baselines3", "LunarLander-v3"),
    ("dqn-SpaceInvadersNoFrameskip-v4", "stable-baselines3", "SpaceInvadersNoFrameskip-v4"),
    ("a2c-PandaReachDense-v3", "stable-baselines3", "PandaReachDense-v3"),
    ("ppo-Huggy", "ml-agents", "Huggy"),
    ("ppo-SnowballTarget", "ml-agents", "SnowballTarget"),
    ("ppo-Pyramids", "ml-agents", "Pyramids"),
    ("poca-SoccerTwos", "ml-agents", "SoccerTwos"),
    ("q-FrozenLake-v1-4x4-noSlippery", None, "FrozenLake-v1"),
    ("q-Taxi-v3", None, "Taxi-v3"),
    ("Reinforce-CartPole-v1", None, "CartPole-v1"),
    ("Reinforce-Pixelcopter-PLE-v0", None, "Pixelcopter-PLE-v0"),
    ("vizdoom_health_gathering_supreme", "sample-factory", "doom_health_gathering_supreme"),
)
DS_SUFFIXES = (
    "cleaned",
    "filtered",
    "dedup",
    "sample",
    "subset",
    "10k",
    "1k",
    "mini",
    "processed",
    "tokenized",
    "parquet",
    "v2",
    "sft",
    "dpo",
    "preference",
    "reformatted",
    "chatml",
    "alpaca-format",
    "augmented",
    "balanced",
    "test",
    "eval",
    "shuffled",
    *(f"translated-{lang}" for lang in LANGS[:10]),
)
DS_TOPICS = _words(
    "medical legal math code customer-support recipes arabic-poetry turkish-news product-reviews "
    "tweets climate finance-qa chess-games satellite-images bird-sounds resume medical-images kids-stories "
    "hindi-speech swahili-news python-functions sql-queries math-word-problems pubmed-abstracts "
    "faq movie-plots lyrics reddit-comments wikipedia-vi multiturn-chat function-calling "
    "reasoning-traces synthetic-instructions captcha-images receipts invoices street-signs plant-disease"
)
DS_KINDS = _words(
    "qa instructions conversations corpus dataset benchmark pairs captions eval sft-mix preferences "
    "classification ocr transcripts data"
)
ROBOT_TASKS = _words(
    "pick_place pick_cube stack_blocks sort_objects open_drawer fold_towel test grasp_lego push_t "
    "pour_water record-test teleop_demo"
)
TASKS_DS = {
    "qa": "question-answering",
    "instructions": "text-generation",
    "conversations": "text-generation",
    "corpus": "text-generation",
    "pairs": "sentence-similarity",
    "captions": "image-to-text",
    "classification": "text-classification",
    "ocr": "image-to-text",
    "transcripts": "automatic-speech-recognition",
    "preferences": "text-generation",
    "sft-mix": "text-generation",
}
SPACE_APPS = _words(
    "chatbot pdf-chat rag-demo resume-screener sentiment-analysis background-remover image-captioning "
    "text-to-speech voice-cloning object-detection ocr-app translator summarizer code-assistant "
    "image-upscaler face-swap music-generator quiz-bot essay-grader plant-doctor recipe-generator "
    "stock-predictor yt-summarizer meeting-notes legal-assistant interview-prep math-tutor logo-maker "
    "podcast-gen"
)
SPACE_TEMPLATES = _words(
    "First_agent_template Final_Assignment_Template agents-course-unit1 my-first-space test test-space "
    "gradio-demo streamlit-app docker-test dummy hello-world Unit_4_final smolagents-demo mcp-course "
    "first-mcp-server"
)
EMOJI = _words("🚀 🤗 🔥 🦀 🐢 📚 🎨 🧠 💬 ⚡ 🌍 🐨 🎵 🖼️ 🏃 🌖 😻 👀 🏆 📈 🤖 🦙 📝 🔍")
COLORS = _words("red yellow green blue indigo purple pink gray")
TRAINING_README = """
# {name}

This model is a fine-tuned version of [{base}](https://huggingface.co/{base}){on}.
It achieves the following results on the evaluation set:
- Loss: {loss:.4f}

## Training procedure

### Training hyperparameters

- learning_rate: {lr}
- train_batch_size: {bs}
- seed: 42
- num_epochs: {epochs}

### Framework versions

- Transformers 4.57.1
- Pytorch 2.8.0+cu126
- Datasets 4.2.0
- Tokenizers 0.22.1
"""


def _yaml(data: Mapping[str, Any]) -> str:
    """A tiny YAML writer for card front matter (strings, numbers, bools, lists, flat dicts)."""
    lines: list[str] = []

    def scalar(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return str(v)
        s = str(v)
        return json.dumps(s, ensure_ascii=False) if re.search(r"[:#\[\]{},&*!|>'\"%@`]|^\s|\s$|^$", s) else s

    for key, value in data.items():
        if isinstance(value, list):
            lines.append(f"{key}:")
            for item in value:
                if isinstance(item, Mapping):
                    first = True
                    for k, v in item.items():
                        lines.append(f"{'- ' if first else '  '}{k}: {scalar(v)}")
                        first = False
                else:
                    lines.append(f"- {scalar(item)}")
        elif isinstance(value, Mapping):
            lines.append(f"{key}:")
            lines.extend(f"  {k}: {scalar(v)}" for k, v in value.items())
        else:
            lines.append(f"{key}: {scalar(value)}")
    return "---\n" + "\n".join(lines) + "\n---\n"


def _title(name: str) -> str:
    words = re.split(r"[-_ ]+", name)
    return " ".join(
        w if any(c.isupper() for c in w[1:]) or w.isupper() else w.capitalize() for w in words if w
    )


class _Noise:
    def __init__(
        self,
        rng: random.Random,
        start: datetime,
        end: datetime,
        *,
        private: float = 0.0,
        real: float | None = None,
    ) -> None:
        self.rng = rng
        self.start = start
        self.end = end
        self.span = max(0.0, (end - start).total_seconds())
        self.private = private
        self.real = real
        self.models = _names("models.txt")
        self.timm = _names("models-timm.txt")
        self.datasets = _names("datasets.txt")
        self.spaces = _names("spaces.txt")
        self.llm_bases = tuple(m for m in self.models if _family(m) in _LLM)

    # -- shared helpers --

    def owner(self) -> str:
        r, c = self.rng.random(), self.rng.choice
        if r < 0.55:
            first, last = c(FIRST), c(LAST)
            pattern = self.rng.randrange(8)
            return (
                f"{first}{last}",
                f"{first}-{last}",
                f"{first}_{last}",
                f"{first}{self.rng.randint(1, 999)}",
                f"{first}{last}{self.rng.randint(10, 99)}",
                f"{first[0]}{last}",
                f"{first.capitalize()}{last.capitalize()}",
                f"{first}-{c(WORDS)}",
            )[pattern]
        if r < 0.8:
            tail = str(self.rng.randint(1, 9999)) if self.rng.random() < 0.4 else ""
            return c((f"{c(ADJ)}{c(NOUN)}{tail}", f"{c(ADJ)}-{c(NOUN)}{tail}", f"{c(NOUN)}{c(WORDS)}{tail}"))
        w = c(WORDS)
        return c(
            (
                f"{w}-ai",
                f"{w.capitalize()}AI",
                f"{w}labs",
                f"{w}-research",
                f"{w.capitalize()}-Lab",
                f"{c(UNIS)}-nlp",
                f"{c(UNIS)}-{w}",
                f"{w}-ml",
            )
        )

    def when(self) -> datetime:
        return self.start + timedelta(seconds=self.rng.random() * self.span)

    def old(self) -> datetime:
        if self.rng.random() < 0.4:
            return HUB_EPOCH
        oldest = HUB_EPOCH.timestamp()
        newest = max(oldest, self.start.timestamp() - 30 * 86400)
        return datetime.fromtimestamp(self.rng.uniform(oldest, newest), UTC).replace(microsecond=0)

    def base_kwargs(self, created: datetime, *, real: bool) -> dict[str, Any]:
        rng = self.rng
        if real:
            modified = self.when()
            likes, downloads = int(rng.paretovariate(1.2) * 20), int(rng.paretovariate(0.9) * 2000)
            trending = rng.randint(0, 40) if rng.random() < 0.3 else 0
        else:
            modified = min(self.end, created + timedelta(seconds=rng.random() * 1800))
            likes = 0 if rng.random() < 0.85 else rng.randint(1, 12)
            downloads = 0 if rng.random() < 0.6 else int(rng.paretovariate(1.5) * 3)
            trending = 0 if rng.random() < 0.97 else rng.randint(1, 8)
        return {
            "created_at": created,
            "last_modified": modified,
            "_id": new_object_id(created, rng.getrandbits(64)),
            "sha": f"{rng.getrandbits(160):040x}",
            "likes": likes,
            "downloads": downloads,
            "trendingScore": trending,
            "private": rng.random() < self.private,
        }

    def sha256(self) -> str:
        return f"{self.rng.getrandbits(256):064x}"

    def lfs(self, path: str, size: int) -> FileEntry:
        return make_file(path, size=max(1, size), lfs_sha256=self.sha256(), lfs=True)

    def use_real(self, default: float) -> bool:
        return self.rng.random() < (default if self.real is None else float(self.real))

    # -- models --

    def model(self) -> tuple[str, dict[str, Any]]:
        rng = self.rng
        base = rng.choice(self.models) if rng.random() < 0.75 else rng.choice(self.timm)
        if self.use_real(0.08):
            return base, self._model_meta(base, base, "real", self.base_kwargs(self.old(), real=True))
        kind = rng.choices(
            ("finetune", "quant", "course", "checkpoint", "merge", "rl", "lora"), (36, 22, 14, 9, 5, 5, 9)
        )[0]
        name = base.split("/", 1)[1]
        if base.startswith("timm/") and rng.random() < 0.6:
            name = name.split(".", 1)[0]
        if kind == "quant" or (kind in ("merge", "lora") and rng.random() < 0.7):
            base = rng.choice(self.llm_bases)
            name = base.split("/", 1)[1]
        fam = _family(base)
        if kind == "finetune":
            if fam in _LLM:
                suffix = rng.choice(LLM_SUFFIXES)
            elif fam in _VISION or base.startswith("timm/"):
                suffix = rng.choice(VISION_SUFFIXES)
            elif fam in ("whisper", "wav2vec2", "hubert"):
                suffix = rng.choice(ASR_SUFFIXES)
            else:
                suffix = rng.choice(ENC_SUFFIXES)
            repo_name = f"{name}-{suffix}"
        elif kind == "quant":
            suffix = rng.choice(QUANT)
            repo_name = f"{name}-{suffix}"
        elif kind == "course":
            template, base, _, _ = rng.choice(COURSE)
            repo_name = template.format(lang=rng.choice(LANGS))
            if rng.random() < 0.3:
                repo_name += f"-{rng.randint(1, 9)}"
        elif kind == "checkpoint":
            repo_name = rng.choice(
                (
                    f"{name}-checkpoint-{rng.randint(1, 40) * 500}",
                    f"{name}-ft-2025{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}",
                    f"{name}_epoch{rng.randint(1, 10)}",
                    f"{name}-run{rng.randint(1, 30)}",
                    f"{name}-exp{rng.randint(1, 99)}",
                )
            )
        elif kind == "merge":
            method = rng.choice(("slerp", "ties", "dare-ties", "della", "model_stock", "passthrough"))
            repo_name = rng.choice(
                (
                    f"{name}-{method}",
                    f"{rng.choice(WORDS).capitalize()}-{_size_tag(base)}-{method}",
                    f"{rng.choice(WORDS).capitalize()}{rng.choice(NOUN).capitalize()}-{_size_tag(base)}",
                )
            )
        elif kind == "rl":
            repo_name, _, _ = rng.choice(RL)
            if rng.random() < 0.25:
                repo_name += f"-{rng.choice(('v2', 'test', 'best', 'final', str(rng.randint(1, 9))))}"
        else:  # lora
            repo_name = f"{name}-{rng.choice(('lora', 'qlora', 'LoRA', 'lora-adapter', 'peft', 'adapter'))}"
            if rng.random() < 0.4:
                repo_name = f"{name}-{rng.choice(LLM_SUFFIXES)}-lora"
        repo_name = re.sub(r"[^\w\-.]", "-", repo_name)[:96]
        repo_id = f"{self.owner()}/{repo_name}"
        return repo_id, self._model_meta(repo_id, base, kind, self.base_kwargs(self.when(), real=False))

    def _model_meta(self, repo_id: str, base: str, kind: str, kw: dict[str, Any]) -> dict[str, Any]:
        rng = self.rng
        name = repo_id.split("/", 1)[1]
        lower = name.lower()
        fam = _family(base) or ("timm" if base.startswith("timm/") else None)
        course = next(
            (c for c in COURSE if kind == "course" and lower.startswith(c[0].split("{")[0].lower())), None
        )
        rl = next((r for r in RL if kind == "rl" and lower.startswith(r[0].lower())), None)
        params = _guess_params(base, fam, rng)
        dataset = course[3] if course else None
        if rl:
            return self._rl_meta(repo_id, rl, kw)

        pipeline, library = _pipeline(base, fam, lower, course)
        tags: list[str] = []
        files: list[FileEntry] = []
        card: dict[str, Any] = {}
        relation = {
            "finetune": "finetune",
            "checkpoint": "finetune",
            "course": "finetune",
            "quant": "quantized",
            "merge": "merge",
            "lora": "adapter",
        }.get(kind)
        quant = lower.rsplit("-", 1)[-1] if kind == "quant" else ""
        if kind == "quant":
            quant = next((q.lower() for q in QUANT if lower.endswith(q.lower())), quant)
        is_gguf = "gguf" in quant
        is_mlx = "mlx" in quant
        if is_gguf:
            library = None
        elif is_mlx:
            library = "mlx"
        elif kind == "lora":
            library = "peft"
        elif kind == "merge":
            library = "transformers"

        head, camel = _HEADS.get(pipeline or "", "Model"), _CAMEL.get(fam or "", "Bert")
        arch = camel + head if head == "Model" or head.startswith("For") else f"{camel}For{head}"
        model_type = fam if fam not in (None, "timm", "diffusers") else None
        config: dict[str, Any] | None = None
        if library in ("transformers", "mlx", "peft") and model_type:
            config = {"architectures": [arch], "model_type": model_type}
            if fam in _LLM:
                config["tokenizer_config"] = {
                    "bos_token": "<|begin_of_text|>" if fam == "llama" else None,
                    "eos_token": "<|im_end|>" if fam and fam.startswith("qwen") else "</s>",
                    "pad_token": None,
                }
                config["tokenizer_config"] = {k: v for k, v in config["tokenizer_config"].items() if v}

        # weights
        if is_gguf:
            arch_name = {
                "qwen2": "qwen2",
                "qwen3": "qwen3",
                "gemma3": "gemma3",
                "phi3": "phi3",
                "mistral": "llama",
                "mixtral": "llama",
            }.get(fam or "", "llama")
            ctx = rng.choice((4096, 8192, 32768, 40960, 131072))
            base_name = base.split("/", 1)[1]
            if quant in ("q4_k_m-gguf", "q8_0-gguf", "q5_k_m-gguf"):
                q = quant.split("-")[0].upper()
                quants: tuple[str, ...] = (q,)
                names = [f"{base_name.lower()}-{q.lower()}.gguf"]
            else:
                quants = tuple(sorted(rng.sample(GGUF_QUANTS, rng.randint(2, 6)), key=GGUF_QUANTS.index))
                names = [f"{base_name}.{q}.gguf" for q in quants]
            for fname, q in zip(names, quants, strict=True):
                files.append(
                    gguf_file(
                        fname,
                        params,
                        architecture=arch_name,
                        context_length=ctx,
                        bits_per_weight=_BPW.get(q, 4.85),
                        name=base_name,
                        lfs_sha256=self.sha256(),
                        **_SPECIAL_TOKENS,
                    )
                )
            tags += ["gguf", arch_name if arch_name != "llama" else "llama", "llama-cpp"]
            if "gguf-my-repo" not in tags and quant.endswith("-gguf") and quant != "i1-gguf":
                tags.append("gguf-my-repo")
            tags.append("conversational")
        elif kind == "lora":
            r = rng.choice((8, 16, 32, 64))
            lora_params = max(1, int(params * r / 4096 * 0.6))
            files.append(self._st_file("adapter_model.safetensors", {"F32": lora_params}))
            files.append(
                make_file(
                    "adapter_config.json",
                    json.dumps(
                        {
                            "base_model_name_or_path": base,
                            "peft_type": "LORA",
                            "r": r,
                            "lora_alpha": r * 2,
                            "lora_dropout": 0.05,
                            "task_type": "CAUSAL_LM",
                            "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"],
                        },
                        indent=2,
                    ),
                )
            )
            tags += ["peft", "safetensors", f"base_model:adapter:{base}", "lora", "transformers"]
        elif fam == "diffusers":
            files.append(make_file("model_index.json", '{"_class_name": "StableDiffusionXLPipeline"}\n'))
            for sub, share in (
                ("unet", 0.74),
                ("text_encoder", 0.05),
                ("text_encoder_2", 0.2),
                ("vae", 0.01),
            ):
                files.append(
                    self._st_file(
                        f"{sub}/diffusion_pytorch_model.safetensors"
                        if sub in ("unet", "vae")
                        else f"{sub}/model.safetensors",
                        {"F16": int(params * share)},
                    )
                )
                files.append(make_file(f"{sub}/config.json", json.dumps({"_class_name": sub}) + "\n"))
            files.append(
                make_file("scheduler/scheduler_config.json", '{"_class_name": "EulerDiscreteScheduler"}\n')
            )
            tags += ["diffusers", "safetensors"]
        else:
            counts = _quant_counts(params, quant, fam, rng)
            files += self._weights(counts, fam)
            tags += (
                ([library] if library and library != "transformers" else [])
                + (["transformers"] if library in ("transformers", "mlx") else [])
                + ["safetensors"]
            )
            if quant in ("awq",):
                tags.append("awq")
            elif "gptq" in quant:
                tags.append("gptq")
            elif "bit" in quant or quant in ("int4", "w4a16"):
                tags.append("4-bit" if "4" in quant else "8-bit")
            elif "fp8" in quant:
                tags.append("fp8")
            if is_mlx:
                tags.append("mlx")
        if config and kind != "lora":
            files.append(
                make_file(
                    "config.json",
                    json.dumps(
                        {**config, "torch_dtype": "bfloat16", "transformers_version": "4.57.1"}, indent=2
                    )
                    + "\n",
                )
            )
        if fam in _LLM and not is_gguf:
            files += [
                make_file(
                    "tokenizer.json",
                    size=rng.randint(1_500_000, 11_000_000),
                    lfs=True,
                    lfs_sha256=self.sha256(),
                )
                if rng.random() < 0.5
                else make_file("tokenizer.json", '{"version": "1.0", "truncation": null}\n'),
                make_file("tokenizer_config.json", '{"model_max_length": 131072}\n'),
                make_file("special_tokens_map.json", '{"eos_token": "</s>"}\n'),
                make_file("generation_config.json", '{"do_sample": true, "temperature": 0.6}\n'),
            ]
        elif fam in _ENCODERS:
            files += [
                make_file("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"),
                make_file("tokenizer_config.json", '{"do_lower_case": true}\n'),
            ]
        if kind in ("finetune", "course", "checkpoint") and library == "transformers" and rng.random() < 0.6:
            files.append(self.lfs("training_args.bin", rng.randint(5000, 6000)))
            tags.insert(min(3, len(tags)), "generated_from_trainer")

        if model_type and model_type not in tags and not is_gguf:
            tags.append(model_type)
        if pipeline and not is_gguf:
            tags.append(pipeline)
        if pipeline == "text-generation" and fam in _LLM and not is_gguf:
            tags += (
                ["conversational"]
                if ("instruct" in lower or "chat" in lower or "it" in lower.split("-") or rng.random() < 0.5)
                else []
            )
        if dataset:
            tags.append(f"dataset:{dataset}")
        lic = {"llama": "llama3.1", "gemma3": "gemma"}.get(fam or "", "") if rng.random() < 0.6 else ""
        lic = lic or rng.choice(LICENSES)
        if relation and base != repo_id:
            tags += [f"base_model:{base}", f"base_model:{relation}:{base}"]
            kw["baseModels"] = {"relation": relation, "models": [{"id": base}]}
            card["base_model"] = base
        tags.append(f"license:{lic}")
        if fam in _LLM and library == "transformers":
            tags += ["text-generation-inference"]
        tags += ["endpoints_compatible", "region:us"]
        if rng.random() < 0.15 and fam in _LLM:
            tags.insert(-2, rng.choice(LANGS))  # language tags come as bare codes

        card.update({"library_name": library, "license": lic, "pipeline_tag": pipeline})
        card = {k: v for k, v in card.items() if v}
        if dataset:
            card["datasets"] = [dataset]
        if kind in ("finetune", "course", "checkpoint") and rng.random() < 0.7:
            card["tags"] = ["generated_from_trainer"]
        card_tags = [
            t for t in ("gguf", "mlx", "llama-cpp", "gguf-my-repo", "lora", "awq", "gptq") if t in tags
        ]
        if card_tags:
            card["tags"] = card.get("tags", []) + card_tags
        if kind != "real" or rng.random() < 0.3:
            files.append(
                make_file("README.md", _yaml(card) + self._readme(repo_id, base, kind, dataset, quant))
            )

        kw.update(
            files=files, tags=list(dict.fromkeys(tags)), card_data=card if kind != "real" or card else None
        )
        if library:
            kw["library_name"] = library
        if pipeline:
            kw["pipeline_tag"] = pipeline
        if config:
            kw["config"] = config
        if (
            kind == "real"
            and base.split("/")[0] in ("meta-llama", "google", "mistralai")
            and rng.random() < 0.5
        ):
            kw["gated"] = "manual" if base.startswith("meta-llama") else "auto"
        elif kind != "real" and rng.random() < 0.01:
            kw["gated"] = "auto"
        return kw

    def _rl_meta(self, repo_id: str, rl: tuple[str, str | None, str], kw: dict[str, Any]) -> dict[str, Any]:
        name, library, env = rl
        rng = self.rng
        files = [
            make_file(
                "README.md",
                _yaml(
                    {
                        "library_name": library or "custom",
                        "tags": [env, "deep-reinforcement-learning", "reinforcement-learning"],
                    }
                )
                + f"\n# **{name.split('-')[0].upper()}** Agent playing **{env}**\n",
            ),
            self.lfs("replay.mp4", rng.randint(80_000, 3_000_000)),
            make_file(
                "results.json",
                json.dumps(
                    {
                        "mean_reward": round(rng.uniform(-50, 300), 2),
                        "std_reward": round(rng.uniform(1, 60), 2),
                    }
                )
                + "\n",
            ),
        ]
        if library == "stable-baselines3":
            files.append(self.lfs(f"{name}.zip", rng.randint(100_000, 900_000)))
        elif library == "ml-agents":
            files.append(self.lfs(f"{env}.onnx", rng.randint(100_000, 3_000_000)))
        elif library is None:
            files.append(
                self.lfs("q-learning.pkl" if name.startswith("q-") else "model.pt", rng.randint(900, 90_000))
            )
        tags = ([library] if library else []) + [
            env,
            "deep-reinforcement-learning",
            "reinforcement-learning",
            "model-index",
            "region:us",
        ]
        kw.update(
            files=files,
            tags=tags,
            pipeline_tag="reinforcement-learning",
            card_data={"library_name": library or "custom", "tags": tags[:-2]},
        )
        if library:
            kw["library_name"] = library
        return kw

    def _st_file(self, path: str, counts: Mapping[str, int]) -> FileEntry:
        tensors = {f"weight.{dtype.lower()}": (dtype, (n,)) for dtype, n in counts.items() if n > 0}
        return safetensors_file(path, tensors, {"format": "pt"}, lfs_sha256=self.sha256(), lazy=True)

    def _weights(self, counts: Mapping[str, int], fam: str | None) -> list[FileEntry]:
        total_bytes = sum(n * _DTYPE_SIZE.get(d, 2) for d, n in counts.items())
        shards = min(64, math.ceil(total_bytes / 4_900_000_000)) if total_bytes > 5_000_000_000 else 1
        if shards == 1:
            return [self._st_file("model.safetensors", counts)]
        files: list[FileEntry] = []
        weight_map: dict[str, str] = {}
        for i in range(shards):
            fname = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
            tensors = {}
            for dtype, n in counts.items():
                share = n // shards + (n % shards if i == shards - 1 else 0)
                if share > 0:
                    tname = f"model.layers.{i}.{dtype.lower()}.weight"
                    tensors[tname] = (dtype, (share,))
                    weight_map[tname] = fname
            files.append(
                safetensors_file(fname, tensors, {"format": "pt"}, lfs_sha256=self.sha256(), lazy=True)
            )
        index = {"metadata": {"total_size": total_bytes}, "weight_map": weight_map}
        files.append(make_file("model.safetensors.index.json", json.dumps(index, indent=2) + "\n"))
        return files

    def _readme(self, repo_id: str, base: str, kind: str, dataset: str | None, quant: str) -> str:
        rng = self.rng
        name = repo_id.split("/", 1)[1]
        if kind == "quant" and "gguf" in quant:
            return (
                f"\n# {repo_id}\nThis model was converted to GGUF format from [`{base}`]"
                f"(https://huggingface.co/{base}) using llama.cpp via the ggml.ai's GGUF-my-repo space.\n"
            )
        if kind == "quant" and "mlx" in quant:
            return (
                f"\n# {repo_id}\n\nThis model [{repo_id}](https://huggingface.co/{repo_id}) was converted to "
                f"MLX format from [{base}](https://huggingface.co/{base}) using mlx-lm version **0.28.3**.\n"
            )
        if kind == "quant":
            return f"\n# {name}\n\n{quant.upper()} quantization of [{base}](https://huggingface.co/{base}).\n"
        if kind == "merge":
            return (
                f"\n# {name}\n\nThis is a merge of pre-trained language models created using "
                f"[mergekit](https://github.com/cg123/mergekit).\n"
            )
        if kind == "real":
            return f"\n# {name}\n"
        return TRAINING_README.format(
            name=name,
            base=base,
            on=f" on the {dataset} dataset" if dataset else "",
            loss=rng.uniform(0.05, 2.5),
            lr=rng.choice(("2e-05", "5e-05", "0.0002")),
            bs=rng.choice((8, 16, 32)),
            epochs=rng.choice((1, 2, 3, 5, 10)),
        )

    # -- datasets --

    def dataset(self) -> tuple[str, dict[str, Any]]:
        rng = self.rng
        if self.use_real(0.1):
            base = rng.choice(self.datasets)
            return base, self._dataset_meta(base, "real", self.base_kwargs(self.old(), real=True))
        kind = rng.choices(
            ("variant", "lerobot", "distiset", "topic", "details", "media"), (22, 16, 8, 38, 8, 8)
        )[0]
        owner = self.owner()
        if kind == "variant":
            base = rng.choice(self.datasets).split("/", 1)[1]
            name = f"{base}-{rng.choice(DS_SUFFIXES)}"
        elif kind == "lerobot":
            name = f"{rng.choice(('so100', 'so101', 'koch', 'aloha', 'lekiwi'))}_{rng.choice(ROBOT_TASKS)}"
            if rng.random() < 0.5:
                name += f"{rng.choice(('', '_'))}{rng.randint(1, 40)}"
            if rng.random() < 0.2:
                name = f"eval_{name}"
        elif kind == "distiset":
            name = f"my-distiset-{rng.getrandbits(24):06x}"
        elif kind == "details":
            model = rng.choice(self.llm_bases).replace("/", "__")
            owner = rng.choice(("open-llm-leaderboard", owner))
            name = f"details_{model}" if rng.random() < 0.5 else f"{model}-details"
        elif kind == "media":
            name = f"{rng.choice(DS_TOPICS)}-{rng.choice(('images', 'audio', 'videos', 'captions', 'ocr'))}"
        else:
            name = f"{rng.choice(DS_TOPICS)}-{rng.choice(DS_KINDS)}"
            if rng.random() < 0.3:
                name += f"-{rng.choice((*LANGS, 'v2', '10k', '50k', 'large', 'small'))}"
            if rng.random() < 0.15:
                name = name.replace("-", "_")
        repo_id = f"{owner}/{name[:96]}"
        return repo_id, self._dataset_meta(repo_id, kind, self.base_kwargs(self.when(), real=False))

    def _dataset_meta(self, repo_id: str, kind: str, kw: dict[str, Any]) -> dict[str, Any]:
        rng = self.rng
        name = repo_id.split("/", 1)[1]
        lic = rng.choice(LICENSES)
        rows = int(10 ** rng.uniform(1.5, 6.5))
        size_cat = (
            "n<1K"
            if rows < 1000
            else "1K<n<10K"
            if rows < 10_000
            else "10K<n<100K"
            if rows < 100_000
            else "100K<n<1M"
            if rows < 1_000_000
            else "1M<n<10M"
        )
        lang = rng.choice(("en", "en", "en", *LANGS))
        files: list[FileEntry] = []
        if kind == "lerobot":
            task = "robotics"
            tags = [
                "task_categories:robotics",
                f"license:{lic}",
                f"size_categories:{size_cat}",
                "modality:tabular",
                "modality:timeseries",
                "modality:video",
                "library:datasets",
                "library:pandas",
                "library:polars",
                "library:mlcroissant",
                "region:us",
                "LeRobot",
            ]
            robot = name.removeprefix("eval_").split("_", 1)[0]
            tags += [robot, "tutorial"] if rng.random() < 0.5 else [robot]
            files.append(
                make_file(
                    "meta/info.json",
                    json.dumps({"codebase_version": "v3.0", "robot_type": robot, "fps": 30}, indent=2) + "\n",
                )
            )
            episodes = rng.randint(1, 6)
            for ep in range(episodes):
                files.append(
                    self.lfs(f"data/chunk-000/episode_{ep:06d}.parquet", rng.randint(20_000, 900_000))
                )
                files.append(
                    self.lfs(
                        f"videos/chunk-000/observation.images.laptop/episode_{ep:06d}.mp4",
                        rng.randint(500_000, 30_000_000),
                    )
                )
            card: dict[str, Any] = {"license": lic, "task_categories": ["robotics"], "tags": ["LeRobot"]}
            description = "This dataset was created using [LeRobot](https://github.com/huggingface/lerobot)."
        else:
            kind_word = name.replace("_", "-").rsplit("-", 1)[-1]
            task = TASKS_DS.get(kind_word) or rng.choice(
                (
                    "text-generation",
                    "text-classification",
                    "question-answering",
                    "image-classification",
                    "automatic-speech-recognition",
                    "translation",
                )
            )
            tags = [
                f"task_categories:{task}",
                f"language:{lang}",
                f"license:{lic}",
                f"size_categories:{size_cat}",
                "format:parquet",
                "modality:image"
                if task.startswith("image")
                else "modality:audio"
                if "speech" in task
                else "modality:text",
                "library:datasets",
                "library:pandas",
                "library:mlcroissant",
                "library:polars",
                "region:us",
            ]
            if kind == "distiset":
                tags += ["synthetic", "distilabel", "rlaif", "datacraft"]
            splits = ("train", "test") if rng.random() < 0.4 else ("train",)
            for split in splits:
                nshards = 1 if rows < 200_000 else rng.randint(2, 8)
                for i in range(nshards):
                    files.append(
                        self.lfs(
                            f"data/{split}-{i:05d}-of-{nshards:05d}.parquet",
                            int(rows * rng.uniform(80, 1200) / nshards),
                        )
                    )
            card = {
                "license": lic,
                "task_categories": [task],
                "language": [lang],
                "size_categories": [size_cat],
                "configs": [
                    {
                        "config_name": "default",
                        "data_files": [{"split": s, "path": f"data/{s}-*"} for s in splits],
                    }
                ],
            }
            if kind == "distiset":
                card["tags"] = ["synthetic", "distilabel", "rlaif", "datacraft"]
            if kind == "details":
                model = name.removeprefix("details_").removesuffix("-details").replace("__", "/")
                tags = ["region:us", "evaluation"]
                card = {
                    "pretty_name": f"Evaluation run of {model}",
                    "dataset_summary": "Dataset automatically "
                    f"created during the evaluation run of model [{model}](https://huggingface.co/{model}).",
                }
            description = card.get("dataset_summary") or rng.choice(
                (
                    f"{_title(name)}: a {task.replace('-', ' ')} dataset in {lang}.",
                    f"This dataset contains {rows:,} examples for {task.replace('-', ' ')}.",
                    f"Dataset Card for {name}",
                    "",
                )
            )
        files.append(make_file("README.md", _yaml(card) + f"\n# {_title(name)}\n\n{description}\n"))
        kw.update(files=files, tags=tags, card_data=card, description=description or None)
        if kind == "real" and rng.random() < 0.1:
            kw["gated"] = "auto"
        return kw

    # -- spaces --

    def space(self) -> tuple[str, dict[str, Any]]:
        rng = self.rng
        if self.use_real(0.04):
            base = rng.choice(self.spaces)
            return base, self._space_meta(base, "real", None, self.base_kwargs(self.old(), real=True))
        kind = rng.choices(("demo", "template", "app", "agent", "arena"), (30, 17, 40, 9, 4))[0]
        model: str | None = None
        if kind == "demo":
            model = rng.choice(self.models)
            suffix = rng.choice(("", "-demo", "-chat", "-playground", "-space", "-app"))
            name = f"{model.split('/', 1)[1]}{suffix}"
        elif kind == "template":
            name = rng.choice(SPACE_TEMPLATES)
            if rng.random() < 0.3:
                name += f"{rng.choice(('-', '_'))}{rng.randint(1, 20)}"
        elif kind == "agent":
            name = rng.choice(
                (
                    f"{rng.choice(WORDS)}-mcp",
                    f"mcp-server-{rng.choice(WORDS)}",
                    f"{rng.choice(WORDS)}-agent",
                    f"{rng.choice(SPACE_APPS)}-agent",
                    f"smolagents-{rng.choice(WORDS)}",
                )
            )
        elif kind == "arena":
            name = rng.choice(
                (
                    f"{rng.choice(DS_TOPICS)}-leaderboard",
                    f"{rng.choice(WORDS)}-arena",
                    f"open-{rng.choice(LANGS)}-llm-leaderboard",
                )
            )
        else:
            name = rng.choice(
                (
                    rng.choice(SPACE_APPS),
                    f"{rng.choice(SPACE_APPS)}-{rng.choice(('v2', 'demo', 'app'))}",
                    f"{rng.choice(WORDS)}-{rng.choice(SPACE_APPS)}",
                    f"{rng.choice(ADJ)}-{rng.choice(NOUN)}",
                )
            )
            if rng.random() < 0.2:
                name = _title(name).replace(" ", "_")
        repo_id = f"{self.owner()}/{name[:96]}"
        return repo_id, self._space_meta(repo_id, kind, model, self.base_kwargs(self.when(), real=False))

    def _space_meta(self, repo_id: str, kind: str, model: str | None, kw: dict[str, Any]) -> dict[str, Any]:
        rng = self.rng
        name = repo_id.split("/", 1)[1]
        sdk = rng.choices(("gradio", "docker", "static", "streamlit"), (70, 15, 10, 5))[0]
        if kind in ("agent", "template") and sdk != "gradio" and rng.random() < 0.7:
            sdk = "gradio"
        card: dict[str, Any] = {
            "title": _title(name),
            "emoji": rng.choice(EMOJI),
            "colorFrom": rng.choice(COLORS),
            "colorTo": rng.choice(COLORS),
            "sdk": sdk,
        }
        if sdk == "gradio":
            card["sdk_version"] = rng.choice(("5.49.1", "5.42.0", "4.44.1", "5.23.1", "6.0.1"))
        elif sdk == "streamlit":
            card["sdk_version"] = rng.choice(("1.41.1", "1.50.0"))
        if sdk in ("gradio", "streamlit"):
            card["app_file"] = "app.py"
        card["pinned"] = False
        if rng.random() < 0.5:
            card["license"] = rng.choice(LICENSES)
        if rng.random() < 0.4:
            card["short_description"] = f"{_title(name)} built with {sdk.capitalize()}"
        if kind == "agent":
            card["tags"] = rng.choice(
                (["smolagents", "agent", "course"], ["mcp-server-track"], ["agent-demo-track"])
            )
        files = [
            make_file(
                "README.md",
                _yaml(card) + "\nCheck out the configuration reference at "
                "https://huggingface.co/docs/hub/spaces-config-reference\n",
            )
        ]
        model = model or (rng.choice(self.models) if rng.random() < 0.3 else None)
        if sdk == "gradio":
            files.append(make_file("app.py", _gradio_app(name, model, rng)))
            files.append(
                make_file(
                    "requirements.txt",
                    rng.choice(
                        (
                            "transformers\ntorch\n",
                            "huggingface_hub\n",
                            "smolagents\nrequests\n",
                            "openai\n",
                            "",
                        )
                    ),
                )
            )
        elif sdk == "streamlit":
            files.append(make_file("app.py", f"import streamlit as st\n\nst.title({_title(name)!r})\n"))
            files.append(make_file("requirements.txt", "streamlit\npandas\n"))
        elif sdk == "docker":
            files.append(
                make_file(
                    "Dockerfile",
                    "FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\n"
                    'RUN pip install -r requirements.txt\nCMD ["python", "main.py"]\n',
                )
            )
            files.append(make_file("main.py", "from fastapi import FastAPI\n\napp = FastAPI()\n"))
            files.append(make_file("requirements.txt", "fastapi\nuvicorn\n"))
        else:
            files.append(
                make_file("index.html", f"<!doctype html><title>{_title(name)}</title><h1>Hello</h1>\n")
            )
            files.append(make_file("style.css", "body { font-family: sans-serif; }\n"))
        stage = rng.choices(
            ("RUNNING", "SLEEPING", "RUNTIME_ERROR", "BUILDING", "BUILD_ERROR", "PAUSED"),
            (62, 16, 10, 5, 5, 2),
        )[0]
        hw = rng.choices(("cpu-basic", "zero-a10g", "t4-small", "cpu-upgrade"), (85, 9, 4, 2))[0]
        runtime = {
            "stage": stage,
            "hardware": {"current": hw if stage == "RUNNING" else None, "requested": hw},
            "storage": None,
            "gcTimeout": 172800,
            "replicas": {"current": 1, "requested": 1},
            "devMode": False,
        }
        tags = (
            [sdk]
            + (card.get("tags") or [])
            + (["mcp-server"] if "mcp" in name.lower() else [])
            + ["region:us"]
        )
        kw.update(files=files, tags=tags, card_data=card, sdk=sdk, runtime=runtime)
        if model:
            kw["models"] = [model]
        return kw


def _gradio_app(name: str, model: str | None, rng: random.Random) -> str:
    if model:
        return (
            f"import gradio as gr\nfrom transformers import pipeline\n\n"
            f"pipe = pipeline(model={model!r})\n\n\ndef predict(text):\n    return pipe(text)\n\n\n"
            f'gr.Interface(fn=predict, inputs="text", outputs="text", title={_title(name)!r}).launch()\n'
        )
    return rng.choice(
        (
            'import gradio as gr\n\n\ndef greet(name):\n    return "Hello " + name + "!!"\n\n\n'
            'demo = gr.Interface(fn=greet, inputs="text", outputs="text")\ndemo.launch()\n',
            "import gradio as gr\nfrom huggingface_hub import InferenceClient\n\n"
            "client = InferenceClient()\n\n\n"
            'def respond(message, history):\n    return client.chat_completion([{"role": "user", "content": '
            "message}]).choices[0].message.content\n\n\ngr.ChatInterface(respond).launch()\n",
            "from smolagents import CodeAgent, DuckDuckGoSearchTool, InferenceClientModel\n"
            "import gradio as gr\n\n"
            "agent = CodeAgent(tools=[DuckDuckGoSearchTool()], model=InferenceClientModel())\n\n"
            "gr.ChatInterface(lambda m, h: agent.run(m)).launch()\n",
        )
    )


def _family(repo_id: str) -> str | None:
    lower = repo_id.lower()
    if lower.startswith("timm/"):
        return "timm"
    name = lower.split("/", 1)[-1]
    for hint, fam in _FAMILIES:
        if hint in name:
            return fam
    return None


def _size_tag(base: str) -> str:
    m = _SIZE_RE.search(base.split("/", 1)[-1])
    return f"{m.group(2)}{m.group(3).upper()}" if m else "7B"


def _guess_params(base: str, fam: str | None, rng: random.Random) -> int:
    name = base.split("/", 1)[-1].lower()
    m = _SIZE_RE.search(name)
    jitter = rng.uniform(0.93, 1.08)
    if m:
        scale = {"b": 1e9, "m": 1e6, "t": 1e12}[m.group(3).lower()]
        n = float(m.group(2)) * scale * (int(m.group(1)) * 0.82 if m.group(1) else 1)
        return max(1000, int(n * jitter))
    for word, lo, hi in (
        ("distil", 6.6e7, 8.2e7),
        ("tiny", 4e6, 3e7),
        ("small", 6e7, 2.5e8),
        ("base", 8.6e7, 2.2e8),
        ("large", 3e8, 8e8),
        ("giant", 1e9, 2e9),
        ("huge", 6e8, 1.2e9),
        ("xl", 1.5e9, 3e9),
    ):
        if word in name:
            return int(rng.uniform(lo, hi))
    if fam in _LLM:
        return int(rng.choice((0.5e9, 1.5e9, 3e9, 7e9, 8e9, 14e9)) * jitter)
    if fam == "diffusers":
        return int(rng.uniform(2.5e9, 3.5e9))
    if fam in _VISION or fam == "timm":
        return int(rng.uniform(5e6, 9e7))
    return int(rng.uniform(2e7, 4e8))


def _pipeline(
    base: str, fam: str | None, name: str, course: tuple[Any, ...] | None
) -> tuple[str | None, str | None]:
    """(pipeline_tag, library_name) for a model derived from `base` and named `name`."""
    if course:
        lib = "diffusers" if course[2].startswith("unconditional") else "transformers"
        return course[2], lib
    owner = base.split("/", 1)[0].lower()
    if fam == "timm":
        return "image-classification", "timm"
    if fam == "diffusers":
        return "text-to-image", "diffusers"
    if owner == "sentence-transformers" or any(
        w in base.lower() for w in ("minilm", "mpnet", "bge", "e5-", "gte", "embed")
    ):
        return "sentence-similarity", "sentence-transformers"
    if fam in _LLM:
        return "text-generation", "transformers"
    if fam in _ENCODERS:
        if any(w in name for w in ("ner", "pos", "wnut", "conll")):
            return "token-classification", "transformers"
        if "squad" in name or name.endswith("-qa"):
            return "question-answering", "transformers"
        if "finetuned" in name or any(
            w in name
            for w in ("sentiment", "emotion", "classifier", "detector", "nli", "toxicity", "spam", "hate")
        ):
            return "text-classification", "transformers"
        return "fill-mask", "transformers"
    if fam in ("t5", "bart"):
        if any(w in name for w in ("summ", "xsum", "cnn", "billsum")):
            return "summarization", "transformers"
        if any(w in name for w in ("translat", "opus", "en-to")):
            return "translation", "transformers"
        return "text2text-generation", "transformers"
    if fam in ("whisper", "wav2vec2", "hubert"):
        return "automatic-speech-recognition", "transformers"
    if fam in _VISION:
        return "image-classification", "transformers"
    return {
        "clip": ("zero-shot-image-classification", "transformers"),
        "siglip": ("zero-shot-image-classification", "transformers"),
        "detr": ("object-detection", "transformers"),
        "blip-2": ("image-to-text", "transformers"),
        "sam": ("mask-generation", "transformers"),
    }.get(fam or "", (None, "transformers"))


def _quant_counts(params: int, quant: str, fam: str | None, rng: random.Random) -> dict[str, int]:
    """Parameter counts per dtype, as the Hub reports them for a (possibly quantised) checkpoint."""
    if quant in ("awq", "gptq", "gptq-int4", "gptq-4bit", "w4a16", "int4"):
        return {"I32": int(params * 0.86 / 8), "F16": int(params * 0.14)}
    if "mlx" in quant:
        bits = 8 if "8bit" in quant else 4
        return {"U32": int(params * 0.9 * bits / 32), "BF16": int(params * 0.1)}
    if "bnb" in quant or quant in ("4bit", "8bit"):
        return {"U8": int(params * 0.88 / (2 if "4" in quant else 1)), "F16": int(params * 0.12)}
    if "fp8" in quant:
        return {"F8_E4M3": int(params * 0.95), "BF16": int(params * 0.05)}
    if fam in _LLM or fam == "diffusers":
        return {rng.choice(("BF16", "BF16", "BF16", "F16", "F32")): params}
    return {"F32": params}
