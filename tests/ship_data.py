"""Stores filled for the review / PII / export tests: seeds, an evolution chain, samples, paths and step scores."""

from __future__ import annotations

from workbench.store import Store, now

CLEAN_PII = {"engine": "ner", "note": "test", "scanned_at": 0.0, "findings": []}

# Every planted value, and the sentence that carries it. None of them may survive a redacted export (under the
# default PII policy, which looks for each of these kinds).
PLANTED = {
    "EMAIL_ADDRESS": ("jane.doe@example.com", "Send the report to jane.doe@example.com before Friday."),
    "PHONE_NUMBER": ("(415) 555-2671", "Call the office at (415) 555-2671 for details."),
    "CREDIT_CARD": ("4111 1111 1111 1111", "The card number is 4111 1111 1111 1111, expiring soon."),
    "IBAN_CODE": ("DE89 3704 0044 0532 0130 00", "Wire it to IBAN DE89 3704 0044 0532 0130 00 today."),
    "US_SSN": ("536-22-8712", "Her social security number is 536-22-8712."),
    "IP_ADDRESS": ("192.168.10.24", "The server listens on 192.168.10.24 behind the proxy."),
    "PERSON": ("Maria Gonzalez", "Employee Maria Gonzalez wrote the first draft of the plan."),
    "STREET_ADDRESS": ("1600 Pennsylvania Avenue NW", "Deliver the signed lease to 1600 Pennsylvania Avenue NW by Friday."),
    "API_KEY": ("sk-proj-abcDEF1234567890ghijklmnop", "Use the key sk-proj-abcDEF1234567890ghijklmnop for testing."),
    "SECRET": ("9f8Ae7Bc6Dd5Ef4Gh3Ij", 'In the config, api_key = "9f8Ae7Bc6Dd5Ef4Gh3Ij" is set.'),
}
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
GITHUB_TOKEN = "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
PRIVATE_KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9C\n-----END RSA PRIVATE KEY-----"


def add_chain(store: Store, seed_instruction: str = "Add two numbers.") -> tuple[int, int]:
    """A seed and a two-step evolution chain (add_constraints -> deepen); returns (seed id, leaf node id)."""
    seed_id = store.seeds.insert_seeds([{"instruction": seed_instruction, "domain": "math"}])[0]
    nodes = store.db["evol_nodes"]
    root = nodes.insert(
        {"node_key": f"{seed_id}:0", "seed_id": seed_id, "depth": 1, "operator": "add_constraints",
         "instruction": "x", "status": "survived", "created_at": now()}
    ).last_pk
    leaf = nodes.insert(
        {"node_key": f"{seed_id}:1", "seed_id": seed_id, "parent_id": root, "depth": 2, "operator": "deepen",
         "instruction": "y", "status": "survived", "created_at": now()}
    ).last_pk
    return seed_id, leaf


def add_sample(
    store: Store,
    instruction: str,
    output: str = "The answer.",
    source: str = "evol",
    status: str = "approved",
    pii: dict | None = CLEAN_PII,
    **extra,
) -> int:
    sample_id = store.samples.insert_sample({"source": source, "instruction": instruction, "output": output, "status": status, **extra})
    if pii is not None:
        store.samples.set_sample_pii({sample_id: pii})
    return sample_id


def add_path(store: Store, sample_id: int, steps: list[str], path_index: int = 0) -> int:
    """A reasoning path for a sample, stored the way the reasoning stage stores one. Adding a path forgets the sample's
    PII scan; a scan the fixture gave the sample is kept, as if it had been made after the path."""
    scan = store.samples.get_sample(sample_id)["pii"]
    path = {"task_type": "sample", "task_id": sample_id, "path_index": path_index, "text": "\n".join(steps)}
    path_id = store.verify.add_reasoning_path(path, steps)
    if scan is not None:
        store.samples.set_sample_pii({sample_id: scan})
    return path_id


def add_scored_path(store: Store, sample_id: int, steps: list[str], scores: list[float | None], path_index: int = 0,
                    verifier: str = "test-prm") -> tuple[int, list[int]]:
    """A reasoning path whose steps carry the given verifier scores (None: unscored); returns (path id, step ids)."""
    path_id = add_path(store, sample_id, steps, path_index)
    step_ids = [s["id"] for s in store.verify.path_steps(path_id)]
    store.verify.set_step_scores(
        [{"step_id": i, "verifier": verifier, "score": s, "label": "scored"} for i, s in zip(step_ids, scores, strict=True) if s is not None]
    )
    return path_id, step_ids


def add_gate_path(store: Store, sample_id: int, steps: list[str], wrong_at: int | None = None, path_index: int = 0,
                  by: str = "arithmetic") -> tuple[int, list[int]]:
    """A path as the verifiers leave it: every step's calculations hold by `by` (evidence), the last (its final
    answer) checked against the reference by `consistency` (its outcome); `wrong_at` marks that step found wrong instead (the path then fails the
    gate). Returns (path id, step ids)."""
    path_id = add_path(store, sample_id, steps, path_index)
    step_ids = [s["id"] for s in store.verify.path_steps(path_id)]
    rows = []
    for index, step_id in enumerate(step_ids):
        right = wrong_at is None or index < wrong_at
        last = index == len(step_ids) - 1
        rows.append({"step_id": step_id, "verifier": "consistency" if last else by, "score": 1.0 if right else 0.0,
                     "label": "correct" if right else "incorrect", "rationale": "test verdict",
                     "checks": "outcome" if last else "evidence"})
    store.verify.set_step_scores(rows)
    return path_id, step_ids


def add_math_task(store: Store, question: str, reference: str, output: str, status: str = "approved") -> int:
    """A sample asking a seed's own question (so the seed's reference answer is the sample's)."""
    seed_id = store.seeds.insert_seeds([{"instruction": question, "reference_answer": reference, "domain": "math"}])[0]
    return add_sample(store, question, output, status=status, seed_id=seed_id)


def add_correction(store: Store, step_id: int, text: str, labeller: str = "Ada") -> int:
    """A person's corrected step (PRM800K's human_completion). Adding one forgets the sample's PII scan; a scan the
    fixture gave the sample is kept, as if it had been made after the correction."""
    task = store.verify.step_task(step_id)
    scan = store.samples.get_sample(task[1])["pii"] if task and task[0] == "sample" else None
    completion_id = store.verify.add_human_completion(step_id, text, labeller)
    if scan is not None:
        store.samples.set_sample_pii({task[1]: scan})
    return completion_id
