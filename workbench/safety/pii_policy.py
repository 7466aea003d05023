"""The PII policy: which hits of a scan flag a sample, and why (workbench.safety.pii runs the scan).

Two presets:
- 'records' ("identifiers and personal records", the default). Contact and account identifiers are always PII:
  emails, phone numbers, cards, IBANs, national IDs and social security numbers, passport numbers, record numbers
  (an employee's, a pupil's, a patient's ID), dates of birth, IP addresses, street addresses and postcodes, keys and
  secrets. A person's name is PII when it belongs to a record about that person: in the same record (paragraph)
  as an identifier; named by a record's role word ("Employee Priya Raghunathan", "patient", "pupil", "visitor") or a
  name label ("Name: ..."); or in a sentence giving their health, employment, financial or education details. A name
  in general knowledge ("books by Carl Sagan", "Stephen Hawking was born in Oxford") is not. Places are not.
- 'strict': every identifier, every person's name (even a lone given name) and every place.

Under both: a number inside a calculation ("5 / 14 = 0.3571428571 * 2") or a decimal is never a phone number (nor any
other identifier number); a bare run of digits is a phone number only with a phone word near it, an NHS number only
with "NHS" near it; a span with digits is never a name; role placeholders
("[Tenant]", "{name}", "the Hiring Manager") are not names. Every finding says why it counts (`why`), every
ignored hit why not (`reason`), so Review can show both. Names a reviewer marked "Not PII" are kept in an
allow-list that later scans respect (`allowed`).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace

from workbench.core.wording import plural

PRESETS = {"records": "identifiers and personal records", "strict": "strict: every person and place"}
DEFAULT_PRESET = "records"
SCORE_THRESHOLD = 0.4
IDENTIFIERS = {
    "EMAIL_ADDRESS": "an email address", "PHONE_NUMBER": "a phone number", "CREDIT_CARD": "a card number",
    "IBAN_CODE": "a bank account (IBAN)", "US_SSN": "a social security number", "NATIONAL_ID": "a national ID number",
    "UK_NHS": "an NHS number", "PASSPORT": "a passport number", "RECORD_ID": "a record's ID number",
    "DATE_OF_BIRTH": "a date of birth", "IP_ADDRESS": "an IP address", "STREET_ADDRESS": "a street address",
    "POSTCODE": "a postcode", "API_KEY": "an API key", "SECRET": "a secret", "PRIVATE_KEY": "a private key",
}
DEFAULT_ENTITIES = (*IDENTIFIERS, "PERSON")
STRICT_ENTITIES = (*DEFAULT_ENTITIES, "LOCATION")
OPTIONAL_ENTITIES = ("LOCATION", "DATE_TIME", "NRP", "URL", "US_PASSPORT", "US_DRIVER_LICENSE", "US_BANK_NUMBER", "US_ITIN",
                     "MEDICAL_LICENSE", "CRYPTO")
ROLE_WORDS = frozenset(
    "tenant landlord customer client user manager employee employer candidate applicant recipient sender name "
    "first last full middle surname your my his her their our company patient doctor student teacher author buyer "
    "seller owner agent representative person member admin administrator supervisor colleague friend partner "
    "contractor vendor supplier guest host speaker reader writer parent child team lead hiring interviewer "
    "interviewee contact support service sales account holder beneficiary insured policyholder lender borrower "
    "party recruiter director officer chief executive ceo cto cfo hr department pupil visitor staff resident "
    "passenger claimant subscriber volunteer intern trainee donor".split()
)
INSTRUCTION_VERBS = frozenset(
    "explain describe write tell ask compare summarize summarise translate list name give discuss analyze analyse "
    "imagine pretend draft compose create generate suggest recommend calculate compute solve find identify "
    "outline evaluate classify rewrite rephrase paraphrase edit convert".split()
)
TITLES = frozenset("mr mrs ms miss dr prof sir madam mx".split())
INSTITUTION_WORDS = frozenset("union centre center hall building house council association society club office services "
                              "portal handbook day week month award visa loan card account number id".split())
PHONE_WORDS = re.compile(r"(phone|call|tel|mobile|cell|fax|whatsapp|text|sms|contact|dial|ring)\w*\W*(\w+\W+){0,3}$", re.I)
NUMBERS = ("PHONE_NUMBER", "UK_NHS", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "US_BANK_NUMBER", "US_ITIN", "US_PASSPORT",
           "US_DRIVER_LICENSE", "RECORD_ID", "NATIONAL_ID", "PASSPORT")  # numbers a calculation or a decimal never is
NUMBER_WORDS = {"PHONE_NUMBER": PHONE_WORDS, "UK_NHS": re.compile(r"\bnhs\b|health service", re.I)}  # a bare run of digits needs one
OPERATOR = r"[-+*/×÷=^≈<>]|\\times|\\cdot|\\div"
BEFORE_CALCULATION = re.compile(rf"(?:[\d)\]]\s*(?:{OPERATOR})|=|\\approx)\s*$")
AFTER_CALCULATION = re.compile(rf"^\s*(?:{OPERATOR})\s*[\d($\\(]")
DECIMAL = re.compile(r"^\d+[.,]\d+$")
RECORD_ROLE_BEFORE = re.compile(
    r"\b(employee|staff member|visitor|pupil|student|patient|client|customer|tenant|applicant|candidate|claimant|member|"
    r"resident|passenger|policyholder|account holder|borrower|subscriber|guest|volunteer|contractor|intern|trainee|donor|"
    r"inmate|beneficiary|cardholder)(?:'s)?(?:\s+name)?\s*[:\-]?\s*(?:(?:mr|mrs|ms|miss|dr|mx)\.?\s+)?$", re.I)
RECORD_ROLE_AFTER = re.compile(
    r"^\s*,?\s*(?:\([^)]{0,40}\)\s*,?\s*)?(?:is\s+)?(?:an?|our|the|this|that)\s+(?:\w+\s+){0,2}?(employee|patient|pupil|"
    r"student|visitor|tenant|applicant|candidate|claimant|client|customer|member|resident|passenger|policyholder|borrower|"
    r"subscriber|volunteer|contractor|intern|trainee|donor)\b", re.I)
NAME_LABEL = re.compile(r"(?:^|[\n;|,(.])\s*(?:full\s+|first\s+|last\s+|legal\s+|given\s+|patient\s+|employee\s+|student\s+|"
                        r"customer\s+|contact\s+|visitor\s+)?name\s*[:=]\s*$", re.I)
DETAILS = {
    "health": r"diagnosis|prescri(?:bed|ption)|medication|allerg(?:y|ies|ic to)|blood (?:type|group|pressure)|admitted to|"
              r"discharged|medical (?:record|history|notes?)|symptoms?|nhs number|gp surgery|sick note|dosage",
    "employment": r"payroll|payslip|salary|wages?|performance review|disciplinary|sick leave|annual leave|start date|job title|"
                  r"line manager|notice period|employment contract|contract (?:ends|renews|expires)|hr file|probation",
    "financial": r"bank account|account (?:number|balance)|sort code|credit score|overdraft|owes|arrears|loan balance|"
                 r"mortgage (?:account|balance|payments?)|direct debit|tax code|invoice (?:number|no)",
    "education": r"pupil|gpa|exam results|report card|attendance|detention|form tutor|year \d{1,2} (?:pupil|student|class)|"
                 r"student (?:id|number)|enrolment|enrollment|transcript|grades?:",
    "address": r"lives at|resides at|home address|moved to \d",
}
DETAIL_PATTERNS = {kind: re.compile(rf"\b(?:{words})", re.I) for kind, words in DETAILS.items()}
SENTENCE = re.compile(r"[^.!?\n]*(?:[.!?]+|\n|$)")
RECORD_BLOCK_CHARS = 600


@dataclass(frozen=True)
class PiiPolicy:
    """What a scan looks for and what flags a sample (see the module docstring). names: 'records' (a person's name
    counts in a record about them) or 'all'; person_min_words: a name counts from this many words."""

    entities: tuple[str, ...] = DEFAULT_ENTITIES
    score_threshold: float = SCORE_THRESHOLD
    person_min_words: int = 2
    names: str = "records"
    preset: str = DEFAULT_PRESET

    def to_dict(self) -> dict:
        return {**asdict(self), "entities": list(self.entities)}

    @classmethod
    def from_dict(cls, values: dict | None) -> PiiPolicy:
        values = values or {}
        known = set(STRICT_ENTITIES) | set(OPTIONAL_ENTITIES)
        entities = tuple(e for e in values.get("entities", DEFAULT_ENTITIES) if e in known)
        names = values.get("names") if values.get("names") in ("records", "all") else "records"
        preset = values.get("preset") if values.get("preset") in (*PRESETS, "custom") else "custom"
        return cls(entities or DEFAULT_ENTITIES, float(values.get("score_threshold", SCORE_THRESHOLD)),
                   int(values.get("person_min_words", 2)), names, preset)

    @classmethod
    def from_preset(cls, preset: str) -> PiiPolicy:
        if preset == "strict":
            return cls(STRICT_ENTITIES, SCORE_THRESHOLD, 1, "all", "strict")
        if preset == DEFAULT_PRESET:
            return cls()
        raise ValueError(f"the PII preset is one of {', '.join(PRESETS)}, not {preset!r}")

    def named(self) -> PiiPolicy:
        """The policy with its preset named right: a preset's name when it is one, else 'custom'."""
        for preset in PRESETS:
            if replace(PiiPolicy.from_preset(preset), preset=self.preset) == self:
                return replace(self, preset=preset)
        return replace(self, preset="custom")

    def describe(self) -> str:
        """The policy in words, for the dataset card and the pages."""
        name = PRESETS.get(self.preset, "custom rules")
        identifiers = [label for entity, label in IDENTIFIERS.items() if entity in self.entities]
        people = ("a person's name only when it belongs to a record about that person (next to an identifier, named by "
                  "a record's role word or a name label, or with their health, employment, financial or education "
                  "details), never a name in general knowledge" if self.names == "records"
                  else f"every person's name (from {plural(self.person_min_words, 'word')})")
        places = "every place" if "LOCATION" in self.entities else "no place names"
        return (f"{name}. Always PII: {', '.join(identifiers) or 'nothing'}. Also: "
                + (people if "PERSON" in self.entities else "no names")
                + f"; {places}. A number in a calculation or a decimal is never a phone number.")


