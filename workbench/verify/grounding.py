"""Grounding checks: doubts about a solution's process that a right final answer does not dispel.

A solution can reach the reference answer by a wrong route: it restates a quantity of the problem wrongly, leaves
one out and compensates, or says that it is unsure of what the question asks (ProcessBench labels such solutions
erroneous; Zheng et al. 2024). Nothing here finds a step wrong: each check raises a *doubt*, a reason not to call
the path verified, and says which check raised it. The gate makes a doubted path "unverified" instead of
"passed" (workbench.verify.reasoning), and the verifier-weighted vote weighs a doubted step as a coin flip
(workbench.verify.weighted_vote). The checks read the problem's quantities (digits, number words, percentages) and
the solution's numbers (workbench.verify.written_arithmetic); they need no reference answer and no model.

- `unused_quantities`: a quantity the problem gives that no step uses, although the solution speaks of what it
  measures ("20 minutes" never used in a solution that counts minutes). Not a doubt: 0 and 1 (multiplying by one
  is often left unwritten), a count written as a word ("two stops": as often a description as data), a quantity
  whose noun the solution never mentions (a distractor or a condition: "a wave over 30 feet"), and a total the
  problem states twice (16 people = 10 people + 6 people).
- `hedged_steps`: a step that corrects itself or doubts the question ("however", "actually", "wait", "let's
  recalculate", "assuming", "it seems", "might be asking", "is not given"): the text says that something before
  it, or the reading of the question, may be wrong.
- `unwritten_answer`: a final answer that is a number no step wrote (a result rounded, truncated or with its
  sign dropped: "A: 266" after 800 / 3 = 266.67).
- `fractional_count`: a question asking "how many" answered with a fraction or a negative number.
- `restated_quantities`: a step that says it restates the problem ("Given that ...") and gives a number of the
  problem another noun of the problem ("100 papers per inch" for 100 pages to the inch).
- `misread_relations`: a step that gives a named thing of the problem a multiplier ("twice as big") that the
  problem's relations do not give it.
- `answer_unit`: a question asking "how many <things>" whose answer counts something else ("22.5 pounds of toys").

Measured on the ProcessBench GSM8K development half with its reference answers (the 99 solutions the gate passed
before these checks: 94 correct, 5 erroneous), and on 133 GSM8K problems with four GPT-3 solutions each
(openai/grade-school-math `example_model_solutions.jsonl`, 203 correct and 329 wrong solutions): see each check's
docstring. A check is heuristic and its rationale says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from itertools import combinations

from workbench.verify.written_arithmetic import normalise, tokenize

HEURISTIC = "a grounding check (heuristic): "
NUMBER_WORDS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000, "dozen": 12, "twice": 2,
    "double": 2, "triple": 3, "thrice": 3, "half": Fraction(1, 2), "third": Fraction(1, 3),
    "quarter": Fraction(1, 4), "fourth": Fraction(1, 4), "fifth": Fraction(1, 5), "tenth": Fraction(1, 10),
    "halves": Fraction(1, 2), "thirds": Fraction(1, 3), "quarters": Fraction(1, 4), "fourths": Fraction(1, 4),
    "fifths": Fraction(1, 5),
}
# number words that name a count ("two stops", "three rows"): as often a description as a quantity to use
CARDINALS = {word for word, value in NUMBER_WORDS.items() if isinstance(value, int) and word not in (
    "twice", "double", "triple", "thrice")}
NUMBER_WORD = re.compile(r"(\bthe\s+)?\b(" + "|".join(NUMBER_WORDS) + r")\b", re.IGNORECASE)
ABBREVIATIONS = {"lb": "pound", "lbs": "pound", "hr": "hour", "hrs": "hour", "min": "minute", "mins": "minute",
                 "ft": "foot", "feet": "foot", "sec": "second", "secs": "second", "oz": "ounce", "km": "kilometer"}
DIGIT_BEFORE = re.compile(r"\d[ \t]*$")
WORDS_AFTER = re.compile(r"[ \t]*(?:-[ \t]*)?((?:[A-Za-z]+[ \t]+){0,2}[A-Za-z]+)")
WORD = re.compile(r"[A-Za-z]+")
# words after a number that are not what it counts ("3 times as many", "20 more than", "5 of the")
NOT_NOUNS = {
    "times", "more", "less", "fewer", "as", "of", "and", "or", "the", "a", "an", "per", "each", "to", "in", "on",
    "at", "for", "is", "are", "was", "were", "than", "from", "by", "with", "percent", "x", "that", "which", "so",
    "if", "then", "but", "left", "remaining", "total", "altogether", "into", "out", "over", "other", "how", "what",
    "when", "where", "who", "why", "will", "would", "can", "could", "do", "does", "did", "has", "have", "had", "be",
    "been", "it", "he", "she", "they", "we", "you", "his", "her", "their", "its", "not", "no", "because", "since",
    "before", "after", "above", "below", "under", "between", "during", "until", "about", "around", "through", "off",
    "up", "down", "away", "back", "ago", "later", "earlier", "while", "once", "instead", "only", "just", "all",
    "them", "him", "us", "me", "therefore", "thus", "hence", "together", "overall", "now", "here", "there",
}


@dataclass(frozen=True)
class Doubt:
    """A reason not to call a path verified: the step it is about, the check that raised it and why, in words."""

    step: int
    kind: str
    rationale: str


@dataclass(frozen=True)
class Quantity:
    """A number written in a text: its exact value, as written, and the noun after it ('pages' reads 'page'; None
    when a relation word or nothing follows)."""

    value: Fraction
    text: str
    noun: str | None
    percent: bool = False
    definite: bool = False  # a number word after "the": "the two options" names a group, it gives no quantity


def singular(word: str) -> str:
    """A crude singular of an English noun, lower case: 'pages' -> 'page', 'boxes' -> 'boxe', 'glass' -> 'glass'."""
    word = word.lower()
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def noun_phrase(text: str, start: int) -> list[str]:
    """The (up to three) words after a number at `start`, singular and lower case, up to a relation word, a verb
    form or the end of a rate's first word ("5 different containers" -> ['different', 'container']; "3 times as
    many" -> []; "100 papers/inch" -> ['paper']; "22.5 lbs of toys" -> ['pound'])."""
    match = WORDS_AFTER.match(text, start)
    words: list[str] = []
    for word in match.group(1).split() if match else []:
        rate = "PER" in word  # "papersPERinch": a rate's first word is what is counted
        word = word.split("PER")[0].lower()
        if word in NOT_NOUNS or len(word) < 2 or word.endswith(("ly", "ed", "ing")):
            break
        words.append(ABBREVIATIONS.get(word, singular(word)))
        if rate:
            break
    return words


