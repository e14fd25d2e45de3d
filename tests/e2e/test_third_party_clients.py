"""Issue 9 end to end: third-party OpenAI clients nobody here wrote, used the way their users
write them, against the router and the emulator. LangChain (`langchain-openai`): invoke,
stream, tools, with_structured_output, and OpenAIEmbeddings with its defaults (token-id
inputs, tokenized client-side with tiktoken); instructor: response_model over tool calls.

The emulator answers deterministically (gemini_emulator/answers.py): text echoes the last user
message, a forced tool call gets arguments filled from the schema's required fields ("example"
for strings, 1 for integers, True for booleans), and JSON mode fills every property the same way.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import httpx
import instructor
import openai
import pytest
import tiktoken
from gemini_emulator.answers import embedding as emulator_embedding
from hpn_router.edge.tiktoken_files import write_tiktoken_cache
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI, OpenAIEmbeddings
from procs import Router, client_for
from pydantic import BaseModel
from tiktoken_ext import openai_public

TOKEN = "sk-client-token-not-a-gemini-key"
MODEL = "gpt-4o"  # the router's default mapping, as an app written for OpenAI would send


@pytest.fixture(scope="module")
def offline_tiktoken(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """LangChain tokenizes embedding inputs with tiktoken, which downloads cl100k_base on first
    use; this machine has no such network. The router's shipped copy, laid out as tiktoken's
    cache, is what a user without that host does too (README "Embeddings")."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TIKTOKEN_CACHE_DIR", str(write_tiktoken_cache(tmp_path_factory.mktemp("tiktoken"))))
        yield


def sent_bodies() -> tuple[list[bytes], httpx.Client]:
    """An httpx client that records the request bodies it sends (to see what LangChain sends)."""
    bodies: list[bytes] = []
    return bodies, httpx.Client(event_hooks={"request": [lambda request: bodies.append(request.read())]})


def unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(math.fsum(v * v for v in vector))
    return [v / norm for v in vector]


def close(a: list[float], b: list[float], tolerance: float = 1e-5) -> bool:
    return len(a) == len(b) and max(abs(x - y) for x, y in zip(a, b, strict=True)) < tolerance


# --- LangChain --------------------------------------------------------------------------------


def chat(router: Router, **kw: object) -> ChatOpenAI:
    return ChatOpenAI(model=MODEL, base_url=router.base_url, api_key=TOKEN, max_retries=0, **kw)  # type: ignore[arg-type]


def test_langchain_invoke_and_stream(router):
    llm = chat(router)
    answer = llm.invoke("Hello LangChain")
    assert answer.content == "Hello from gemini-flash-latest! You said: Hello LangChain"
    assert answer.usage_metadata["input_tokens"] > 0 and answer.usage_metadata["output_tokens"] > 0
    chunks = list(llm.stream("Stream please [[long]]"))
    assert len([c for c in chunks if c.content]) >= 8
    assert "".join(str(c.content) for c in chunks).startswith("Hello from gemini-flash-latest! You said: Stream please")


@tool
def get_weather(city: str) -> str:
    """The current weather in a city."""
    return f"Sunny in {city}"


def test_langchain_tool_call_and_answer_round_trip(router):
    llm = chat(router).bind_tools([get_weather])
    question = HumanMessage("What's the weather in Paris?")
    first = llm.invoke([question])
    assert [(c["name"], c["args"]) for c in first.tool_calls] == [("get_weather", {"city": "example"})]
    call = first.tool_calls[0]
    second = llm.invoke([question, first, ToolMessage(get_weather.invoke(call["args"]), tool_call_id=call["id"])])
    assert second.content == 'Tool results received: [{"content":"Sunny in example"}]' and not second.tool_calls


class Person(BaseModel):
    name: str
    age: int
    likes_tea: bool


class Team(BaseModel):
    lead: Person
    members: list[Person]
    motto: str | None = None


def test_langchain_with_structured_output(router):
    structured = chat(router).with_structured_output(Person)  # response_format json_schema, LangChain's default
    assert structured.invoke("Describe Ada") == Person(name="example", age=1, likes_tea=True)
    ada = Person(name="example", age=1, likes_tea=True)
    nested = chat(router).with_structured_output(Team)  # $defs and an optional field
    assert nested.invoke("Describe the team") == Team(lead=ada, members=[ada], motto="example")
    as_tool = chat(router).with_structured_output(Person, method="function_calling")
    assert as_tool.invoke("Describe Ada") == ada