# ---------------------------------------------------------------- why a hit is not PII


def _bracketed(text: str, start: int, end: int) -> bool:
    """Is text[start:end] inside [...], {...} or <...> on its line (a template placeholder)?"""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = len(text) if (n := text.find("\n", end)) == -1 else n
    before, after = text[line_start:start], text[end:line_end]
    return any(before.rfind(o) > before.rfind(c) and c in after and (o not in after or after.find(c) < after.find(o))
               for o, c in ("[]", "{}", "<>"))


def name_words(span: str) -> list[str]:
    """The words of a PERSON span that can be part of a name: no possessive, titles, role words or leading verb."""
    words = [re.sub(r"['’]s$", "", w) for w in re.findall(r"[^\W\d_][\w'’.-]*", span)]
    while words and (words[0].lower() in INSTRUCTION_VERBS or words[0].lower() in ROLE_WORDS):
        words = words[1:]
    return [w for w in words if w.lower().rstrip(".") not in TITLES]


def name_span(text: str, start: int, end: int) -> tuple[int, int]:
    """A PERSON span narrowed to its name: leading role words, titles and instruction verbs ("Pupil", "Mrs") left out."""
    for word in re.finditer(r"[^\W\d_][\w'’.-]*", text[start:end]):
        bare = word.group().lower().rstrip(".")
        if bare not in ROLE_WORDS and bare not in TITLES and bare not in INSTRUCTION_VERBS:
            return start + word.start(), end
    return start, end


