"""The field's terms as the pages explain them: one short meaning per term, with where the method comes from.

Pages show these as help text (`help=explain("rollout")`) where a term first appears, so that every page says
the same thing about a term and says it once. A term's meaning is written for a researcher who knows machine
learning but not this tool; its source names the paper or project the method comes from.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    """One term: the name as pages print it, its meaning in one or two sentences, and its source (or None for
    the tool's own terms)."""

    name: str
    meaning: str
    source: str | None = None

    def text(self) -> str:
        """The term as help text: '**name**: meaning (source)'."""
        cite = f" Source: {self.source}." if self.source else ""
        return f"**{self.name}**: {self.meaning}{cite}"


SEED_ARTICLE = 'Hassan Ali, "The Entropy Era: How to Build Synthetic Data Factories for 2026" (blog post)'

TERMS: dict[str, Term] = {term.name: term for term in (
    Term("reference answer",
         "The known final answer of a task (a seed's). A path's own final answer is compared with it; a code task's "
         "reference is its tests, which the code verifier runs."),
    Term("pseudo-reference",
         "When a task has no reference answer, the final answer most of its sampled paths reach (a majority vote) "
         "stands in for it. It is a vote, not a checked answer: a common wrong answer can win it.",
         "self-consistency, Wang et al. 2022"),
    Term("self-consistency",
         "Sample several reasoning paths for one task and take their majority final answer; a path that agrees "
         "with it (or with the reference answer, when there is one) scores high.",
         "Wang et al. 2022, Self-Consistency Improves Chain of Thought Reasoning in Language Models"),
    Term("rollout",
         "A continuation the model samples from the end of one step (the path up to that step as the prefix) to a "
         "final answer. A step's rollout score is the share of its K rollouts that reach the reference answer (or "
         "the pseudo-reference): a step from which the model still gets it right is probably right.",
         "Math-Shepherd, Wang et al. 2024"),
    Term("path score",
         "How a path's step scores become one score, which ranks a task's paths. min over steps: the weakest step "
         "decides, so one wrong step sinks the path; product: every step's score multiplied; last: the final step's; "
         "mean: the average. Public work differs (Math-Shepherd takes the min, PRM800K's authors the product), so it "
         "is a setting.",
         "Lightman et al. 2023 (Let's Verify Step by Step); Wang et al. 2024 (Math-Shepherd)"),
    Term("best path",
         "Of a task's N sampled paths, the one ranked highest (best-of-N selection); the gate judges the task by it.",
         "best-of-N reranking with a verifier, Cobbe et al. 2021"),
    Term("gate",
         "The check before human review. A task passes only when its best path's final answer is verified (against "
         "the reference answer, the tests, or a clear self-consistency majority) and no verifier found a step wrong; "
         "otherwise it is unverified (nothing could check it) or failed (a step found wrong, or no final answer), "
         "and keeps its reason: the step or answer that held it back and who decided it."),
    Term("unverifiable",
         "A verifier that cannot check a step (no arithmetic to recompute, no code, no answer to compare) abstains: "
         "the step scores 0.5 and counts as neither right nor wrong."),
    Term("decided by",
         "Who set a step's score: a person's overrule, else the verifier with the strictest verdict, or nobody when "
         "every verifier abstained."),
    Term("overrule",
         "A person's label of a step (correct, incorrect or neutral). It replaces every verifier's verdict of that "
         "step and is kept with the person's name and the time."),
    Term("lexical entropy",
         "Shannon entropy, in bits, of a text's word-frequency distribution: how varied its words are."),
    Term("token entropy",
         "Entropy, in bits, of the model's next-token distribution, averaged over the tokens it wrote: how unsure "
         "it was while writing. Needs the provider's log-probabilities (top-k ones give a lower bound)."),
    Term("entropy gain",
         "An evolved task's lexical entropy minus its parent's (or its seed's), in bits: did the evolution step add "
         "information, or only length?"),
    Term("novelty",
         "1 minus the highest cosine similarity of a text's embedding to the seeds (or to the approved samples): "
         "0 is a copy, higher is further from anything already there."),
    Term("near-duplicate",
         "Two texts whose embeddings' cosine similarity reaches the near-duplicate threshold. A sample that close to "
         "a seed is removed by the similarity gate; Magpie removes questions that close to ones it already has."),
    Term("semantic disagreement",
         "Entropy, in bits, over the clusters of meaning of k answers sampled for one task: 0 when all say the same "
         "thing, higher when they disagree.",
         "semantic entropy, Kuhn et al. 2023 (clusters here by embedding similarity, not entailment)"),
    Term("uncertainty sampling",
         "Grow data where the teacher is least sure: seeds ranked by the mean percentile rank of their token "
         "entropy and semantic disagreement.",
         "active learning, Lewis and Gale 1994"),
    Term("distinct-2",
         "Unique word pairs over all word pairs of a text: 1 when no pair repeats.",
         "Li et al. 2016, A Diversity-Promoting Objective Function for Neural Conversation Models"),
    Term("compression ratio",
         "A text's size over its zlib-compressed size: about 1 for varied text, higher for repetition."),
    Term("Evol-Instruct",
         "An LLM rewrites a task into a harder one (depth operators: add a constraint, deepen, concretise, add "
         "reasoning steps, complicate the input) or a rarer one in the same domain (breadth). A rewrite that gains "
         "nothing, or that the model cannot answer, is eliminated and retried with another operator.",
         "WizardLM, Xu et al. 2023"),
    Term("Magpie",
         "An aligned model is sent only its chat template's opening of a user turn; what it writes is a question in "
         "its own training distribution, which it then answers.",
         "Xu et al. 2024, Magpie: Alignment Data Synthesis from Scratch"),
    Term("UMAP",
         "A layout of the embeddings in two dimensions that keeps neighbours near each other: distance on the map "
         "reads roughly as difference in meaning; the axes mean nothing.",
         "McInnes et al. 2018"),
    Term("30/70 rule",
         "Train on about 30% synthetic and 70% natural (human) data, so that synthetic data adds to human data "
         "instead of replacing it. A rule of thumb, not a measured optimum.",
         SEED_ARTICLE),
    Term("rectified-scaling heuristic",
         "I = C · (D_nat + α · D_syn · E): useful information grows with the natural rows, and with the synthetic "
         "rows discounted by α and weighted by their entropy E. An illustration, not a fitted law (the published "
         "'rectified scaling law' of Lin et al. 2024 models fine-tuning loss and has another form).",
         SEED_ARTICLE),
)}


def explain(*names: str) -> str:
    """Help text for one or more terms, each as '**name**: meaning (source)', blank-line separated.

    Raises KeyError for a term the glossary does not hold (a page naming an unknown term is a bug)."""
    return "\n\n".join(TERMS[name].text() for name in names)
