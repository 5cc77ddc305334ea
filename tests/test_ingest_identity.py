"""Model identity (snapshot-aware) and catalog pricing: table tests."""

from __future__ import annotations

import pytest
from swapwatch.detector.ingest.identity import canonical_model, canonical_provider, is_expected
from swapwatch.detector.ingest.pricing import call_cost_usd, catalog_model_id

EXPECTED = [
    # (requested, served, same artifact?)
    ("gpt-4o", "gpt-4o-2024-08-06", True),
    ("gpt-4o", "gpt-4o-2024-05-13", True),  # the alias moved: fingerprint's job, not identity's
    ("gpt-4o-2024-08-06", "gpt-4o-2024-08-06", True),
    ("gpt-4o-2024-08-06", "gpt-4o-2024-11-20", False),  # pinned snapshot, another served
    ("gpt-4o", "gpt-4o-mini-2024-07-18", False),
    ("gpt-4o", "gpt-4", False),
    ("gpt-4", "gpt-4-0613", True),
    ("gpt-4-turbo-preview", "gpt-4-0125-preview", True),  # only the catalog knows this one
    ("o3", "o3-mini-2025-01-31", False),
    ("openai/gpt-4o", "gpt-4o-2024-08-06", True),
    ("claude-sonnet-4-5", "claude-sonnet-4-5-20250929", True),
    ("claude-3-5-sonnet-latest", "claude-3-5-sonnet-20241022", True),
    ("claude-3-5-sonnet-20241022", "claude-3-5-haiku-20241022", False),
    ("claude-sonnet-4-5", "claude-haiku-4-5-20251001", False),
    ("us.anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-3-5-sonnet-20241022", True),
    ("anthropic.claude-3-5-sonnet-20240620-v1:0", "claude-3-5-sonnet-20241022", False),
    ("claude-3-5-haiku@20241022", "claude-3-5-haiku-20241022", True),
    ("gemini-1.5-pro", "gemini-1.5-pro-002", True),
    ("models/gemini-1.5-pro", "gemini-1.5-flash-002", False),
    ("mistral-large-latest", "mistral-large-2411", True),
    ("deepseek-v3", "deepseek-v2", False),
    ("meta-llama/Llama-3.1-70B-Instruct", "llama-3.1-8b-instruct", False),
    ("ft:gpt-4o-mini-2024-07-18:acme::B9x", "ft:gpt-4o-mini-2024-07-18:acme::B9x", True),
    ("ft:gpt-4o-mini-2024-07-18:acme::B9x", "gpt-4o-mini-2024-07-18", False),  # fine-tune → base
    ("gpt-4o", "", True),  # no served model: no evidence either way
]


@pytest.mark.parametrize(("requested", "served", "expected"), EXPECTED)
def test_is_expected(requested: str, served: str, expected: bool) -> None:
    assert is_expected(requested, served) is expected


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("GPT-4o-2024-08-06", "gpt-4o"),
        ("openai/gpt-4o", "gpt-4o"),
        ("arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
         "claude-3-haiku"),
        ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
        ("amazon.nova-pro-v1:0", "nova-pro"),
        ("publishers/anthropic/models/claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet-v2"),
        ("gemini-2.5-flash-preview-05-20", "gemini-2.5-flash-preview"),
        ("command-r-08-2024", "command-r"),
        ("ft:gpt-4o-2024-08-06:acme::x1", "ft:gpt-4o-2024-08-06:acme::x1"),
    ],
)
def test_canonical_model(name: str, canonical: str) -> None:
    assert canonical_model(name) == canonical


def test_canonical_provider_maps_every_dialects_spelling() -> None:
    assert {canonical_provider(p) for p in ("openai", "OpenAI", " openai ")} == {"openai"}
    assert canonical_provider("Anthropic") == "anthropic"
    assert canonical_provider("aws") == canonical_provider("AWS") == "aws.bedrock"
    assert canonical_provider("some.new.vendor") == "some.new.vendor"


def test_catalog_groups_aliases_with_snapshots() -> None:
    assert catalog_model_id("gpt-4o") == catalog_model_id("gpt-4o-2024-08-06") is not None
    assert catalog_model_id("gpt-4o") != catalog_model_id("gpt-4o-mini")
    assert catalog_model_id("definitely-not-a-model-xyz") is None


def test_cost_follows_catalog_rates_and_cache_discount() -> None:
    full = call_cost_usd("openai", "gpt-4o-2024-08-06", 1000, 200)
    cached = call_cost_usd("openai", "gpt-4o-2024-08-06", 1000, 200, cached_input_tokens=1000)
    assert full == pytest.approx(1000 * 2.5e-6 + 200 * 10e-6)
    assert cached is not None and full is not None and cached < full
    # served model decides: a cheaper model costs less for the same tokens
    mini = call_cost_usd("openai", "gpt-4o-mini-2024-07-18", 1000, 200)
    assert mini is not None and mini < full / 5


def test_cost_uses_exact_catalog_price_above_a_tier() -> None:
    small = call_cost_usd("anthropic", "claude-sonnet-4-5-20250929", 100_000, 0)
    large = call_cost_usd("anthropic", "claude-sonnet-4-5-20250929", 300_000, 0)
    assert small is not None and large is not None
    assert large / 300_000 > small / 100_000  # long-context rate applies to the whole prompt


@pytest.mark.parametrize(
    "args",
    [
        ("openai", None, 10, 10),
        ("openai", "gpt-4o", None, 10),
        ("openai", "gpt-4o", -5, 10),
        ("openai", "no-such-model-anywhere", 10, 10),
        ("no-such-provider", "no-such-model-anywhere", 10, 10),
    ],
)
def test_cost_unknown_is_none_never_an_exception(args: tuple) -> None:
    assert call_cost_usd(*args) is None
