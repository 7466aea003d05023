"""Benchmark decontamination: word n-gram overlap and embedding similarity against registered test sets."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.safety.decontamination import NgramIndex, Settings, benchmark_texts, scan, words

BENCHMARK = [
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
    "How many clips did Natalia sell altogether in April and May?",
    "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. "
    "How much did she earn?",
    "What is 2 + 2?",
]
CONTAINS_QUESTION = (
    "Here is a practice problem for you. Natalia sold clips to 48 of her friends in April, and then "
    "she sold half as many clips in May. How many clips did Natalia sell altogether in April and May? "
    "Show your work and give the final answer."
)
SAME_TEMPLATE = (
    "Marco sold pencils to 30 of his classmates in March, and then he sold a third as many pencils in "
    "April. How many pencils did Marco sell in total over the two months?"
)


def test_words_ignore_case_punctuation_and_spacing():
    assert words("How MANY clips,\r\n did   Natalia sell?") == ["how", "many", "clips", "did", "natalia", "sell"]


def test_a_benchmark_question_inside_a_longer_sample_overlaps_fully():
    index = NgramIndex(BENCHMARK)
    assert index.overlaps(CONTAINS_QUESTION)[0] == pytest.approx(1.0)


def test_a_question_on_the_same_template_shares_no_13_gram():
    assert NgramIndex(BENCHMARK).overlaps(SAME_TEMPLATE) == {}


def test_overlap_is_the_share_of_the_items_ngrams_found():
    item = " ".join(f"w{i}" for i in range(20))  # 20 words: 8 distinct 13-grams
    half = " ".join(f"w{i}" for i in range(16))  # words 0..15 hold the first 4 of them
    assert NgramIndex([item]).overlaps(half)[0] == pytest.approx(4 / 8)


def test_items_shorter_than_n_match_as_one_gram_and_very_short_items_not_at_all():
    short = "Weng earns twelve dollars an hour for babysitting work"  # 9 words < 13
    index = NgramIndex([short, "What is 2 + 2?"])
    assert index.overlaps(f"Question: {short}. Answer it.") == {0: 1.0}
    assert 1 not in index.overlaps("What is 2 + 2? It is 4.")  # 4 words: similarity only


def test_scan_flags_the_copy_and_leaves_the_merely_similar_sample_alone():
    hits = scan([CONTAINS_QUESTION, SAME_TEMPLATE, "Write a haiku about autumn."], NgramIndex(BENCHMARK), Settings())
    assert [(h.text_index, h.item_index, h.ngram_overlap) for h in hits] == [(0, 0, pytest.approx(1.0))]
    assert hits[0].similarity is None  # no vectors given


def test_scan_flags_a_restatement_by_embedding_similarity_above_the_threshold():
    items = np.eye(3, dtype=np.float32)
    restated = np.array([[0.99, 0.141, 0.0], [0.8, 0.6, 0.0]], dtype=np.float32)  # cosines 0.99 and 0.8 to item 0
    texts = ["a restatement with no shared words", "another unrelated text"]
    hits = scan(texts, NgramIndex(["x y"] * 3), Settings(min_similarity=0.95), restated, items)
    assert [(h.text_index, h.item_index) for h in hits] == [(0, 0)]
    assert hits[0].similarity == pytest.approx(0.99, abs=1e-6) and hits[0].ngram_overlap == 0.0


def test_ngram_size_is_configurable_and_checked():
    eight = "one two three four five six seven eight nine ten"
    assert NgramIndex([eight], n=8).overlaps("zero one two three four five six seven eight") == {0: pytest.approx(1 / 3)}
    with pytest.raises(ValueError, match="n-gram size"):
        Settings(ngram=0)
    with pytest.raises(ValueError, match="similarity threshold"):
        Settings(min_similarity=1.5)


def test_benchmark_texts_name_the_missing_field_and_refuse_an_empty_file():
    assert benchmark_texts([{"question": " Q1 "}, {"question": "Q2"}], "question", "gsm8k.jsonl") == ["Q1", "Q2"]
    with pytest.raises(ValueError, match=r"record 2 has no 'question' field \(fields in this file: question\)"):
        benchmark_texts([{"question": "Q1"}, {"problem": "Q2"}], "question", "b.jsonl")
    with pytest.raises(ValueError, match="no records"):
        benchmark_texts([], "question", "empty.jsonl")