def ignore_reason(entity: str, text: str, start: int, end: int, policy: PiiPolicy) -> str | None:
    """Why a hit does not flag its sample under the policy (before the record context is looked at), or None."""
    span = text[start:end]
    if entity == "PERSON":
        words = name_words(span)
        if _bracketed(text, start, end) or (words and all(w.lower() in ROLE_WORDS for w in words)) or not words:
            return "a role placeholder, not a name"
        if any(c.isdigit() for c in span):
            return "it has digits: not a name"
        titled = any(w.lower().rstrip(".") in TITLES for w in re.findall(r"[^\W\d_][\w'’.-]*", text[max(0, start - 6) : end]))
        if len(words) + titled < policy.person_min_words:
            return f"fewer than {policy.person_min_words} name words (a lone given name identifies nobody)"
        if words[-1].lower() in INSTITUTION_WORDS:
            return "the name of a place or an institution, not of a person"
    if entity in NUMBERS and sum(c.isdigit() for c in span) * 2 > len(span):
        what = IDENTIFIERS.get(entity, "an identifier").split(" (")[0]
        if DECIMAL.match(span) or (start >= 2 and text[start - 1] in ".," and text[start - 2].isdigit()):
            return f"a decimal number, not {what}"
        if BEFORE_CALCULATION.search(text[max(0, start - 12) : start]) or AFTER_CALCULATION.match(text[end : end + 12]):
            return f"a number inside a calculation, not {what}"
        label = NUMBER_WORDS.get(entity)
        if span.isdigit() and label is not None and not label.search(text[max(0, start - 40) : start]):
            return f"a bare number with no formatting or label of {what} near it"
    return None