def _noun(text: str, start: int) -> str | None:
    """The noun a number at `start` counts: the last word of its `noun_phrase`, or None."""
    words = noun_phrase(text, start)
    return words[-1] if words else None


@lru_cache(maxsize=4096)  # every check reads the same problem and steps
def quantities(text: str) -> tuple[Quantity, ...]:
    """The numbers a text writes (digits, percentages, number words such as 'twelve', 'half', 'twice', 'dozen'),
    in order of appearance within each kind, each with the noun after it."""
    plain = normalise(text)
    found: list[Quantity] = []
    for token in tokenize(plain):
        if token.kind == "num" and token.value is not None:
            found.append(Quantity(token.value, token.text, _noun(plain, token.end), token.percent))
    for match in NUMBER_WORD.finditer(text):
        if DIGIT_BEFORE.search(text, 0, match.start(2)):
            continue  # "3 dozen", "2 hundred": the word is the digits' unit, not a quantity of its own
        found.append(Quantity(Fraction(NUMBER_WORDS[match.group(2).lower()]), match.group(2),
                              _noun(text, match.end(2)), definite=bool(match.group(1))))
    return tuple(found)


@lru_cache(maxsize=8192)
def _forms(quantity: Quantity) -> frozenset[Fraction]:
    """The values a solution may write for a quantity: 25% as 0.25, 25, or as the factor 0.75 or 1.25 of a decrease
    or an increase; a half as 1/2, 0.5 or a division by 2."""
    forms = {quantity.value}
    if quantity.percent:
        forms |= {quantity.value * 100, 1 + quantity.value, 1 - quantity.value}
    if 0 < quantity.value < 1 and quantity.value.numerator == 1:
        forms.add(Fraction(quantity.value.denominator))
    return frozenset(forms)


