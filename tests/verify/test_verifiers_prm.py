"""The neural PRM adapters on tiny randomly initialised models built here (no downloads, no weights shipped)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from workbench.verify.verifiers import VerifierError, get_verifier  # noqa: E402
from workbench.verify.verifiers.base import Task  # noqa: E402
from workbench.verify.verifiers.prm import PRMVerifier  # noqa: E402

CORPUS = ["add one and two", "one add two is three", "the answer is three", "add four", "+ -", "system user assistant",
          "Please reason step by step, and put your final answer within \\boxed{}."]
TASK = Task("add one and two")
STEPS = ["one add two is three", "the answer is three", "add four"]


def tiny_tokenizer(directory: Path, special: list[str], chat_template: str | None = None):
    """A byte-level BPE tokenizer trained here on a few sentences: real merges, no download."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<pad>", *special],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    backend.train_from_iterator(CORPUS * 20, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", additional_special_tokens=special)
    if chat_template:
        tokenizer.chat_template = chat_template
    tokenizer.save_pretrained(directory)
    return tokenizer


@pytest.fixture
def qwen_style(tmp_path: Path) -> Path:
    from transformers import Qwen2Config, Qwen2ForTokenClassification

    template = "{% for m in messages %}{{ m['role'] }} {{ m['content'] }} {% endfor %}"
    tokenizer = tiny_tokenizer(tmp_path, ["<extra_0>"], template)
    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, num_labels=2, pad_token_id=0)
    Qwen2ForTokenClassification(config).save_pretrained(tmp_path)
    return tmp_path


@pytest.fixture
def shepherd_style(tmp_path: Path) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = tiny_tokenizer(tmp_path, ["ки"])
    torch.manual_seed(1)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, pad_token_id=0)
    LlamaForCausalLM(config).save_pretrained(tmp_path)
    return tmp_path


def test_qwen_style_reads_p_positive_at_every_extra_0_marker(qwen_style: Path):
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    verifier = get_verifier("prm", path=str(qwen_style), style="qwen", device="cpu")
    scores = asyncio.run(verifier.score_steps(TASK, STEPS))

    tokenizer = AutoTokenizer.from_pretrained(qwen_style)
    model = AutoModelForTokenClassification.from_pretrained(qwen_style).eval()
    text = verifier.qwen_text(TASK, STEPS)
    assert text.count("<extra_0>") == len(STEPS)
    ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    assert "Ġanswer" in tokenizer.convert_ids_to_tokens(ids[0])  # the text is really tokenized, not collapsed
    marker_positions = (ids[0] == tokenizer.convert_tokens_to_ids("<extra_0>")).nonzero().flatten().tolist()
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0]
    expected = [torch.softmax(logits[p], dim=-1)[1].item() for p in marker_positions]
    assert len(marker_positions) == len(STEPS) == len(scores)
    assert [s.score for s in scores] == pytest.approx(expected, abs=1e-5)
    assert len({round(s.score, 6) for s in scores}) > 1  # different positions give different scores
    assert all(s.label == ("correct" if s.score >= 0.5 else "incorrect") for s in scores)
    assert "P(positive)" in scores[0].rationale


def test_shepherd_style_reads_plus_versus_minus_at_every_tag(shepherd_style: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    verifier = PRMVerifier(shepherd_style, style="shepherd", device="cpu")
    scores = verifier.score_all(TASK, STEPS)

    tokenizer = AutoTokenizer.from_pretrained(shepherd_style)
    model = AutoModelForCausalLM.from_pretrained(shepherd_style).eval()
    ids = tokenizer(verifier.shepherd_text(TASK, STEPS), return_tensors="pt")["input_ids"]
    tag = tokenizer.convert_tokens_to_ids("ки")
    plus, minus = tokenizer.convert_tokens_to_ids("+"), tokenizer.convert_tokens_to_ids("Ġ-")  # as in "+ -"
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0]
    positions = (ids[0] == tag).nonzero().flatten().tolist()
    expected = [torch.softmax(logits[p, [plus, minus]], dim=-1)[0].item() for p in positions]
    assert len(positions) == len(STEPS) == len(scores)
    assert [s.score for s in scores] == pytest.approx(expected, abs=1e-5)
    assert 'P("+")' in scores[0].rationale


def test_steps_cut_off_by_the_length_limit_are_unverifiable(qwen_style: Path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(qwen_style)
    full = PRMVerifier(qwen_style, style="qwen", device="cpu")
    ids = tokenizer(full.qwen_text(TASK, STEPS), add_special_tokens=False)["input_ids"]
    markers = [i for i, t in enumerate(ids) if t == tokenizer.convert_tokens_to_ids("<extra_0>")]
    cut = PRMVerifier(qwen_style, style="qwen", device="cpu", max_length=markers[1])  # keeps only the first marker
    scores = cut.score_all(TASK, STEPS)
    assert [s.label == "unverifiable" for s in scores] == [False, True, True]
    assert "cut off" in scores[-1].rationale
    assert scores[0].score == pytest.approx(full.score_all(TASK, STEPS)[0].score, abs=1e-5)


def test_prm_refuses_a_missing_path_or_unknown_style(tmp_path: Path):
    with pytest.raises(VerifierError, match="no local model"):
        PRMVerifier(tmp_path / "absent")
    with pytest.raises(VerifierError, match="needs the path"):
        PRMVerifier(None)
    with pytest.raises(VerifierError, match="style"):
        PRMVerifier(tmp_path, style="other")


def test_a_model_without_the_step_token_is_refused(shepherd_style: Path):
    verifier = PRMVerifier(shepherd_style, style="qwen", device="cpu")
    with pytest.raises(VerifierError, match="<extra_0>"):
        verifier.score_all(TASK, STEPS)
