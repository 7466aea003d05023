"""Our presidio pattern recognisers, for what presidio's own do not find: street addresses, postcodes, passport
and national ID numbers, record numbers (an employee's, a pupil's, a patient's ID), dates of birth, API keys,
secrets and private keys; and the spans of people's names that spaCy's small English model misses in records
(a name after a record's role word, "Employee Priya Raghunathan"; after a name label, "Name: Zhang Wei"; or just
before an identifier in brackets, "Oluwaseun Adeyemi (ID 77-104)").

Each recogniser anchors on what makes a value an identifier (its label or its shape), so that numbers in
calculations and prose stay unflagged: a passport number is a number after the word passport; a record number
needs its record noun or an ID label; a date of birth needs its label ("date of birth", "DOB") or a numeric date
right after "born" ("born 03/07/1988"; "born on 14 March 1879" is a biography, not a record).
"""

from __future__ import annotations

import math
from collections import Counter

STREET_SUFFIXES = (
    "Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Square|Sq|Terrace|Way|Parkway"
    "|Pkwy|Highway|Hwy|Circle|Cir|Trail|Close|Crescent|Row|Alley|Plaza|Mews|Gardens"
)
SECRET_NAMES = (
    r"api[_-]?key|apikey|secret|secret[_-]?key|client[_-]?secret|token|access[_-]?token|auth[_-]?token"
    r"|bearer|password|passwd|private[_-]?key"
)
MIN_SECRET_ENTROPY_BITS = 3.0
MIN_ID_DIGITS = 3
# the people a record is about, by the role word a record names them with ("Employee Priya Raghunathan")
RECORD_ROLES = (
    "employee|staff member|staff|visitor|pupil|student|patient|client|customer|tenant|applicant|candidate|claimant"
    "|member|resident|passenger|policyholder|policy holder|account holder|borrower|subscriber|guest|volunteer"
    "|contractor|intern|trainee|donor|inmate|suspect|witness|beneficiary|insured|cardholder|card holder"
)
RECORD_NOUNS = ("employee|staff|student|pupil|patient|member(?:ship)?|customer|client|account|policy|claim|badge|payroll"
                "|personnel|visitor|booking|tenant|case|file|record|order|ticket|invoice|reference|ref\\.?|loyalty")
ID_LABELS = r"ID|I\.D\.|no\.?|number|num\.?|#|code"
ROLE_LABELS = r"log|name|record|details|report|file|entry|profile|list"  # "Visitor log: Ana Sofía Herrera"
NAME_WORD = r"\p{Lu}[\p{Ll}'’\-]+(?:-\p{Lu}[\p{Ll}'’\-]+)?"
NAME = rf"{NAME_WORD}(?:[ \t]+(?:{NAME_WORD}|bin|binti|van|von|de|da|del|di|le|al|el|ibn)){{1,3}}"
DATE_NUMERIC = r"\d{1,2}[/.\-]\d{1,2}[/.\-](?:\d{4}|\d{2})|\d{4}-\d{2}-\d{2}"
MONTHS = r"Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?"
DATE_WORDS = rf"\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{MONTHS})\.?,?\s+\d{{4}}|(?:{MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"


def shannon_entropy(text: str) -> float:
    """Bits per character of a string's character distribution."""
    counts = Counter(text)
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values()) if text else 0.0