def written_values(steps: Sequence[str]) -> frozenset[Fraction]:
    """Every value the steps write, in every form `_forms` gives."""
    return _written_values(tuple(steps))


@lru_cache(maxsize=1024)
def _written_values(steps: tuple[str, ...]) -> frozenset[Fraction]:
    return frozenset(form for step in steps for quantity in quantities(step) for form in _forms(quantity))


def clear_caches() -> None:
    """Forget the quantities, forms and written values read so far (they are kept per text, most recent first)."""
    for cached in (quantities, _forms, _written_values):
        cached.cache_clear()


def _words(steps: Sequence[str]) -> set[str]:
    return {singular(word) for step in steps for word in WORD.findall(normalise(step).replace("PER", " "))}


def _restated_total(index: int, given: list[Quantity], limit: int = 12) -> bool:
    """True when the quantity at `index` is the sum of two or more of the problem's other quantities (a total the
    problem states twice: 16 guests = 10 + 6)."""
    others = [q.value for i, q in enumerate(given) if i != index]
    if len(others) > limit:
        return False
    target = given[index].value
    return any(sum(group) == target for size in range(2, len(others) + 1) for group in combinations(others, size))


def unused_quantities(problem: str, steps: Sequence[str], answer_step: int) -> list[Doubt]:
    """One doubt (at the answer step) per quantity the problem gives that no step writes, in any of its forms,
    although the solution mentions the noun it counts (or it has none: 'four', '4 times'). See the module
    docstring for what is not a doubt. Measured on the development data (module docstring): on ProcessBench GSM8K
    it doubts 1 of the 5 erroneous solutions that passed and none of the 94 correct ones (8 erroneous and no
    correct one of all 200); on the GPT-3 solutions, 56 wrong and 4 correct ones."""
    given = [q for q in quantities(problem) if q.value not in (0, 1) and not q.definite and q.text.lower() not in CARDINALS]
    if not given:
        return []
    written = written_values(steps)
    words = _words(steps)
    doubts = []
    for index, quantity in enumerate(given):
        if _forms(quantity) & written or (quantity.noun is not None and quantity.noun not in words):
            continue
        if _restated_total(index, given):
            continue
        what = f"{quantity.text} {quantity.noun}" if quantity.noun else quantity.text
        doubts.append(Doubt(answer_step, "unused quantity", (
            f"{HEURISTIC}the problem gives {what!r} and no step uses it: a solution that reaches its answer "
            "without a quantity of the problem may have reasoned around it")))
    return doubts


HEDGES = re.compile(
    r"\b(?:however|actually|wait(?=\s*[,!])|mistake|recalculat\w*|re-?evaluat\w*|reconsider\w*|re-?examin\w*|"
    r"let(?:'s| us| me) re-?(?:calculate|check|evaluate|consider|examine|do|visit|think|compute|read|assess)|"
    r"correct(?:ion|ed)|assum(?:e|es|ed|ing|ption)|it seems|(?:might|may) be (?:asking|intended|referring)|"
    r"interpret\w*|ambiguous|unclear|(?:is|are|was|were) not (?:given|provided|specified|stated|mentioned)|"
    r"(?:isn't|aren't|wasn't|weren't) (?:given|provided|specified|stated|mentioned))\b", re.IGNORECASE)


