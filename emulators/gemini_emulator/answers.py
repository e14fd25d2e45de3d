"""Deterministic Gemini answers: responses, stream chunks, embeddings, token counts (pure).

Requests reach these functions already validated and normalised to lowerCamel names.
Markers in the last user text steer the answer so tests can reach every response shape:
`[[long]]` (~60 words), `[[block]]` (blocked prompt, no candidates), `[[safety]]`
(finishReason SAFETY, no content), `[[max_tokens]]` (truncated, MAX_TOKENS), `[[parallel]]`
(call up to three functions at once), `[[no_tools]]` (answer text although tools are declared).
With `generationConfig.responseLogprobs` each answer candidate carries a `logprobsResult`: its
text cut into word and punctuation tokens (which join back to the text exactly), a made-up but
reproducible log probability per token and, with `logprobs: N`, N alternatives per step (the
chosen token first). Streamed, each chunk carries the steps of its own text.

Usage:
    response = generate_response(request, AnswerContext("gemini-2.5-flash", info, False, 7))
    events = stream_chunks(response)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
import struct
from dataclasses import dataclass
from typing import Any

from .protos import example_value
from .scenario import ModelInfo

_DUMMY_BYTES = (b"skip_thought_signature_validator", b"context_engineering_is_the_way_to_go")
DUMMY_SIGNATURES = frozenset(base64.b64encode(s).decode() for s in _DUMMY_BYTES)
_SIGNING_KEY = b"hpn-gemini-emulator"  # not a secret: signatures only need to be checkable, not unforgeable
_SIG_PREFIX = b"EMUSIG1:"
LEVEL_TOKENS = {"MINIMAL": 16, "LOW": 32, "MEDIUM": 64, "HIGH": 128}
DYNAMIC_THOUGHT_TOKENS = 64
GEMINI3_DEFAULT_LEVEL = "HIGH"  # Gemini 3 thinks at HIGH unless told otherwise
MEDIA_TOKENS = 258
EMBEDDING_DIMS = 3072
THOUGHT_TEXT = "Thinking about it…"
_TOKEN = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")  # a word or a punctuation mark with the space before it
_FILLER = (
    "the quick brown fox jumps over a lazy dog while seven curious owls watch from an old oak tree and "
    "count the stars above a quiet river that winds through green hills toward a distant sea where small "
    "boats drift slowly under a pale morning sky"
).split()
SAFETY_RATINGS = [
    {"category": "HARM_CATEGORY_SEXUALLY_EXPLICIT", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True},
]


@dataclass(frozen=True, slots=True)
class AnswerContext:
    model: str
    info: ModelInfo
    gemini3: bool
    seq: int  # request number: makes responseId and signatures unique per request, yet reproducible

    @property
    def response_id(self) -> str:
        digest = hashlib.sha256(f"{self.model}:{self.seq}".encode()).digest()
        return base64.urlsafe_b64encode(digest).decode()[:16]


def make_signature(seed: str) -> str:
    """A thought signature the emulator can later recognise as its own."""
    nonce = hashlib.sha256(seed.encode()).digest()[:24]
    mac = hmac.new(_SIGNING_KEY, nonce, "sha256").digest()[:16]
    return base64.b64encode(_SIG_PREFIX + nonce + mac).decode()


def verify_signature(signature: str) -> bool:
    """True for signatures this emulator issued and for Google's documented dummies.

    Like proto3 JSON `bytes`, both base64 alphabets are accepted, padded or not: google-genai
    sends signatures back URL-safe encoded.
    """
    try:
        raw = base64.b64decode(signature.replace("-", "+").replace("_", "/") + "=" * (-len(signature) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    if raw in _DUMMY_BYTES:
        return True
    nonce, mac = raw[len(_SIG_PREFIX) : -16], raw[-16:]
    expected = hmac.new(_SIGNING_KEY, nonce, "sha256").digest()[:16]
    return raw.startswith(_SIG_PREFIX) and len(nonce) == 24 and hmac.compare_digest(mac, expected)


def text_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def prompt_details(request: dict[str, Any]) -> dict[str, int]:
    """Prompt tokens per modality: ceil(chars/4) for text, 258 per media part."""
    counts = {"TEXT": 0, "IMAGE": 0, "AUDIO": 0, "VIDEO": 0, "DOCUMENT": 0}
    system = request.get("systemInstruction") or {}
    for content in [system, *(request.get("contents") or [])]:
        for part in content.get("parts") or []:
            media = part.get("inlineData") or part.get("fileData")
            if media:
                counts[_modality(str(media.get("mimeType", "")))] += MEDIA_TOKENS
            elif "text" in part:
                counts["TEXT"] += text_tokens(str(part["text"]))
            else:
                counts["TEXT"] += text_tokens(json.dumps(part, separators=(",", ":")))
    if request.get("tools"):
        counts["TEXT"] += text_tokens(json.dumps(request["tools"], separators=(",", ":")))
    return {m: n for m, n in counts.items() if n}


def _modality(mime: str) -> str:
    kind = mime.split("/")[0].upper()
    return kind if kind in ("IMAGE", "AUDIO", "VIDEO") else "DOCUMENT"


def usage(details: dict[str, int], candidates: int, thoughts: int) -> dict[str, Any]:
    """usageMetadata with proto3 omission of zero counts; total = prompt + candidates + thoughts."""
    prompt = sum(details.values())
    full = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": candidates,
        "totalTokenCount": prompt + candidates + thoughts,
        "promptTokensDetails": [{"modality": m, "tokenCount": n} for m, n in details.items()],
        "thoughtsTokenCount": thoughts,
    }
    return {k: v for k, v in full.items() if v}


def thought_tokens(request: dict[str, Any], ctx: AnswerContext) -> int:
    """How many tokens the model 'thinks'; 0 means thinking is off."""
    config = (request.get("generationConfig") or {}).get("thinkingConfig") or {}
    budget = config.get("thinkingBudget")
    budget = None if budget is None else int(budget)
    if ctx.gemini3:  # Gemini 3 cannot stop thinking; a budget only caps it
        level_tokens = LEVEL_TOKENS[config.get("thinkingLevel") or GEMINI3_DEFAULT_LEVEL]
        return level_tokens if budget is None or budget < 0 else max(LEVEL_TOKENS["MINIMAL"], min(budget, level_tokens))
    if budget is None:
        return DYNAMIC_THOUGHT_TOKENS if ctx.info.thinks_by_default else 0
    return DYNAMIC_THOUGHT_TOKENS if budget < 0 else min(budget, DYNAMIC_THOUGHT_TOKENS)


def last_user_text(request: dict[str, Any]) -> str:
    for content in reversed(request.get("contents") or []):
        texts = [str(p["text"]) for p in content.get("parts") or [] if "text" in p and not p.get("thought")]
        if content.get("role", "user") == "user" and texts:
            return " ".join(texts)
    return ""


def function_responses(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The functionResponse parts of the last content, when it is a user turn."""
    contents = request.get("contents") or [{}]
    last = contents[-1]
    if last.get("role", "user") != "user":
        return []
    return [p["functionResponse"] for p in last.get("parts") or [] if "functionResponse" in p]


