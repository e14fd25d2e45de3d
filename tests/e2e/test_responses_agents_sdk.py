"""The OpenAI Agents SDK (`openai-agents`) with its default model, which speaks the Responses
API: an Agent with a function tool, and one with a structured output type, each run and
streamed through a real mitmdump against the emulator.
Tracing is off (it would upload to OpenAI). Skipped where the SDK is not installed: it resolves
beside mitmproxy 11.0.2 only with `mcp<2` (mcp 2 needs h11>=0.16)."""

from __future__ import annotations

import asyncio

import pytest
from procs import Router

agents = pytest.importorskip("agents")


def test_an_agent_with_a_function_tool_runs_through_the_router(router: Router) -> None:
    from agents import Agent, OpenAIResponsesModel, Runner, function_tool, set_tracing_disabled
    from openai import AsyncOpenAI

    set_tracing_disabled(True)
    seen: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        seen.append(city)
        return f"Sunny in {city}"

    client = AsyncOpenAI(base_url=router.base_url, api_key="sk-client-token-not-a-gemini-key", max_retries=0)
    model = OpenAIResponsesModel(model="gemini-2.5-flash", openai_client=client)
    agent = Agent(name="weather", instructions="Use the tool.", tools=[get_weather], model=model)

    async def run() -> tuple[str, str]:
        result = await Runner.run(agent, "Weather in Paris?")
        streamed = Runner.run_streamed(agent, "Weather in Paris?")
        async for _ in streamed.stream_events():
            pass
        return str(result.final_output), str(streamed.final_output)

    final, streamed_final = asyncio.run(run())
    assert len(seen) == 2  # the tool ran once per run
    assert final.startswith("Tool results received:") and "Sunny in" in final
    assert streamed_final.startswith("Tool results received:")


def test_an_agent_with_a_structured_output_type_gets_it_parsed(router: Router) -> None:
    """`output_type`: the SDK asks for a json_schema text format (strict) and parses the answer."""
    from agents import Agent, OpenAIResponsesModel, Runner, set_tracing_disabled
    from openai import AsyncOpenAI
    from pydantic import BaseModel

    class Weather(BaseModel):
        city: str
        temperature_c: float

    set_tracing_disabled(True)
    client = AsyncOpenAI(base_url=router.base_url, api_key="sk-client-token-not-a-gemini-key", max_retries=0)
    model = OpenAIResponsesModel(model="gemini-2.5-flash", openai_client=client)
    agent = Agent(name="weather", instructions="Answer as JSON.", output_type=Weather, model=model)

    async def run() -> tuple[object, object]:
        result = await Runner.run(agent, "Weather in Paris?")
        streamed = Runner.run_streamed(agent, "Weather in Rome?")
        async for _ in streamed.stream_events():
            pass
        return result.final_output, streamed.final_output

    final, streamed_final = asyncio.run(run())
    assert isinstance(final, Weather) and isinstance(streamed_final, Weather)