def hedged_steps(steps: Sequence[str]) -> list[Doubt]:
    """A doubt at each step that corrects itself or doubts the question (its first such phrase is named).
    Measured on ProcessBench GSM8K (development half, all 200 solutions): such phrases occur in 1 correct
    solution and in 26 erroneous ones, where they stand at or after the first error; among the solutions the gate
    passed, in 1 correct and 1 erroneous one. On the GPT-3 solutions they are rare (1 wrong solution)."""
    doubts = []
    for index, step in enumerate(steps):
        match = HEDGES.search(step)
        if match:
            doubts.append(Doubt(index, "hedge", (
                f"{HEURISTIC}the step says {match.group(0)!r}: it corrects itself or doubts the question, so "
                "something before it or the reading of the question may be wrong")))
    return doubts


def _value(answer: str | None) -> Fraction | None:
    from workbench.verify.first_error import single_number

    return single_number(answer) if answer else None


def unwritten_answer(steps: Sequence[str], answer_step: int) -> list[Doubt]:
    """A doubt at the answer step when the final answer, stated with a marker ('A: 266', '\\boxed{266}'), is a
    number that no step writes besides the answer itself, in any form, and no calculation states as its result (a
    result rounded, truncated, or with its sign dropped). Measured: on the GPT-3 solutions it doubts 9 wrong ones
    and 1 correct one; on ProcessBench GSM8K, 2 erroneous ones and none of the solutions the gate passed."""
    from workbench.seeds.answer_extraction import extract_final_answer
    from workbench.verify.calculations import find_calculations

    answer = extract_final_answer(steps[answer_step]) if steps else None
    value = _value(answer)
    if value is None or len(steps) < 2:
        return []
    mentions = [form for step in steps for quantity in quantities(step) for form in _forms(quantity)]
    if mentions.count(value) >= 2 or any(c.result == value for step in steps for c in find_calculations(step)[0]):
        return []
    return [Doubt(answer_step, "unwritten answer", (
        f"{HEURISTIC}the final answer {answer!r} is a number no step computed or wrote: a result rounded, "
        "truncated or with its sign dropped may hide an error"))]


HOW_MANY = re.compile(r"\bhow\s+many\b", re.IGNORECASE)


def fractional_count(problem: str, answer_step: int, answer: str | None) -> list[Doubt]:
    """A doubt at the answer step when the question asks "how many" and the answer is not a whole number, or is
    negative (a count of things is neither). Measured: on the GPT-3 solutions it doubts 9 wrong ones and no
    correct one; on ProcessBench GSM8K, 3 erroneous ones and none of the solutions the gate passed."""
    value = _value(answer)
    if value is None or not HOW_MANY.search(problem) or (value.denominator == 1 and value >= 0):
        return []
    return [Doubt(answer_step, "fractional count", (
        f"{HEURISTIC}the question asks how many, and the answer {answer!r} is not a whole number of things"))]


# units of measure: a number restated in another unit is a conversion, not a misreading
UNITS = {
    "inch", "inche", "foot", "feet", "yard", "mile", "meter", "metre", "centimeter", "kilometer", "km", "cm", "mm",
    "hour", "minute", "second", "day", "week", "month", "year", "pound", "lb", "ounce", "gram", "kilogram", "kg",
    "liter", "litre", "gallon", "quart", "pint", "cup", "dollar", "cent", "percent", "degree", "mph",
}
RESTATES = re.compile(r"\b(?:given that|we know that|we are (?:told|given) that|the problem (?:states|says|tells us) "
                      r"that|according to the problem)\b", re.IGNORECASE)
CLAUSE_END = re.compile(r"(?<=[.!?;])\s+|\n+")