# ---------------------------------------------------------------- names in personal records


def _block(text: str, start: int, end: int) -> tuple[int, int]:
    """The record around a span: its paragraph (lines between blank lines), or its sentence when that is long."""
    left = text.rfind("\n\n", 0, start)
    right = text.find("\n\n", end)
    left, right = (0 if left == -1 else left + 2), (len(text) if right == -1 else right)
    if right - left <= RECORD_BLOCK_CHARS:
        return left, right
    return _sentence(text, start, end)


def _sentence(text: str, start: int, end: int) -> tuple[int, int]:
    left = max(text.rfind(mark, 0, start) for mark in (". ", "! ", "? ", "\n")) + 1
    right = min([i for i in (text.find(mark, end) for mark in (". ", "! ", "? ", "\n")) if i != -1] or [len(text)])
    return left, right + 1


def record_reason(text: str, start: int, end: int, identifiers: list[dict]) -> str | None:
    """Why the name at text[start:end] belongs to a record about that person, or None (see the module docstring).
    `identifiers` are the text's identifier findings."""
    left, right = _block(text, start, end)
    near = next((f for f in identifiers if left <= f["start"] < right), None)
    if near is not None:
        return f"a name in a personal record: in the same record as {IDENTIFIERS.get(near['entity'], near['entity'])}"
    if (role := RECORD_ROLE_BEFORE.search(text[max(0, start - 40) : start])) or (
            role := RECORD_ROLE_AFTER.match(text[end : end + 80])):
        return f"a name in a personal record: the {role.group(1).lower()} the record is about"
    if NAME_LABEL.search(text[max(0, start - 40) : start]):
        return "a name in a personal record: the value of a name field"
    s_left, s_right = _sentence(text, start, end)
    sentence = text[s_left:s_right]
    for kind, pattern in DETAIL_PATTERNS.items():
        if found := pattern.search(sentence):
            return f"a name in a personal record: with {kind} details ({found.group(0).lower()!r})"
    return None


def why_flagged(entity: str, policy: PiiPolicy) -> str:
    """Why a hit of an entity that needs no context flags its sample."""
    if entity in IDENTIFIERS:
        return f"{IDENTIFIERS[entity]}: a contact or account identifier, always PII"
    if entity == "PERSON":
        return "a person's name (the strict policy counts every person)"
    if entity == "LOCATION":
        return "a place (the strict policy counts every place)"
    return f"{entity.replace('_', ' ').lower()}: looked for under the PII rules"


def allow_key(entity: str, text: str) -> tuple[str, str]:
    """How an allow-list entry matches a hit: its entity and its text, case and spacing aside."""
    return entity, " ".join(text.split()).casefold()