def generate_response(request: dict[str, Any], ctx: AnswerContext) -> dict[str, Any]:
    """The full GenerateContentResponse for a validated request."""
    details = prompt_details(request)
    base = {"modelVersion": ctx.model, "responseId": ctx.response_id}
    said = last_user_text(request)
    if "[[block]]" in said:
        return {"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": SAFETY_RATINGS}, "usageMetadata": usage(details, 0, 0), **base}
    thoughts = thought_tokens(request, ctx)
    config = request.get("generationConfig") or {}
    max_out = int(config.get("maxOutputTokens") or 0)
    if "[[safety]]" in said:
        candidates: list[dict[str, Any]] = [{"finishReason": "SAFETY", "safetyRatings": SAFETY_RATINGS}]
        return {"candidates": candidates, "usageMetadata": usage(details, 0, thoughts), **base}
    if thoughts and max_out and max_out <= thoughts:  # thinking ate the whole budget: no parts at all
        candidates = [{"content": {"role": "model"}, "finishReason": "MAX_TOKENS"}]
        return {"candidates": candidates, "usageMetadata": usage(details, 0, max_out), **base}
    calls = plan_calls(request, said)
    budget = max_out - thoughts if max_out else None
    candidates, used = [], 0
    for i in range(int(config.get("candidateCount") or 1)):
        if calls:
            parts, finish, tokens = _call_parts(calls, ctx, i)
        else:
            parts, finish, tokens = _text_parts(request, ctx, said, i, budget)
        if thoughts and (config.get("thinkingConfig") or {}).get("includeThoughts"):
            parts.insert(0, {"text": THOUGHT_TEXT, "thought": True})
        content: dict[str, Any] = {"parts": parts, "role": "model"} if parts else {"role": "model"}
        candidates.append({"content": content, "finishReason": finish, **({"index": i} if i else {}), **_logprobs(config, parts)})
        used += tokens
    return {"candidates": candidates, "usageMetadata": usage(details, used, thoughts), **base}