def restated_quantities(problem: str, steps: Sequence[str]) -> list[Doubt]:
    """A doubt at each step that says it restates the problem ("Given that ...", "We know that ...", "The problem
    states that ...") and, in that clause, writes a number of the problem with another noun that the problem uses
    for something else ("Given that there are 100 papers per inch" where the problem has 100 pages to the inch and
    papers are what the pages are printed on). Units of measure are left out (a conversion is not a misreading),
    and so is a number the problem writes more than once. Measured on the development data: on ProcessBench GSM8K
    it doubts 1 erroneous solution the gate passed and no correct one; on the GPT-3 solutions (which rarely say
    "given that") it doubts none."""
    given = [q for q in quantities(problem) if q.noun is not None]
    nouns = {q.noun for q in given}
    problem_words = _words([problem])
    doubts = []
    for index, step in enumerate(steps):
        for clause in CLAUSE_END.split(step):
            marker = RESTATES.search(clause)
            if marker is None:
                continue
            for mention in quantities(clause[marker.end():]):
                same = [q for q in quantities(problem) if q.value == mention.value]
                if (len(same) == 1 and same[0].noun and mention.noun and mention.noun != same[0].noun
                        and mention.noun in problem_words and mention.noun not in nouns
                        and not {mention.noun, same[0].noun} & UNITS):
                    doubts.append(Doubt(index, "restated quantity", (
                        f"{HEURISTIC}the step restates the problem with {mention.text} {mention.noun} where the "
                        f"problem has {same[0].text} {same[0].noun}: a quantity of the problem may be misread")))
                    break
            else:
                continue
            break
    return doubts


MULTIPLIER_WORDS = {
    "twice": 2, "double": 2, "thrice": 3, "triple": 3, "half": Fraction(1, 2), "a third": Fraction(1, 3),
    "one third": Fraction(1, 3), "a quarter": Fraction(1, 4), "one quarter": Fraction(1, 4), "a fourth": Fraction(1, 4),
    "one fourth": Fraction(1, 4), "a fifth": Fraction(1, 5), "one fifth": Fraction(1, 5),
    **{word: value for word, value in NUMBER_WORDS.items() if isinstance(value, int) and value <= 10},
}
RELATION = re.compile(
    r"\b(?P<times>twice|double|thrice|triple|half|(?:a|one)[- ](?:third|quarter|fourth|fifth)|\d+(?:\.\d+)?(?:/\d+)?|"
    r"two|three|four|five|six|seven|eight|nine|ten)(?:\s+times)?\s+(?:as\s+(?:big|many|much|old|long|fast|tall|heavy|"
    r"large|expensive|far|high|wide|often|quickly|slow|small|short|young|cheap)\b|(?:more|bigger|larger|older|"
    r"longer|faster|taller|heavier|greater)\s+(?:\w+\s+){0,3}?than\b|the\s+(?:size|number|amount|age|length|weight|"
    r"price|cost|height|speed|distance)\s+of\b)", re.IGNORECASE)
NAME = re.compile(r"\b([A-Z][a-z]+)(?:'s|’s)?\b")
NOT_NAMES = {
    "The", "So", "If", "Since", "Then", "Therefore", "Thus", "Now", "First", "Second", "Third", "Next", "Finally",
    "We", "He", "She", "They", "It", "His", "Her", "Their", "This", "That", "Let", "To", "In", "On", "At", "For",
    "And", "But", "Each", "Every", "Given", "After", "Before", "Step", "Total", "Answer", "A", "An", "When", "Which",
    "What", "How", "Also", "Together", "Combined", "Altogether", "Hence", "Because", "Who", "Both", "Over", "With",
    "Of", "By", "There", "Its", "Volume", "Number", "Cost", "Price", "Age",
}


@dataclass(frozen=True)
class Relation:
    """'Zack's locker is half as big as Timothy's': who (`subject`), the multiplier (`times`), and of whom
    (`of`, None when the text does not say)."""

    subject: str
    times: Fraction
    of: str | None


