"""distilabel 1.5.3's EvolInstruct on the orchestration workload; run by its own venv's python (never imported).

    python distilabel_run.py BASE_URL CONCURRENCY < seeds.json    # prints {"elapsed", "rows", "cpu"}

One evolution and one answer per seed (num_evolutions=1, generate_answers=True), batches of CONCURRENCY.
"""

import json
import sys
import time

from distilabel.models import OpenAILLM
from distilabel.steps.tasks import EvolInstruct


def main() -> None:
    url, concurrency = sys.argv[1], int(sys.argv[2])
    seeds = json.loads(sys.stdin.read())
    llm = OpenAILLM(model="loopback", base_url=url, api_key="x", max_retries=0, timeout=120,
                    generation_kwargs={"max_new_tokens": 256, "temperature": 0.8})
    task = EvolInstruct(llm=llm, num_evolutions=1, generate_answers=True, input_batch_size=concurrency)
    task.load()
    started, cpu = time.perf_counter(), time.process_time()
    rows = 0
    for start in range(0, len(seeds), concurrency):
        batch = [{"instruction": s} for s in seeds[start:start + concurrency]]
        rows += len(next(task.process(batch)))
    print(json.dumps({"elapsed": time.perf_counter() - started, "rows": rows, "cpu": time.process_time() - cpu}))


if __name__ == "__main__":
    main()