def plan_calls(request: dict[str, Any], said: str) -> list[tuple[str, dict[str, Any]]]:
    """Which functions to call: none unless tools are declared and the last turn is user text."""
    declarations = [d for tool in request.get("tools") or [] for d in tool.get("functionDeclarations") or []]
    calling = (request.get("toolConfig") or {}).get("functionCallingConfig") or {}
    mode = calling.get("mode") or "AUTO"
    last = (request.get("contents") or [{}])[-1]
    asked = last.get("role", "user") == "user" and any("text" in p for p in last.get("parts") or [])
    if not declarations or mode == "NONE" or not asked or function_responses(request) or "[[no_tools]]" in said:
        return []
    allowed = calling.get("allowedFunctionNames") if mode in ("ANY", "VALIDATED") else None
    usable = [d for d in declarations if not allowed or d["name"] in allowed] or declarations
    if "[[parallel]]" in said:
        chosen = usable[:3]
    else:  # prefer a function the user named, so demos can pick a tool by mentioning it
        chosen = [next((d for d in usable if d["name"] in said), usable[0])]
    return [(d["name"], _arguments(d)) for d in chosen]


def _arguments(declaration: dict[str, Any]) -> dict[str, Any]:
    schema = declaration.get("parameters") or declaration.get("parametersJsonSchema")
    if not isinstance(schema, dict):
        return {}
    value = example_value(schema, schema, fill_all=False)
    return value if isinstance(value, dict) else {}


def _call_parts(calls: list[tuple[str, dict[str, Any]]], ctx: AnswerContext, candidate: int) -> tuple[list[dict[str, Any]], str, int]:
    parts: list[dict[str, Any]] = []
    for j, (name, args) in enumerate(calls):
        call: dict[str, Any] = {"name": name}
        if args:  # a zero-argument call has no `args` at all (proto3 omits the empty Struct)
            call["args"] = args
        if ctx.gemini3:
            call["id"] = "fc_" + hashlib.sha256(f"{ctx.response_id}:{candidate}:{j}".encode()).hexdigest()[:16]
        part: dict[str, Any] = {"functionCall": call}
        if ctx.gemini3 and j == 0:  # only the first call of a parallel batch is signed
            part["thoughtSignature"] = make_signature(f"{ctx.response_id}:call:{candidate}")
        parts.append(part)
    return parts, "STOP", text_tokens(json.dumps(calls, separators=(",", ":")))