def _multiplier(text: str) -> Fraction | None:
    text = text.lower().replace("-", " ")
    if text in MULTIPLIER_WORDS:
        return Fraction(MULTIPLIER_WORDS[text])
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def relations(text: str) -> list[Relation]:
    """The multiplicative relations a text states between named things ("twice as many as", "3 times more than",
    "half the size of"), the subject being the last name before the relation in its clause."""
    found = []
    for clause in CLAUSE_END.split(text):
        for match in RELATION.finditer(clause):
            times = _multiplier(match.group("times"))
            before = [name for name in NAME.findall(clause[: match.start()]) if name not in NOT_NAMES]
            after = [name for name in NAME.findall(clause[match.end() : match.end() + 60]) if name not in NOT_NAMES]
            if times is not None and before:
                found.append(Relation(before[-1], times, after[0] if after else None))
    return found


def misread_relations(problem: str, steps: Sequence[str]) -> list[Doubt]:
    """A doubt at each step that states a relation of a named thing of the problem with a multiplier the problem's
    relations do not give it ("Zack's locker (which is twice as big)" where the problem makes it half of Timothy's
    and four times Peter's). A relation read from the other side counts (Timothy's is twice Zack's), and "3 times
    more" may mean 3 or 4 times as much. Measured on the development data: on ProcessBench GSM8K it doubts 1
    erroneous solution (one the gate passed) and no correct one; on the GPT-3 solutions 1 wrong one and no correct
    one: rare, and so far never wrong."""
    given = relations(problem)
    doubts = []
    for index, step in enumerate(steps):
        for relation in relations(step):
            allowed = {value for g in given if g.subject == relation.subject for value in (g.times, g.times + 1)}
            allowed |= {1 / value for g in given if g.of == relation.subject for value in (g.times, g.times + 1)}
            if allowed and relation.times not in allowed:
                doubts.append(Doubt(index, "misread relation", (
                    f"{HEURISTIC}the step makes {relation.subject} {relation.times} times as much, a relation the "
                    "problem does not state: a relation of the problem may be misread")))
                break
    return doubts


HOW_MANY_OF = re.compile(r"\bhow\s+many\s+(?:more\s+|fewer\s+|less\s+|total\s+|of\s+the\s+|of\s+)?", re.IGNORECASE)


def answer_unit(problem: str, steps: Sequence[str], answer_step: int) -> list[Doubt]:
    """A doubt at the answer step when the question asks "how many <things>" and the answer's number is written
    with a noun that shares no word with them ("how many toys" answered "22.5 pounds of toys": a weight, not a
    count of toys). The answer's noun is read in the answer step, or in the step before when the answer step is
    only the answer ("A: 22.5"). Measured: on the GPT-3 solutions it doubts 13 wrong ones and 2 correct ones
    (raspberries counted as fruit); on ProcessBench GSM8K, none."""
    from workbench.seeds.answer_extraction import find_final_answer

    asked = list(HOW_MANY_OF.finditer(problem))
    statement = find_final_answer(steps[answer_step])
    value = _value(statement.answer if statement else None)
    if not asked or value is None:
        return []
    wanted = set(noun_phrase(problem, asked[-1].end()))
    alone = not (steps[answer_step][: statement.start] + steps[answer_step][statement.end :]).strip()
    written: list[str] = []  # the noun phrase of the answer's last mention with one
    for step in ([steps[answer_step - 1]] if alone and answer_step else []) + [steps[answer_step]]:
        plain = normalise(step)
        for token in tokenize(plain):
            if token.kind == "num" and token.value == value and (phrase := noun_phrase(plain, token.end)):
                written = phrase
    if not wanted or not written or wanted & set(written):
        return []
    return [Doubt(answer_step, "answer unit", (
        f"{HEURISTIC}the question asks how many {' '.join(sorted(wanted))}, and the answer counts "
        f"{written[-1]}: the answer may measure something else"))]


