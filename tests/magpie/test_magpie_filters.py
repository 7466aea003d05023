"""Magpie filters: every reason a generated exchange is dropped, and the trimming of raw completions."""

from __future__ import annotations

import pytest

from workbench.core.model_text import cut_at_stops
from workbench.core.teacher import Generation
from workbench.core.unfinished import unfinished_reason
from workbench.magpie.engine import (
    DuplicateIndex,
    FilterSettings,
    cut_at_entropy_spike,
    detect_language,
    duplicate_index,
    filter_turn,
    get_template,
    reason_category,
    stopped_at_token_limit,
    summarise_reasons,
    trim_generation,
)
from workbench.magpie.job import BASE_MODEL_ENTROPY_CUT

GEMMA = get_template("gemma")
SETTINGS = FilterSettings()
ANSWER = "Plants turn light, water and carbon dioxide into sugar and oxygen in their leaves."


def reason(query: str, answer: str = ANSWER, settings: FilterSettings = SETTINGS) -> str | None:
    return filter_turn(query, answer, GEMMA, settings)


def test_a_good_exchange_is_kept():
    assert reason("How does photosynthesis work in plants?") is None


@pytest.mark.parametrize(
    ("query", "answer", "expected"),
    [
        ("   ", ANSWER, "empty query"),
        ("How does photosynthesis work?", "  \n", "empty answer"),
        ("Why?", ANSWER, "too short"),
        ("Explain " + "very " * 500 + "carefully.", ANSWER, "too long"),
        ("How does photosynthesis work?<end_of_turn>", ANSWER, "template leakage"),
        ("How does photosynthesis work?", "model\n" + ANSWER, None),
        ("How does photosynthesis work?", ANSWER + "\n<|im_start|>user\nAnd more?", "template leakage"),
        ("How does photosynthesis work?", ANSWER + "\nUser: tell me more", "template leakage"),
        ("Wie funktioniert die Photosynthese bei Pflanzen genau?", ANSWER, "non-target language"),
        ("How does photosynthesis work?", "How does photosynthesis work?", "answer repeats the query"),
        ("Water boils at 212 degrees Fahrenheit (100 degrees Celsius)",
         "Water boils at 100 degrees Celsius (212 degrees Fahrenheit).", "answer repeats the query"),
        ("What is the capital of France?", "The capital of France is Paris.", None),
        ("Where are the flowers in this table?", '"', "near-empty answer"),
        ("What are they called?", "A.", "near-empty answer"),
        ("What are they called?", " ... ", "near-empty answer"),
        ("Write a short poem about the", ANSWER, "unfinished query"),
        ("Translate the following sentence into French:", ANSWER, "unfinished query"),
        ("Compare the two approaches (speed and memory", ANSWER, "unfinished query"),
        ("How does photosynthesis work?", "Plants use light, water and", "unfinished answer"),
        ("How does photosynthesis work?", "In three steps: first,", "unfinished answer"),
        ("Write a Python function that adds two numbers.", "```python\ndef add(a, b):\n    return a +", "unfinished answer"),
    ],
)
def test_each_reason(query: str, answer: str, expected: str | None):
    got = reason(query, answer)
    assert (reason_category(got) if got else None) == expected, got


@pytest.mark.parametrize(
    "text",
    [
        "Write a haiku about autumn",  # an imperative needs no full stop
        "What is it made of?",
        "What is it made of",  # questions end on prepositions
        "Which foods are rich in vitamin A",
        "def square(x):\n    return x * x",
        "```python\nprint('hi')\n```",
        "It depends (on the season).",
        "Jane Austen.",
        "3x^2.",
    ],
)
def test_finished_texts_are_not_called_unfinished(text: str):
    assert unfinished_reason(text) is None
    assert reason("How should I answer this question?", answer=text) is None


def test_dangling_words_count_only_for_english():
    assert unfinished_reason("Escribe un poema sobre el mar y la", english=False) is None
    assert unfinished_reason("Write a poem about the sea and the") == "ends with 'the'"
    assert reason("Write a poem about the sea and the", settings=FilterSettings(language=None)) is None


def test_a_generation_cut_by_the_token_limit_is_dropped():
    cut = Generation(text="Photosynthesis happens in three stages. First the light", model="m", params={},
                     finish_reason="length")
    assert stopped_at_token_limit(cut, cut.text)
    ended = Generation(text="Photosynthesis turns light into sugar.", model="m", params={}, finish_reason="stop")
    assert not stopped_at_token_limit(ended, ended.text)
    # the turn ended (a stop string or an entropy cut shortened the text) before the limit was reached
    ran_on = Generation(text="What is a prime?<end_of_turn>\nuser more", model="m", params={}, finish_reason="length")
    assert not stopped_at_token_limit(ran_on, "What is a prime?")
    got = filter_turn("How does photosynthesis work?", cut.text, GEMMA, SETTINGS, hit_limit=["answer"])
    assert reason_category(got) == "answer hit the token limit"
    got = filter_turn("How does photosynthesis work in", ANSWER, GEMMA, SETTINGS, hit_limit=["query"])
    assert reason_category(got) == "query hit the token limit"