def _text_parts(
    request: dict[str, Any], ctx: AnswerContext, said: str, candidate: int, budget: int | None
) -> tuple[list[dict[str, Any]], str, int]:
    text, json_mode = _reply(request, ctx, said)
    if candidate and not json_mode:
        text += f" (candidate {candidate})"
    text, finish = _apply_stop(text, (request.get("generationConfig") or {}).get("stopSequences") or [])
    if "[[max_tokens]]" in said:
        words = text.split(" ")
        text, finish = " ".join(words[: max(1, len(words) // 2)]), "MAX_TOKENS"
    if budget is not None and text_tokens(text) > budget:
        text, finish = text[: budget * 4], "MAX_TOKENS"
    if not text:
        return [], finish, 0
    part: dict[str, Any] = {"text": text}
    if ctx.gemini3:
        part["thoughtSignature"] = make_signature(f"{ctx.response_id}:text:{candidate}")
    return [part], finish, text_tokens(text)


def _reply(request: dict[str, Any], ctx: AnswerContext, said: str) -> tuple[str, bool]:
    """The answer text, and whether it is JSON (candidate suffixes would break it)."""
    responses = function_responses(request)
    if responses:
        results = [r.get("response") for r in responses]
        return "Tool results received: " + json.dumps(results, separators=(",", ":"), ensure_ascii=False), False
    plain = f"Hello from {ctx.model}! You said: {said[:200]}"
    if "[[long]]" in said:
        plain += " " + " ".join(_FILLER[i % len(_FILLER)] for i in range(55))
    config = request.get("generationConfig") or {}
    schema = config.get("responseJsonSchema") or config.get("responseSchema")
    mime = config.get("responseMimeType")
    if mime == "application/json":
        value = example_value(schema, schema, fill_all=True) if schema else {"answer": plain}
        return json.dumps(value, ensure_ascii=False), True
    if mime == "text/x.enum" and isinstance(schema, dict) and schema.get("enum"):
        return str(schema["enum"][0]), True
    return plain, False


def _logprobs(config: dict[str, Any], parts: list[dict[str, Any]]) -> dict[str, Any]:
    """`logprobsResult` and `avgLogprobs` of a candidate, when asked (call-only answers have no steps)."""
    if not config.get("responseLogprobs"):
        return {}
    text = "".join(str(p["text"]) for p in parts if "text" in p and not p.get("thought"))
    result = logprobs_result(text, int(config.get("logprobs") or 0))
    chosen = result.get("chosenCandidates") or []
    if not chosen:
        return {"logprobsResult": result}
    average = sum(c["logProbability"] for c in chosen) / len(chosen)
    return {"logprobsResult": result, "avgLogprobs": round(average, 6)}


def logprob_tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def logprobs_result(text: str, alternatives: int) -> dict[str, Any]:
    """Gemini's `logprobsResult` for `text`; proto3 JSON leaves out empty lists."""
    chosen: list[dict[str, Any]] = []
    tops: list[dict[str, Any]] = []
    for step, token in enumerate(logprob_tokens(text)):
        digest = hashlib.sha256(f"{step}:{token}".encode()).digest()
        probability = 0.5 + digest[0] / 512  # in [0.5, 1): the chosen token is the likeliest
        pick = _logprob_candidate(token, probability)
        chosen.append(pick)
        if alternatives:
            others = [w for w in dict.fromkeys(_FILLER) if token.strip() != w][digest[1] % 8 :]
            space = token[: len(token) - len(token.lstrip())] or " "
            # the rest of the mass, halved at each rank: the probabilities never add up past 1
            rest = [_logprob_candidate(space + w, (1 - probability) / 2 ** (k + 1)) for k, w in enumerate(others[: alternatives - 1])]
            tops.append({"candidates": [pick, *rest]})
    result: dict[str, Any] = {}
    if tops:
        result["topCandidates"] = tops
    if chosen:
        result["chosenCandidates"] = chosen
    return result


def _logprob_candidate(token: str, probability: float) -> dict[str, Any]:
    token_id = int.from_bytes(hashlib.sha256(token.encode()).digest()[:3], "big") % 256_000
    return {"token": token, "tokenId": token_id, "logProbability": round(math.log(probability), 6)}


def _apply_stop(text: str, stops: list[str]) -> tuple[str, str]:
    cuts = [text.find(s) for s in stops if s and s in text]
    return (text[: min(cuts)], "STOP") if cuts else (text, "STOP")


def stream_chunks(response: dict[str, Any]) -> list[dict[str, Any]]:
    """Split a full response into SSE chunks the way Gemini streams.

    Parts become deltas (text in 3+ word groups, thought parts first, function calls
    whole), usageMetadata is cumulative on every chunk, and finishReason arrives on a
    last chunk of its own that carries no parts.
    """
    if "candidates" not in response:
        return [response]
    base = {"modelVersion": response["modelVersion"], "responseId": response["responseId"]}
    steps: list[dict[str, Any]] = []
    for cand in response["candidates"]:
        parts = cand.get("content", {}).get("parts")
        if not parts:
            steps.append(cand)
            continue
        index = {"index": cand["index"]} if "index" in cand else {}
        own = [{"content": {"parts": delta, "role": "model"}, **index} for delta in _deltas(parts)]
        if "logprobsResult" in cand:
            _share_logprobs(own, cand["logprobsResult"])
        steps += own
        steps.append({"content": {"role": "model"}, "finishReason": cand["finishReason"], **index})
    weights = [_weight(step) for step in steps]
    total, seen, final = sum(weights) or 1, 0, response["usageMetadata"]
    events = []
    for step, weight in zip(steps, weights, strict=True):
        seen += weight
        events.append({"candidates": [step], "usageMetadata": _partial_usage(final, seen / total), **base})
    return events


def _share_logprobs(steps: list[dict[str, Any]], result: dict[str, Any]) -> None:
    """Give each text step the logprobs of the tokens that start in its text."""
    chosen, tops = result.get("chosenCandidates") or [], result.get("topCandidates") or []
    starts, offset = [], 0
    for candidate in chosen:
        starts.append(offset)
        offset += len(candidate["token"])
    offset = 0
    for step in steps:
        text = "".join(str(p["text"]) for p in step["content"]["parts"] if "text" in p and not p.get("thought"))
        if not text:
            continue
        mine = [k for k, start in enumerate(starts) if offset <= start < offset + len(text)]
        offset += len(text)
        own: dict[str, Any] = {}
        if tops:
            own["topCandidates"] = [tops[k] for k in mine]
        if mine:
            own["chosenCandidates"] = [chosen[k] for k in mine]
        step["logprobsResult"] = own


def _deltas(parts: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    deltas: list[list[dict[str, Any]]] = []
    for part in parts:
        if "functionCall" in part and deltas and "functionCall" in deltas[-1][-1]:
            deltas[-1].append(part)  # calls of one turn travel together, whole
        elif "text" in part and not part.get("thought"):
            pieces = split_text(str(part["text"]))
            deltas.append([{**part, "text": pieces[0]}])  # metadata (thoughtSignature) stays on the first piece
            deltas += [[{"text": piece}] for piece in pieces[1:]]
        else:
            deltas.append([part])
    return deltas


def split_text(text: str, minimum: int = 3) -> list[str]:
    """Split into at least `minimum` word groups (characters when too few words); joins back exactly."""
    words = re.findall(r"\s*\S+", text)
    if len(words) < minimum:
        size = max(1, math.ceil(len(text) / minimum))
        return [text[i : i + size] for i in range(0, len(text), size)] or [text]
    words[-1] += text[len("".join(words)) :]
    count = max(minimum, len(words) // 4)
    return ["".join(words[j * len(words) // count : (j + 1) * len(words) // count]) for j in range(count)]


def _weight(step: dict[str, Any]) -> int:
    parts = step.get("content", {}).get("parts") or []
    return sum(len(json.dumps(p)) for p in parts if not p.get("thought"))


def _partial_usage(final: dict[str, Any], fraction: float) -> dict[str, Any]:
    candidates = math.floor(final.get("candidatesTokenCount", 0) * min(fraction, 1.0))
    thoughts = final.get("thoughtsTokenCount", 0)
    prompt = final.get("promptTokenCount", 0)
    partial = {**final, "candidatesTokenCount": candidates, "totalTokenCount": prompt + candidates + thoughts}
    return {k: v for k, v in partial.items() if v}


def embedding(text: str, dims: int = EMBEDDING_DIMS) -> list[float]:
    """A unit 3072-d vector from the text's hash; shorter ones are its prefix, hence not normalised (like Gemini)."""
    raw = hashlib.shake_256(text.encode()).digest(EMBEDDING_DIMS * 4)
    values = [n / 2**31 - 1.0 for n in struct.unpack(f"<{EMBEDDING_DIMS}I", raw)]
    norm = math.sqrt(sum(v * v for v in values))
    return [round(v / norm, 8) for v in values[:dims]]


def count_tokens_response(request: dict[str, Any]) -> dict[str, Any]:
    details = prompt_details(request)
    response: dict[str, Any] = {"totalTokens": sum(details.values())}
    if details:
        response["promptTokensDetails"] = [{"modality": m, "tokenCount": n} for m, n in details.items()]
    return response
