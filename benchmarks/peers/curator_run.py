"""bespokelabs-curator 0.1.31 on the orchestration workload; run by its own venv's python (never imported).

    python curator_run.py BASE_URL CONCURRENCY < prompts.json    # prints {"elapsed", "rows", "cpu"}

stdin holds the evolution prompts (one chat message each); every evolved instruction is then answered,
so the run makes two calls per prompt, like the evolve job at depth 1.
"""

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import litellm

os.environ["TIKTOKEN_CACHE_DIR"] = str(Path(litellm.__file__).parent / "litellm_core_utils" / "tokenizers")
os.environ["CURATOR_DISABLE_CACHE"] = "true"
os.environ.setdefault("CURATOR_CACHE_DIR", tempfile.mkdtemp(prefix="curator-"))

from bespokelabs import curator  # noqa: E402


class Step(curator.LLM):
    def prompt(self, row: dict) -> list[dict]:
        return [{"role": "user", "content": row["text"]}]

    def parse(self, row: dict, response: str) -> dict:
        return {"text": response}


def main() -> None:
    url, concurrency = sys.argv[1], int(sys.argv[2])
    prompts = json.loads(sys.stdin.read())
    backend_params = {"base_url": url, "api_key": "x", "max_concurrent_requests": concurrency,
                      "max_requests_per_minute": 10_000_000, "max_tokens_per_minute": 10_000_000_000,
                      "max_retries": 0, "require_all_responses": False}
    evolve = Step(model_name="loopback", backend="openai", backend_params=backend_params,
                  generation_params={"temperature": 0.8, "max_tokens": 256, "logprobs": True, "top_logprobs": 5})
    answer = Step(model_name="loopback", backend="openai", backend_params=backend_params,
                  generation_params={"temperature": 0.2, "max_tokens": 256})
    started, cpu = time.perf_counter(), time.process_time()
    evolved = evolve([{"text": text} for text in prompts]).dataset
    answered = answer([{"text": row["text"]} for row in evolved]).dataset
    print(json.dumps({"elapsed": time.perf_counter() - started, "rows": len(answered),
                      "cpu": time.process_time() - cpu}))


if __name__ == "__main__":
    main()