def test_langchain_embeddings_with_defaults_send_token_ids(router, offline_tiktoken):
    bodies, http_client = sent_bodies()
    embedder = OpenAIEmbeddings(base_url=router.base_url, api_key=TOKEN, max_retries=0, http_client=http_client)
    texts = ["the quick brown fox", "héllo wörld, ça va?"]
    vectors = embedder.embed_documents(texts)
    query = embedder.embed_query("the quick brown fox")
    # LangChain's default: token ids counted with tiktoken, not the text
    assert b'"input":[[' in bodies[0] and b"quick" not in bodies[0]
    # The router decoded the ids back to the text: the vector is the emulator's for that text
    # (LangChain rescales each vector to unit length).
    assert [close(v, unit(emulator_embedding(t))) for v, t in zip(vectors, texts, strict=True)] == [True, True]
    assert close(query, vectors[0])


def test_langchain_embeddings_of_a_text_longer_than_its_chunk(router, offline_tiktoken):
    """Past `embedding_ctx_length` tokens LangChain splits a text into token chunks, embeds each
    and averages them by length: every chunk arrives as ids the router must decode."""
    embedder = OpenAIEmbeddings(base_url=router.base_url, api_key=TOKEN, max_retries=0, embedding_ctx_length=8)
    text = "one two three four five six seven eight nine ten eleven twelve"
    encoding = tiktoken.get_encoding("cl100k_base")
    chunks = [encoding.encode(text)[i : i + 8] for i in range(0, len(encoding.encode(text)), 8)]
    assert len(chunks) == 2
    vectors = [emulator_embedding(encoding.decode(chunk)) for chunk in chunks]
    weighted = [sum(len(chunk) * vector[d] for chunk, vector in zip(chunks, vectors, strict=True)) for d in range(3072)]
    assert close(embedder.embed_query(text), unit(weighted), 1e-4)


# --- the OpenAI SDK with token ids (what LangChain sends) -------------------------------------


def test_token_id_inputs_are_decoded_with_cl100k_base(router):
    client = client_for(router)
    hello = [15339, 1917]  # cl100k_base for "hello world"
    one = client.embeddings.create(model="text-embedding-3-small", input=hello, encoding_format="float")
    many = client.embeddings.create(model="text-embedding-ada-002", input=[hello, [9906]], encoding_format="float")
    assert close(one.data[0].embedding, emulator_embedding("hello world"))
    assert [close(d.embedding, emulator_embedding(t)) for d, t in zip(many.data, ["hello world", "Hello"], strict=True)] == [True, True]


@pytest.mark.parametrize(
    ("tokens", "param"),
    [([[15339], [15339, 100256]], "input[1]"), ([[15339], [-1]], "input[1]"), ([15339, 10**12], "input"), ([[]], "input[0]")],
)
def test_token_ids_outside_the_vocabulary_are_a_400_naming_the_input(router, emulator, tokens, param):
    with pytest.raises(openai.BadRequestError) as info:
        client_for(router).embeddings.create(model="text-embedding-3-small", input=tokens)
    assert info.value.body["param"] == param
    assert emulator.stats()["requests"] == []  # never forwarded


# --- instructor -------------------------------------------------------------------------------


class Order(BaseModel):
    item: str
    quantity: int
    gift_wrap: bool


def test_instructor_response_model_over_tool_calls(router):
    client = instructor.from_openai(openai.OpenAI(base_url=router.base_url, api_key=TOKEN, max_retries=0))
    order = client.chat.completions.create(
        model=MODEL, response_model=Order, messages=[{"role": "user", "content": "Two mugs, wrapped please"}], max_retries=0
    )
    assert order.model_dump() == {"item": "example", "quantity": 1, "gift_wrap": True}


def test_instructor_json_schema_mode(router):
    client = instructor.from_openai(openai.OpenAI(base_url=router.base_url, api_key=TOKEN, max_retries=0), mode=instructor.Mode.JSON_SCHEMA)
    order = client.chat.completions.create(
        model=MODEL, response_model=Order, messages=[{"role": "user", "content": "Two mugs, wrapped please"}], max_retries=0
    )
    assert order.model_dump() == {"item": "example", "quantity": 1, "gift_wrap": True}


def test_tiktoken_cache_folder_is_what_tiktoken_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The documented recipe for clients without network: TIKTOKEN_CACHE_DIR at the written folder."""
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(write_tiktoken_cache(tmp_path / "cache")))
    encoding = tiktoken.Encoding(**openai_public.cl100k_base())  # what get_encoding builds, without its process-wide memo
    assert encoding.encode("hello world") == [15339, 1917]