def unused_results(steps: Sequence[str], answer_step: int) -> list[Doubt]:
    """One loose end per calculation up to the answer step whose result (holding, and stated) nothing after it
    uses: no later calculation of its step takes it as an operand, no later step writes it (in any form
    `_forms` gives, to within 0.01), and it is not the final answer. A solution that computes a quantity and then
    goes on without it has lost its thread, or computed something the question does not need ("20 + 5 = 25 people"
    and then "10 + 5 = 15 lbs"). Measured on the development half of the GPT-3 solutions (module docstring; even
    ids): a result left unused in 42 of 176 wrong solutions and 1 of 92 correct ones; on the check half (odd ids,
    never looked at while designing) in 31 of 153 wrong and 2 of 111 correct ones. As a loose end in the vote
    (combined offline verifiers): development half 0.520 -> 0.535, check half 0.576 -> 0.583."""
    from workbench.verify.calculations import find_calculations
    from workbench.verify.verifiers.consistency import stated_answer

    answer = _value(stated_answer(steps)[1])
    hints = []
    for index, step in enumerate(steps[: answer_step + 1]):
        calculations = find_calculations(step)[0]
        later = written_values(steps[index + 1 :]) | ({answer} if answer is not None else set())
        for position, calculation in enumerate(calculations):
            result = calculation.result
            if result is None or not calculation.holds:
                continue
            operands = {t.value for c in calculations[position + 1 :] for t in c.expression if t.kind == "num"}
            if not any(abs(value - result) < Fraction(1, 100) for value in later | operands if value is not None):
                hints.append(Doubt(answer_step, "unused result", (
                    f"{HEURISTIC}step {index + 1} computes {calculation.text!r} and no later step uses its result "
                    "(a weak hint, not a doubt)")))
    return hints


def loose_ends(problem: str, steps: Sequence[str], answer_step: int) -> list[Doubt]:
    """Weaker evidence than a doubt, at the answer step: one per quantity of the problem that no step writes in any
    form (none of `unused_quantities`' exceptions but 0, 1 and "the two"), one when the final answer only restates
    a quantity of the problem, and one per calculation whose result nothing uses (`unused_results`). They never
    make a path unverified; the verifier-weighted vote weighs each a little (workbench.verify.reasoning.HINT_WEIGHT), a tie-break among paths no check tells apart. Measured on the
    GPT-3 solutions (module docstring): a quantity left unwritten in 89 of 329 wrong solutions and 14 of 203
    correct ones; an answer restating a quantity of the problem in 21 wrong and 9 correct ones (base rate: 329
    wrong to 203 correct)."""
    from workbench.verify.verifiers.consistency import stated_answer

    given = [q for q in quantities(problem) if q.value not in (0, 1) and not q.definite]
    written = written_values(steps)
    hints = [Doubt(answer_step, "unwritten quantity", (
        f"{HEURISTIC}no step writes the problem's {quantity.text!r} (a weak hint, not a doubt)"))
        for quantity in given if not _forms(quantity) & written]
    value = _value(stated_answer(steps)[1]) if steps else None
    if value is not None and value in {q.value for q in given}:
        hints.append(Doubt(answer_step, "answer restates a given", (
            f"{HEURISTIC}the final answer is a number the problem gives (a weak hint, not a doubt)")))
    return hints + unused_results(steps, answer_step)


def grounding_doubts(problem: str, steps: Sequence[str]) -> list[Doubt]:
    """Every doubt the checks raise about a solution (`steps`) to `problem`, in step order."""
    from workbench.verify.verifiers.consistency import stated_answer

    if not steps:
        return []
    answer_step, answer = stated_answer(steps)
    doubts = (unused_quantities(problem, steps, answer_step) + hedged_steps(steps) + restated_quantities(problem, steps)
              + misread_relations(problem, steps)
              + unwritten_answer(steps, answer_step) + answer_unit(problem, steps, answer_step)
              + fractional_count(problem, answer_step, answer))
    return sorted(doubts, key=lambda doubt: doubt.step)
