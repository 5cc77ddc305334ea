"""ProfileBehaviour behind the HTTP simulator: the real openai SDK sees profile-driven replies
and a scheduled swap."""

from __future__ import annotations

import math

import openai
from swapwatch.detector.simulator.profile_behaviour import ProfileBehaviour, Swap
from swapwatch.detector.simulator.profiles import load_catalog
from swapwatch.detector.simulator.provider import ProviderServer
from swapwatch.detector.simulator.scenario import Arm
from swapwatch.detector.simulator.suite import build_scenario

CATALOG = load_catalog()
SWAP_AT = 1_772_500_000.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _ask(client: openai.OpenAI, i: int) -> openai.types.chat.ChatCompletion:
    return client.chat.completions.create(
        model="gpt-4o", max_tokens=400,
        messages=[{"role": "user", "content": f"question {i}: " + "explain the report " * 30}])


def test_swap_is_served_over_http_from_the_scheduled_time() -> None:
    gpt4o, mini = CATALOG.model("openai/gpt-4o"), CATALOG.model("openai/gpt-4o-mini")
    behaviour = ProfileBehaviour(
        {"gpt-4o": (Arm(gpt4o),)},
        swaps=[Swap(SWAP_AT, "gpt-4o", (Arm(mini, reported_model="gpt-4o-2024-08-06"),))],
        seed=3,
    )
    clock = Clock(SWAP_AT - 3600)
    with ProviderServer(behaviour, speed=math.inf, clock=clock) as server:
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="sim", max_retries=0)
        before = [_ask(client, i) for i in range(40)]
        clock.now = SWAP_AT + 60
        after = [_ask(client, i) for i in range(40)]
    assert {c.model for c in before} == {c.model for c in after} == {"gpt-4o-2024-08-06"}
    assert {c.system_fingerprint for c in before} <= {fp for fp, _ in gpt4o.fingerprints}
    assert {c.system_fingerprint for c in after} <= {fp for fp, _ in mini.fingerprints}
    # the tokenizer ratio of the profile decides the prompt tokens the API reports
    prompt_chars = len("question 1: " + "explain the report " * 30)
    expected = prompt_chars * gpt4o.tokens_per_char
    assert abs(before[1].usage.prompt_tokens - expected) < 0.1 * expected


def test_unknown_models_get_a_404_and_scenarios_become_behaviours() -> None:
    scenario = build_scenario("size-swap", variant="anyscale", seed=1)
    behaviour = ProfileBehaviour.for_scenario(scenario)
    served = "meta-llama/Llama-2-70b-chat-hf"
    with ProviderServer(behaviour, speed=math.inf,
                        clock=Clock(scenario.start_s + scenario.changes[0].at_s + 1)) as server:
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="sim", max_retries=0)
        reply = client.chat.completions.create(
            model=served, messages=[{"role": "user", "content": "hi"}], max_tokens=20)
        assert reply.model == served  # the 13B answers under the 70B id after the swap
        try:
            client.chat.completions.create(model="no-such-model",
                                           messages=[{"role": "user", "content": "hi"}])
        except openai.NotFoundError:
            pass
        else:
            raise AssertionError("an unknown model must be a 404")