def pattern_recognizers() -> list:
    """Our PatternRecognizers (see the module docstring); names found here are PERSON spans like spaCy's."""
    import regex
    from presidio_analyzer import Pattern, PatternRecognizer

    class AssignedSecretRecognizer(PatternRecognizer):
        """A high-entropy value assigned to a key/secret/token/password name."""

        def validate_result(self, pattern_text: str) -> bool:
            return shannon_entropy(pattern_text) >= MIN_SECRET_ENTROPY_BITS

    class NumberRecognizer(PatternRecognizer):
        """An identifier number: it holds at least MIN_ID_DIGITS digits."""

        def validate_result(self, pattern_text: str) -> bool:
            return sum(c.isdigit() for c in pattern_text) >= MIN_ID_DIGITS

    case_sensitive = regex.DOTALL | regex.MULTILINE

    def recognizer(entity: str, name: str, patterns: list[tuple[str, str, float]], kind: type = PatternRecognizer,
                   flags: int = case_sensitive) -> PatternRecognizer:
        """A recogniser of `entity` from its patterns, each (pattern name, regex, score in [0, 1])."""
        return kind(supported_entity=entity, name=name, global_regex_flags=flags,
                    patterns=[Pattern(*pattern) for pattern in patterns])

    words = r"(?:[A-Z][A-Za-z'’.-]*\s+){1,3}"
    return [
        recognizer("STREET_ADDRESS", "StreetAddressRecognizer", [
            ("number and street", rf"\b\d{{1,5}}[A-Za-z]?(?:[-–]\d{{1,5}})?,?\s+{words}(?:{STREET_SUFFIXES})\b\.?"
                    r"(?:\s+(?:N|S|E|W|NE|NW|SE|SW)\b)?", 0.6),
            ("street and number", r"\b[A-ZÄÖÜ][\wäöüß-]*(?:straße|strasse|gasse|weg|platz|allee)\s+\d{1,4}[a-z]?\b", 0.6),
            ("number, rue/calle/via", r"\b\d{1,4},?\s+(?i:rue|calle|via|viale|piazza|avenida|rua)\s+(?:[\w'’-]+\s+){0,3}"
                    r"[A-Z][\w'’-]+", 0.6),
            ("post office box", r"\b(?i:p\.?\s?o\.?\s+box)\s+\d{1,6}\b", 0.6),
        ]),
        recognizer("POSTCODE", "PostcodeRecognizer", [
            ("uk postcode", r"\b(?:GIR ?0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2})\b", 0.6),
            ("canadian postal code", r"\b[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d\b", 0.6),
            ("us zip after a state", r"(?<=\b[A-Z]{2}\s)\d{5}(?:-\d{4})?\b", 0.5),
            ("labelled postcode", r"(?<=\b(?i:post ?code|zip(?: ?code)?|postal code|pin ?code|plz)[\s:#]{1,3})"
                    r"[A-Z0-9](?:[A-Z0-9 -]{1,8}[A-Z0-9])\b", 0.6),
        ]),
        recognizer("PASSPORT", "PassportRecognizer", [
            ("labelled passport number", rf"(?<=\b(?i:passport)(?:\s+(?i:{ID_LABELS}))?[\s:#.]{{1,3}})"
                    r"[A-Z]{0,2}\d{6,9}[A-Z]?\b", 0.85),
        ], kind=NumberRecognizer),
        recognizer("NATIONAL_ID", "NationalIdRecognizer", [
            ("uk national insurance number", r"\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} "
                    r"?\d{2} ?[A-D]\b", 0.7),
            ("labelled national id", r"(?<=\b(?i:national (?:id(?:entity)?|identity|insurance)(?: card)?|ni|id card|identity "
                    rf"card|aadhaar|sin|social insurance|personnummer|nin|cedula|dni|nric)(?:\s+(?i:{ID_LABELS}))?[\s:#.]{{1,3}})"
                    r"[A-Z0-9]{1,4}(?:[ -]?[A-Z0-9]{1,6}){0,5}\b", 0.8),
        ], kind=NumberRecognizer),
        recognizer("RECORD_ID", "RecordIdRecognizer", [
            ("record number", rf"(?<=\b(?i:{RECORD_NOUNS})\s+(?i:{ID_LABELS})[\s:#.]{{0,3}})"
                    r"[A-Z]{0,3}-?\d[\dA-Z-]{1,15}\b", 0.7),
            ("id number", r"(?<=\b(?:ID|I\.D\.)[\s:#.]{1,3})[A-Z]{0,3}-?\d[\dA-Z-]{1,15}\b", 0.7),
        ], kind=NumberRecognizer),
        recognizer("DATE_OF_BIRTH", "DateOfBirthRecognizer", [
            ("labelled date of birth", rf"(?<=\b(?i:date of birth|birth ?date|d\.?o\.?b\.?)[\s:,]{{1,3}})"
                    rf"(?:{DATE_NUMERIC}|{DATE_WORDS})", 0.85),
            ("born on a numeric date", rf"(?<=\b(?i:born)(?: on)?[\s:,]{{1,3}})(?:{DATE_NUMERIC})\b", 0.85),
        ]),
        recognizer("PERSON", "RecordNameRecognizer", [
            ("name after a record role", rf"(?<=\b(?i:{RECORD_ROLES})(?:[ \t]+(?i:{ROLE_LABELS}))?[ \t]*[:\-]?[ \t]+"
                    rf"(?:(?:Mr|Mrs|Ms|Miss|Dr|Mx)\.?[ \t]+)?){NAME}", 0.7),
            ("name after a name label", rf"(?<=\b(?i:(?:full |first |last |legal |given )?name)[ \t]*[:=][ \t]*){NAME}", 0.7),
            ("name before an identifier", rf"{NAME}(?=[ \t]*[(,][ \t]*(?i:(?:{RECORD_NOUNS})[ \t]+(?:{ID_LABELS})|ID\b|passport|"
                    r"DOB|date of birth|born|tel|phone|e-?mail|national))", 0.7),
        ]),
        recognizer("API_KEY", "ApiKeyRecognizer", [
            ("openai", r"\bsk-(?:proj-|svcacct-|admin-|ant-)?[A-Za-z0-9_-]{20,}", 0.9),
            ("aws access key id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", 0.9),
            ("github token", r"\bgh[pousr]_[A-Za-z0-9]{36,}\b", 0.9),
            ("github fine-grained token", r"\bgithub_pat_[A-Za-z0-9_]{22,}", 0.9),
            ("google api key", r"\bAIza[0-9A-Za-z_-]{35}\b", 0.9),
            ("slack token", r"\bxox[abprs]-[A-Za-z0-9-]{10,}", 0.9),
        ]),
        recognizer("SECRET", "AssignedSecretRecognizer", kind=AssignedSecretRecognizer, flags=regex.IGNORECASE | case_sensitive,
                   patterns=[("assigned secret", rf"(?<=\b(?:{SECRET_NAMES})[\"']?\s*(?:[:=]|=>|\bis\b)\s*[\"']?)"
                              r"[A-Za-z0-9_\-./+=]{16,}", 0.6)]),
        recognizer("PRIVATE_KEY", "PrivateKeyRecognizer", [
            ("pem private key", r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----.*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|\Z)", 1.0),
        ]),
    ]
