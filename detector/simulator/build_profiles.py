"""Build the simulator's model profiles from the real measurements in ``../shared/data``.

Run from the repository root::

    python -m swapwatch.detector.simulator.build_profiles --data ../shared/data

It writes ``detector/simulator/profiles.json``: quantile tables (33 quantiles, never raw rows)
per model/host and metric, the Azure traces reduced to arrival counts per second and length
quantiles, the load curve of the splitwise profiles, the traits that the data sets do not
measure (declared below, with where each number comes from), and a header with the source,
license and citation of every data set. The build is deterministic: the same data give the
same bytes. The installed product reads only the JSON file.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import statistics
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
N_QUANTILES = 33
PROBABILITIES = [i / (N_QUANTILES - 1) for i in range(N_QUANTILES)]
OUTPUT_PATH = Path(__file__).with_name("profiles.json")

SOURCES: dict[str, dict[str, str]] = {
    "llm-speed-benchmark": {
        "repository": "https://github.com/coder543/llm-speed-benchmark",
        "path": "results/output.csv",
        "license": "MIT",
        "citation": "coder543, llm-speed-benchmark, results of Aug 2024",
    },
    "llmperf-leaderboard": {
        "repository": "https://github.com/ray-project/llmperf-leaderboard",
        "path": "raw_data/individual/",
        "license": "Apache-2.0",
        "citation": "Anyscale, LLMPerf Leaderboard, Dec 2023",
    },
    "azure-llm-2023": {
        "repository": "https://github.com/Azure/AzurePublicDataset",
        "path": "data/AzureLLMInferenceTrace_code.csv, data/AzureLLMInferenceTrace_conv.csv",
        "license": "CC-BY-4.0",
        "citation": (
            "Patel et al., Splitwise: Efficient generative LLM inference using phase "
            "splitting, ISCA 2024"
        ),
    },
    "splitwise": {
        "repository": "https://github.com/Mutinifni/splitwise-sim",
        "path": "data/perf_model.csv",
        "license": "MIT",
        "citation": "Patel et al., Splitwise (ISCA 2024), simulator performance model",
    },
}

# Provider names follow the OTel GenAI semconv well-known values where one exists.
SPEED_BENCHMARK_PROVIDER = {
    "gpt-": "openai",
    "gemini-": "gcp.gemini",
    "llama-3.1-": "groq",  # "-instant"/"-versatile" are Groq's model ids
    "mistral-": "mistral_ai",
    "open-mistral-": "mistral_ai",
    "codestral-": "mistral_ai",
}
LLMPERF_PROVIDER = {
    "anyscale": "anyscale",
    "bedrock": "aws.bedrock",
    "fireworks": "fireworks_ai",
    "groq": "groq",
    "lepton": "lepton_ai",
    "perplexity": "perplexity",
    "replicate": "replicate",
    "together": "together_ai",
}
# The id each host served Llama-2 chat under in Dec 2023 (their public model lists).
LLAMA2_SERVED = {
    "anyscale": "meta-llama/Llama-2-{size}-chat-hf",
    "bedrock": "meta.llama2-{size}-chat-v1",
    "fireworks": "accounts/fireworks/models/llama-v2-{size}-chat",
    "groq": "llama2-{size}-4096",
    "lepton": "llama2-{size}",
    "perplexity": "llama-2-{size}-chat",
    "replicate": "meta/llama-2-{size}-chat",
    "together": "togethercomputer/llama-2-{size}-chat",
}
# Snapshots the APIs answered the benchmark's aliases with in Aug 2024.
SNAPSHOTS = {
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4": "gpt-4-0613",
    "gpt-4-turbo": "gpt-4-turbo-2024-04-09",
    "gpt-3.5-turbo": "gpt-3.5-turbo-0125",
    "gemini-1.5-pro": "gemini-1.5-pro-001",
    "gemini-1.5-flash": "gemini-1.5-flash-001",
}

# Traits the data sets do not measure. Stated assumptions, each from public information:
# tokens per character of English prose by tokenizer (o200k and Llama-3 ~4.2 chars/token,
# cl100k ~4.0, Gemma/Gemini SentencePiece ~4.1, Mistral v3 32k and Llama-2 32k
# SentencePiece ~3.5), MMLU 5-shot from the model cards / technical reports (the mean of the
# simulated evaluation score), whether the API returns a system_fingerprint, tool support.
TOKENS_PER_CHAR = {
    "o200k": 0.238, "cl100k": 0.25, "gemini": 0.244, "llama3": 0.238,
    "mistral32k": 0.285, "tekken": 0.245, "llama2": 0.29,
}
MODEL_TRAITS: dict[str, dict[str, Any]] = {
    "gpt-4o": {"tokenizer": "o200k", "quality": 0.887, "fingerprints": 3, "tools": 1.0},
    "gpt-4o-mini": {"tokenizer": "o200k", "quality": 0.82, "fingerprints": 3, "tools": 1.0},
    "gpt-4": {"tokenizer": "cl100k", "quality": 0.864, "fingerprints": 0, "tools": 0.9},
    "gpt-4-turbo": {"tokenizer": "cl100k", "quality": 0.865, "fingerprints": 2, "tools": 1.0},
    "gpt-3.5-turbo": {"tokenizer": "cl100k", "quality": 0.70, "fingerprints": 2, "tools": 0.9},
    "gemini-1.5-pro": {"tokenizer": "gemini", "quality": 0.859, "fingerprints": 0, "tools": 0.95},
    "gemini-1.5-flash": {"tokenizer": "gemini", "quality": 0.789, "fingerprints": 0,
                         "tools": 0.95},
    "llama-3.1-70b-versatile": {"tokenizer": "llama3", "quality": 0.86, "fingerprints": 1,
                                "tools": 0.85},
    "llama-3.1-8b-instant": {"tokenizer": "llama3", "quality": 0.73, "fingerprints": 1,
                             "tools": 0.7},
    "mistral-large-2407": {"tokenizer": "mistral32k", "quality": 0.84, "fingerprints": 0,
                           "tools": 0.9},
    "open-mistral-7b": {"tokenizer": "mistral32k", "quality": 0.625, "fingerprints": 0,
                        "tools": 0.5},
    "open-mistral-nemo-2407": {"tokenizer": "tekken", "quality": 0.68, "fingerprints": 0,
                               "tools": 0.8},
    "codestral-2405": {"tokenizer": "mistral32k", "quality": 0.63, "fingerprints": 0,
                       "tools": 0.6},
    "llama-2-70b": {"tokenizer": "llama2", "quality": 0.689, "fingerprints": 0, "tools": 0.0},
    "llama-2-13b": {"tokenizer": "llama2", "quality": 0.548, "fingerprints": 0, "tools": 0.0},
    "llama-2-7b": {"tokenizer": "llama2", "quality": 0.458, "fingerprints": 0, "tools": 0.0},
}
# Production error rates are far below what a saturating benchmark provokes; the measured
# benchmark error share (429s, short outputs) raises the baseline proportionally.
PROVIDER_ERROR_BASE = {
    "openai": 0.004, "gcp.gemini": 0.006, "mistral_ai": 0.005, "groq": 0.008,
}
ERROR_BASE_DEFAULT = 0.003
ERROR_SHARE_WEIGHT = 0.03
CONTENT_FILTER_RATE = {"openai": 0.002, "gcp.gemini": 0.004}


def quantiles(values: Sequence[float], digits: int = 4) -> list[float]:
    """33 quantiles (min and max included) by linear interpolation, rounded for stable bytes.

    >>> quantiles([1.0, 2.0, 3.0])[::16]
    [1.0, 2.0, 3.0]
    """
    data = sorted(float(v) for v in values)
    if not data:
        raise ValueError("no values")
    out = []
    for p in PROBABILITIES:
        pos = p * (len(data) - 1)
        lo = math.floor(pos)
        hi = min(lo + 1, len(data) - 1)
        value = data[lo] + (data[hi] - data[lo]) * (pos - lo)
        out.append(_round(value, digits))
    return out


def _round(value: float, digits: int) -> float:
    if value == 0:
        return 0.0
    return float(f"{value:.{digits}g}")


def _fingerprints(model: str, count: int) -> list[list[Any]]:
    # Deterministic fp_ values in OpenAI's format; the first carries most traffic, as seen
    # when a deployment is rolled gradually.
    shares = {1: [1.0], 2: [0.8, 0.2], 3: [0.6, 0.3, 0.1]}.get(count, [])
    return [
        ["fp_" + hashlib.sha256(f"{model}/{i}".encode()).hexdigest()[:10], share]
        for i, share in enumerate(shares)
    ]


def _traits(model_key: str, provider: str, error_share: float) -> dict[str, Any]:
    traits = MODEL_TRAITS[model_key]
    return {
        "tokens_per_char": TOKENS_PER_CHAR[traits["tokenizer"]],
        "tokenizer": traits["tokenizer"],
        "quality_mean": traits["quality"],
        "tool_call_propensity": traits["tools"],
        "content_filter_rate": CONTENT_FILTER_RATE.get(provider, 0.0),
        "error_rate": round(PROVIDER_ERROR_BASE.get(provider, ERROR_BASE_DEFAULT)
                            + ERROR_SHARE_WEIGHT * error_share, 5),
        "benchmark_error_share": round(error_share, 4),
    }


def speed_benchmark_profiles(path: Path) -> dict[str, dict[str, Any]]:
    rows = list(csv.DictReader(path.open(newline="")))
    by_model: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_model.setdefault(row["Model Name"], []).append(row)
    reference_output = statistics.median(
        float(r["Num Response Tokens"]) for r in by_model["gpt-4o"]
    )
    profiles: dict[str, dict[str, Any]] = {}
    for model, group in sorted(by_model.items()):
        provider = next(p for prefix, p in SPEED_BENCHMARK_PROVIDER.items()
                        if model.startswith(prefix))
        ttft = [float(r["Time To First Token"]) for r in group]
        # prompt tokens = ttft × prompt tokens/s (the benchmark's prompt was ~77 tokens)
        prompt = statistics.median(
            float(r["Time To First Token"]) * float(r["Prompt Tok/s"]) for r in group
        )
        output = [float(r["Num Response Tokens"]) for r in group]
        median_output = statistics.median(output)
        served = SNAPSHOTS.get(model, model)
        profile = {
            "source": "llm-speed-benchmark",
            "provider": provider,
            "model": model,
            "served_model": served,
            "samples": len(group),
            "reference_prompt_tokens": round(prompt),
            "ttft_s": quantiles(ttft),
            "decode_tps": quantiles([float(r["Response Tok/s"]) for r in group]),
            "output_ratio": quantiles([o / median_output for o in output]),
            "verbosity": _round(median_output / reference_output, 4),
            "fingerprints": _fingerprints(served, MODEL_TRAITS[model]["fingerprints"]),
        }
        profile.update(_traits(model, provider, 0.0))
        profiles[f"{provider}/{model}"] = profile
    return profiles


def llmperf_profiles(folder: Path) -> dict[str, dict[str, Any]]:
    runs: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(folder.glob("*.json")):
        runs[path.stem] = json.loads(path.read_text())
    ok_outputs = [
        r["number_output_tokens"] for rows in runs.values() for r in rows
        if not r.get("error_code") and r.get("number_output_tokens")
    ]
    reference_output = statistics.median(ok_outputs)
    profiles: dict[str, dict[str, Any]] = {}
    for name, rows in sorted(runs.items()):
        host, size = name.split("_")
        ok = [r for r in rows if not r.get("error_code") and r.get("number_output_tokens")
              and r.get("ttft_s") is not None and r.get("end_to_end_latency_s")]
        # decode rate after the first token; the file's throughput column divides by a
        # different clock on some hosts, so it is recomputed from the timings
        decode = [
            (r["number_output_tokens"] - 1) / (r["end_to_end_latency_s"] - r["ttft_s"])
            for r in ok
            if r["number_output_tokens"] > 1 and r["end_to_end_latency_s"] > r["ttft_s"]
        ]
        output = [float(r["number_output_tokens"]) for r in ok]
        median_output = statistics.median(output)
        provider = LLMPERF_PROVIDER[host]
        model = f"llama-2-{size}"
        served = LLAMA2_SERVED[host].format(size=size)
        profile = {
            "source": "llmperf-leaderboard",
            "provider": provider,
            "model": model,
            "served_model": served,
            "samples": len(rows),
            "reference_prompt_tokens": round(
                statistics.median(r["number_input_tokens"] for r in ok)
            ),
            "ttft_s": quantiles([r["ttft_s"] for r in ok]),
            "decode_tps": quantiles(decode),
            "output_ratio": quantiles([o / median_output for o in output]),
            "verbosity": _round(median_output / reference_output, 4),
            "fingerprints": _fingerprints(served, MODEL_TRAITS[model]["fingerprints"]),
        }
        profile.update(_traits(model, provider, (len(rows) - len(ok)) / len(rows)))
        profiles[f"{provider}/{model}"] = profile
    return profiles


def azure_traffic(path: Path, context_bins: int = 8) -> dict[str, Any]:
    rows = list(csv.DictReader(path.open(newline="")))
    stamps = [datetime.fromisoformat(r["TIMESTAMP"][:26]) for r in rows]
    start = stamps[0]
    seconds = Counter(int((t - start).total_seconds()) for t in stamps)
    span = max(seconds) + 1
    context = [int(r["ContextTokens"]) for r in rows]
    generated = [int(r["GeneratedTokens"]) for r in rows]
    # Output length conditioned on prompt-length bins keeps their correlation.
    edges = quantiles(context, 6)[:: (N_QUANTILES - 1) // context_bins]
    by_bin: list[list[int]] = [[] for _ in range(context_bins)]
    for c, g in zip(context, generated, strict=True):
        index = min(sum(1 for e in edges[1:-1] if c > e), context_bins - 1)
        by_bin[index].append(g)
    return {
        "source": "azure-llm-2023",
        "requests": len(rows),
        "arrivals_per_second": [seconds.get(i, 0) for i in range(span)],
        "context_tokens": quantiles(context, 6),
        "context_bin_edges": edges,
        "generated_tokens_by_bin": [quantiles(g, 6) for g in by_bin],
    }


def load_curve(path: Path) -> dict[str, Any]:
    """Per-token decode time of llama2-70b by batch size, relative to batch 8 (median of GPUs)."""
    times: dict[tuple[str, int], list[float]] = {}
    prefill: dict[str, list[float]] = {}
    for row in csv.DictReader(path.open(newline="")):
        if row["model"] != "llama2-70b":
            continue
        batch, prompt = int(row["batch_size"]), int(row["prompt_size"])
        if prompt == 512 and int(row["token_size"]) == 128:
            times.setdefault((row["hardware"], batch), []).append(float(row["token_time"]))
        if batch == 1 and int(row["token_size"]) == 128 and prompt == 8192:
            prefill.setdefault(row["hardware"], []).append(
                prompt / (float(row["prompt_time"]) / 1000) * float(row["token_time"]) / 1000
            )
    hardware = sorted({h for h, _ in times})
    batches = [b for b in sorted({b for _, b in times}) if b <= 32]
    slowdown = []
    for b in batches:
        ratios = [statistics.median(times[(h, b)]) / statistics.median(times[(h, 8)])
                  for h in hardware]
        slowdown.append(_round(statistics.median(ratios), 4))
    return {
        "source": "splitwise",
        "batch_sizes": batches,
        "decode_slowdown": slowdown,
        # prefill tokens/s ÷ decode tokens/s at batch 1: how much faster a prompt is read
        "prefill_to_decode_ratio": _round(
            statistics.median(statistics.median(v) for v in prefill.values()), 4
        ),
    }


def build(data: Path) -> dict[str, Any]:
    speed = data / "llm-speed-benchmark" / "output.csv"
    models = {**speed_benchmark_profiles(speed),
              **llmperf_profiles(data / "llmperf-leaderboard")}
    return {
        "format": FORMAT_VERSION,
        "built_by": "python -m swapwatch.detector.simulator.build_profiles --data ../shared/data",
        "probabilities": "33 evenly spaced quantiles, 0 to 1 inclusive",
        "sources": SOURCES,
        "load": load_curve(data / "splitwise" / "perf_model.csv"),
        "traffic": {
            "azure-code": azure_traffic(data / "azure-llm-2023" / "code.csv"),
            "azure-conv": azure_traffic(data / "azure-llm-2023" / "conv.csv"),
        },
        "models": dict(sorted(models.items())),
    }


def render(profiles: dict[str, Any]) -> str:
    """The file's exact text: sorted keys, one line per table, stable across runs."""
    return _render(profiles, 0) + "\n"


def _render(value: Any, depth: int) -> str:
    if isinstance(value, dict) and value:
        pad = " " * (depth + 1)
        items = [f"{pad}{json.dumps(k)}: {_render(value[k], depth + 1)}" for k in sorted(value)]
        return "{\n" + ",\n".join(items) + "\n" + " " * depth + "}"
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=OUTPUT_PATH)
    args = parser.parse_args(argv)
    args.out.write_text(render(build(args.data)))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
