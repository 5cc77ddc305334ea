"""Prompt size in characters, counted from an SDK call's arguments; the text is never kept.

The detector's ``tokenizer`` signal divides input tokens by these characters: another model
family tokenizes the same text into a different number of tokens. Only text counts (message
contents, text parts, system prompt / instructions, tool results); images, audio, tool schemas
and token-id prompts count zero. Counting is ``len()`` over the strings already in memory.

>>> prompt_chars("openai.chat", {"messages": [
...     {"role": "system", "content": "Be brief."},
...     {"role": "user", "content": [{"type": "text", "text": "Hello"},
...                                  {"type": "image_url", "image_url": {"url": "data:…"}}]}]})
14
>>> prompt_chars("anthropic.messages", {"system": "Be brief.", "messages": [
...     {"role": "user", "content": "Hello"}]})
14
>>> prompt_chars("openai.responses", {"instructions": "Be brief.", "input": "Hello"})
14
>>> prompt_chars("openai.completions", {"prompt": ["Hello", "Hi"]})
7
>>> prompt_chars("openai.chat", {}) is None
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_MAX_DEPTH = 6
_MAX_ITEMS = 10_000  # a prompt with more parts than this is counted up to here

#: Which keyword arguments hold prompt text, per SDK method family.
PROMPT_ARGUMENTS: Mapping[str, tuple[str, ...]] = {
    "openai.chat": ("messages",),
    "openai.responses": ("instructions", "input"),
    "openai.completions": ("prompt",),
    "anthropic.messages": ("system", "messages"),
}


def text_chars(value: Any, depth: int = 0) -> int:
    """Characters of text in a message, a content part, or a list of either.

    Dicts and SDK models are read the same way: a ``text`` string counts, otherwise the
    ``content`` is counted recursively (Anthropic ``tool_result`` blocks, OpenAI messages).

    >>> text_chars([{"type": "tool_result", "content": [{"type": "text", "text": "42"}]}])
    2
    >>> text_chars({"role": "user", "content": None}), text_chars([101, 102])
    (0, 0)
    """
    if isinstance(value, str):
        return len(value)
    if depth >= _MAX_DEPTH or value is None:
        return 0
    if isinstance(value, (list, tuple)):
        total = 0
        for item in value[:_MAX_ITEMS]:
            total += text_chars(item, depth + 1)
        return total
    if isinstance(value, Mapping):
        text = value.get("text")
        if isinstance(text, str):
            return len(text)
        return text_chars(value.get("content"), depth + 1)
    text = getattr(value, "text", None)
    if isinstance(text, str):
        return len(text)
    return text_chars(getattr(value, "content", None), depth + 1)


def prompt_chars(family: str, kwargs: Mapping[str, Any]) -> int | None:
    """Characters of prompt text in the keyword arguments of an SDK call of ``family``.

    ``None`` when the call has none of the prompt arguments (nothing to measure). Never raises.
    """
    names = PROMPT_ARGUMENTS.get(family)
    if not names:
        return None
    try:
        present = [kwargs[name] for name in names if kwargs.get(name) is not None]
        if not present:
            return None
        return sum(text_chars(value) for value in present)
    except Exception:  # an unexpected argument shape must not break the call
        return None