def test_language_filter_names_the_language_and_can_be_turned_off():
    german = "Wie funktioniert die Photosynthese bei Pflanzen genau?"
    assert reason(german).startswith("non-target language (de, p=")
    assert reason(german, settings=FilterSettings(language=None)) is None
    assert reason(german, answer="Die Pflanze nutzt Licht.", settings=FilterSettings(language="de")) is None


def test_short_or_code_like_text_is_not_judged_by_language():
    # language identification is unsure on a few words or on code: such text is kept
    assert detect_language("def f(x): return x")[1] < SETTINGS.language_confidence
    assert reason("Explain recursion.", answer="def f(n):\n    return 1 if n < 2 else n * f(n - 1)") is None


def test_length_limits_come_from_the_settings():
    assert reason("What is pi?", settings=FilterSettings(min_chars=20)).startswith("too short")
    assert reason("What is the value of pi?", settings=FilterSettings(max_chars=10)).startswith("too long")


def test_duplicate_index_exact_and_near():
    index = DuplicateIndex(similarity=90)
    index.add("How does photosynthesis work in plants?", "seed 3")
    assert index.match("how does  photosynthesis work in PLANTS?") == "duplicate of seed 3"
    near = index.match("How does photosynthesis work in a plant?")
    assert near.startswith("near duplicate of seed 3 (") and near.endswith("% similar)")
    assert index.match("What is the capital of Peru?") is None
    assert DuplicateIndex(similarity=101).match("How does photosynthesis work in a plant?") is None


def test_duplicate_index_reads_seeds_and_kept_samples_only(store):
    [seed_id] = store.seeds.insert_seeds([{"instruction": "Explain how vaccines train the immune system."}])
    kept = store.samples.insert_sample({"source": "magpie", "instruction": "What is a prime number?", "unit_key": "a"})
    store.samples.insert_sample(
        {"source": "magpie", "instruction": "Dropped query here", "unit_key": "b", "filter_reason": "too short"}
    )
    index = duplicate_index(store, 90.0, primer=[("Who wrote Hamlet?", "Shakespeare.")])
    assert index.match("Explain how vaccines train the immune system.") == f"duplicate of seed {seed_id}"
    assert index.match("What is a prime number?") == f"duplicate of sample {kept}"
    assert index.match("Dropped query here") is None
    assert index.match("Who wrote Hamlet?") == "duplicate of a primer example"


def test_summarise_reasons_groups_details():
    counts = {"kept": 4, "near duplicate of sample 2 (93% similar)": 1, "near duplicate of seed 7 (91% similar)": 2,
              "turn 2: too short (query under 10 characters)": 1}
    assert summarise_reasons(counts) == {"near duplicate": 3, "too short": 1}


def generation(tokens: list[str], entropies: list[float] | None) -> Generation:
    return Generation(text="".join(tokens), model="m", params={}, tokens=tokens, token_entropies=entropies)


def test_entropy_spike_ends_the_turn_a_base_model_cannot_close():
    # measured on the bundled Gemma, in bits: after its question the next-token distribution goes flat (10.7)
    tokens = ["What", " year", " is", " it", "?", " Seorang", "\n", "ibley"]
    entropies = [5.3, 4.8, 3.3, 3.8, 1.0, 10.7, 4.5, 9.8]
    text, kept = trim_generation(generation(tokens, entropies), ["\n"], BASE_MODEL_ENTROPY_CUT)
    assert text == "What year is it?"
    assert kept == entropies[:5]
    assert cut_at_entropy_spike(generation(tokens, entropies), None) == "".join(tokens)
    assert cut_at_entropy_spike(generation(tokens, None), 6.0) == "".join(tokens)


def test_a_rare_word_inside_a_sentence_does_not_end_the_turn():
    # also measured: 'How do the' + a flat-distribution noun; the turn ends at the spike after '?'
    tokens = ["How", " do", " the", " tardigrades", " survive", "?", " alakal", "\n"]
    entropies = [3.0, 1.2, 2.5, 6.4, 2.0, 0.8, 7.2, 3.0]
    assert cut_at_entropy_spike(generation(tokens, entropies), 6.0) == "How do the tardigrades survive?"
    assert cut_at_entropy_spike(generation(tokens[:5], entropies[:5]), 6.0) == "How do the tardigrades survive"


def test_stop_strings_cut_text_from_backends_that_ignore_them():
    assert cut_at_stops("Why is the sky blue?<end_of_turn>\n<start_of_turn>model", GEMMA.stop) == "Why is the sky blue?"
    text, entropies = trim_generation(generation(["Why", " so", "?\n", "More"], [1.0, 2.0, 1.0, 1.0]), ["\n"], None)
    assert text == "Why so?" and entropies == [1.0, 2.0, 1.0]
