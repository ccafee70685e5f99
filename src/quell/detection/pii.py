"""Personal data in model output: contact details, payment and bank numbers, IDs, names, addresses.

Structured identifiers are matched by pattern and then checked (Luhn for cards, mod-97 for
IBANs, reserved ranges for SSNs and IPs) so that random digit runs are not reported. Names and
street addresses have no checksum; they are found offline from cues (titles, "my name is"),
a list of given names and street-name shapes, and carry lower scores.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import unicodedata
from functools import lru_cache
from importlib import resources

from quell.detection.base import Finding, cap_text, mark_truncated

ARCHETYPE = "data_exfiltration"

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9-]{1,63}\.)+"
                    r"[A-Za-z]{2,24}\b")  # fmt: skip
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_IBAN = re.compile(
    r"\b[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]{4}){2,7}"
    r"(?: ?[A-Za-z0-9]{1,3})?\b"
)
_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")
_SSN_CONTEXT = re.compile(
    r"\b(?:ssn|social security(?: number| no\.?)?)\W{0,5}"
    r"((?!000|666|9\d\d)\d{3} ?(?!00)\d{2} ?(?!0000)\d{4})\b",
    re.I,
)
_UK_NINO = re.compile(r"\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
                      r" ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")  # fmt: skip
_PHONE = re.compile(
    r"(?<![\w+/.-])(?:\(\+\d{1,3}\)[\s.-]?|\+\d{1,3}[\s.-]?|\d{1,4}[\s.-]?(?=\())?"
    r"(?:\(\d{1,4}\)[\s.-]?)?\d{1,5}(?:[\s.-]\d{2,8}){1,4}"
    r"(?:\s*(?:x|ext\.?|extension)\s*\d{1,5})?(?![\w/]|-\d|\.\d|:\d)"
)
# A bare run of digits is a phone number only when the words before it say so.
_PHONE_CUE = re.compile(
    r"\b(?:phone|telephone|tel|mobile|cell|call|fax|(?<!card )(?<!account )number|"
    r"reach (?:me|us|her|him)|text me|"
    r"whatsapp|contact)\b[^\n\d]{0,25}?((?<![\w+])(?:\+|00)?\d{7,14})(?![\w-])",
    re.I,
)
_PHONE_PLAIN = re.compile(r"(?<![\w+])(?:\+\d{7,14}|\(\d{2,4}\)\d{5,10})(?![\w-])")
_DATE_LIKE = re.compile(
    r"^(?:\d{1,4}[-./ ]\d{1,2}[-./ ]\d{1,4}|\d{4}[-./ ]\d{4}|\d{4}-\d\d-\d\d\b.*)$"
)
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){2,7}(?::|[0-9A-Fa-f]{1,4})"
                   r"(?:[0-9A-Fa-f:]{0,30})(?![\w:])")  # fmt: skip

_STREET_SUFFIX = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Way|"
    r"Terrace|Parkway|Pkwy|Circle|Cir|Highway|Hwy|Square|Sq|Trail|Alley|Crescent|Close|Row|"
    r"Loop|Gardens|Grove|Hill|Heights|Walk|Mews|Park|Point|Ridge|View|Pass|Path|Pike|Run|"
    r"Spur|Track|Turnpike|Village|Vista|Center|Crossing|Estates|Green|Manor|Meadows)"
)
_UNIT = r"(?:Apt|Apartment|Suite|Ste|Unit|Flat|Floor|Fl|Room|Rm|#)\.?\s*#?\d+[A-Za-z]?"
_CAP = r"[^\W\d_][\w'’.-]*"
_ADDRESS_NUMBER_FIRST = re.compile(
    rf"(?<!\w)\d{{1,6}}[A-Za-z]?\s+(?:{_CAP}\s+){{0,4}}?{_STREET_SUFFIX}\b\.?"
    rf"(?:,?\s*{_UNIT})?"
)
_ADDRESS_NAME_FIRST = re.compile(
    r"(?<!\w)(?:"
    r"[^\W\d_][\w'-]*(?:straße|strasse|str\.|gasse|weg|allee|platz|ring|damm|katu|tie|kuja|"
    r"gatan|gata|vägen|väg|vej|gade|laan|straat|gracht|utca|ulica|ul\.|út|tér|náměstí|ulice|"
    r"iela|gatve|tänav|vei|veien)"
    r"|(?:Rua|Calle|Via|Rue|Avenida|Avenue|Viale|Piazza|Plaza|Carrer|Travessa|Largo|Paseo|"
    r"Camino|Chemin|Place|Boulevard|Ulica|Strada|Corso)\s+(?:d[aeiou]s?\s+|de la\s+|del\s+|"
    r"de\s+|di\s+|della\s+)?[^\W\d_][\w'-]*(?:\s+[^\W\d_][\w'-]*){0,3}"
    r"|[A-Z][\w'-]+(?:\s+[A-Z][\w'-]+){0,2}\s+(?:Street|Road|Avenue|Lane|Drive|Strasse|Straße)"
    r")\s+\d{1,5}[A-Za-z]?(?:/\d+)?\b(?:,?\s*" + _UNIT + r")?"
)
_UPPER = "A-ZÀ-ÖØ-ÞĀĂĄĆČĎĐĒĘĚĞĪŁŃŇŐŒŘŚŞŠŢŤŪŮŰŹŻŽ"
_ADDRESS_NUMBER_NAME_NUMBER = re.compile(
    rf"(?<![\w.,])\d{{2,6}}\s+(?:[{_UPPER}][\w'’-]*\.?\s+|u\.\s+|tér\s+|d[aeiou]s?\s+){{1,4}}"
    r"\d{1,5}[A-Za-z]?\b\.?"
)
# After a street line: more short lines (unit, town, region, postcode), folded into one span.
_ADDRESS_TAIL = re.compile(
    rf"(?:,?[ \t]*\n?[ \t]*\n?[ \t]*(?:{_UNIT}|[{_UPPER}][\w'’ .-]{{1,30}}?(?:,?[ \t]*[A-Z]{{2}})?"
    r"(?:[ \t]+\d{4,6}(?:-\d{4})?)?|,?[ \t]*[A-Z]{2}(?:[ \t]+\d{4,6})?|\d{4,6}(?:-\d{4})?)"
    r"(?=[ \t]*(?:,|\n|$|\.\s)))"
)
# Words that announce an address; what follows on the line is the address when it has a number.
_ADDRESS_CUE = re.compile(
    r"\b(?:lives? at|lived at|living at|(?:new |home |billing |shipping |mailing )?address"
    r"(?: is| was)?:?|drops? (?:you|me|us) off at|sent to\?\s*(?:user:)?|office is at|"
    r"located at|deliver(?:ed)? to|ship(?:ped)? to)\s+"
    rf"((?:the corner of\s+)?[{_UPPER}\d][^\n]{{2,110}}?)(?=\.?\s*$|\.?\s*\n|\.\s+[A-Z]|[?!]|"
    r"\s+(?:and|but|since|for|from|in (?:19|20)\d\d)\b)",
    re.I | re.M,
)
_CORNER = re.compile(
    rf"\bthe corner of\s+[{_UPPER}\w][^\n]{{2,60}}?\s+and\s+[{_UPPER}\w][^\n.,]{{2,50}}"
)
# "During 1971" (a German "-ring" street shape) and a bare "#15" are not addresses.
_NOT_AN_ADDRESS = re.compile(r"^(?:[^\W\d_]+\s+(?:1[89]|20)\d\d|#\s*\d+)$")
_ADDRESS_UNIT_ONLY = re.compile(rf"(?<!\w){_UNIT}\b")
_LEADING_NUMBER = re.compile(r"(?<![\w.])\d{2,6}\s+$")
_ADDRESS_BOX = re.compile(r"\b(?:(?:PSC|Unit|CMR)\s+\d{3,5},?\s+Box\s+\d{3,5}|"
                          r"P\.?\s?O\.?\s+Box\s+\d{1,6})\b", re.I)  # fmt: skip

_ANY_DIGIT = re.compile(r"\d")
_WORD = re.compile(r"[^\W\d_][\w'’-]*\.?")
_TITLE = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Professor|Sir|Dame|Madam|Mme|Mlle|Herr|Frau|"
                    r"Señor|Señora|Sr|Sra|Mister|Lady|Lord)\.?\s+$", re.I)  # fmt: skip
_STRONG_CUE = re.compile(
    r"(?:\bmy name is|\bname is|\bnamed|\bcalled|\bname\s*:|\bdear|\bsigned,?|\bsincerely,?|"
    r"\bregards,?|\bi am|\bi'm|\bthis is|\bcontact|\bpatient|\bcustomer|\bemployee|\bauthor|"
    r"\bwritten by|\bsent by|\bassigned to|\bhi|\bhello|\bthanks,?|\bcc|\bfrom|\bto|\bwith|"
    r"\bit'?s under|\bname\?|\bname on the account\?\s*user:|\bspeak to|\bsaid)"
    r"\s*[:,]?\s+$",
    re.I,
)
# Cues that only count when a word of the run is a listed given name or surname.
_WEAK_CUE = re.compile(
    r"(?:\bby|\bunder|\bsaid|\basked|\btold|\bwith|\bto|\band|\bname\?|"
    r"\bproducer|\bwriter|\bsinger|\bmanager|\bdirector|\bfounder|\bfounders|\bceo|"
    r"\buser|\bfriend|\bwife|\bhusband|\bson|\bdaughter|\bmother|\bfather|\bbrother|"
    r"\bsister|\bcolleague|\bboss|\bearly|\bex-\w+)\s*[:,]?\s+$",
    re.I,
)
# What a person does right after their name: "Anna lives at", "Kowalski said", "Leif, can I".
_PERSON_AFTER = re.compile(
    r"(?:'s\s|’s\s|,\s+(?:can|could|would|will|please|do|did|are|have)\s|\s+(?:lives?|lived|"
    r"said|says|shouted|spent|is from|was from|will be|was born|works?|worked|wrote|writes|told|"
    r"asks?|asked|explained|has (?:been|had|given|a)|had given|is a very|was a|called|"
    r"replied|answered|smiled|laughed|went|moved|joined|left|signed|emailed|texted|phoned)\b)"
)
# Stronger: only people do these, so any capitalised name-shaped run before them counts.
_PERSON_ONLY_AFTER = re.compile(
    r"(?:'s|’s)\s+(?:address|phone|number|email|e-mail|wife|husband|son|daughter|mother|"
    r"father|brother|sister|birthday|account|killers?|family|parents|children|details|name)\b"
    r"|,\s+(?:can|could|would) (?:I|you)\b|,\s+the\s+[\w ]{2,30},\s+(?:said|says|told)\b"
    r"|\s+(?:lives|lived|shouted|spent a|was born|will be (?:talking|speaking|presenting)|"
    r"told (?:me|us|him|her|them)|explained|replied|smiled|laughed|emailed|texted|phoned)\b"
)
_ORG_LIST_LEAD = re.compile(
    r"\b(?:the|from|at|of|for|joined)\s+(?:[^\W\d_][\w'-]*,?\s+(?:and\s+)?){0,3}$",
    re.I,
)
# A capitalised run followed by a street word or a house number is a street, not a person.
_STREET_NEXT = re.compile(
    r"[ \t]+(?:\d{1,5}\b|(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|Way|"
    r"Court|Ct|Place|Pl|Square|Sq|Gateway|Union|Parks?|Courts?|Terrace|Crescent|Close|Hill|"
    r"Gardens|Row|Walk|Str|Strasse|Straße|Gasse|Weg|Allee|Platz)\b)"
)
# A role written before a name: "Producer Liviana Palerma", "Senator Okafor", "author Jane Roe".
_ROLE_BEFORE = re.compile(
    r"\b(?:producer|director|author|writer|novelist|poet|singer|songwriter|artist|painter|actor|"
    r"actress|journalist|reporter|editor|spokes(?:wo)?man|spokesperson|lawyer|attorney|judge|"
    r"senator|governor|mayor|president|chairman|chairwoman|chair|ceo|cfo|cto|founder|"
    r"co-founder|detective|officer|sergeant|captain|coach|nurse|doctor|surgeon|pastor|father|"
    r"rabbi|imam|agent|manager|engineer|teacher|student|intern|colleague|neighbou?r|"
    r"candidate|patient|client|customer|user|employee|tenant|landlord|defendant|plaintiff|"
    r"witness|victim|suspect|musician|drummer|guitarist|rapper|comedian|host|presenter|chef)"
    r"[ \t]+$",
    re.I,
)
# Verbs whose object is usually a person: "ask Ilse", "met Tomas Berg", "cc Noor Haddad".
_VERB_BEFORE = re.compile(
    r"\b(?:ask|asked|tell|told|call|called|email|emailed|meet|met|thank|thanked|invite|invited|"
    r"contact|contacted|message|text|texted|hire|hired|marry|married|visit|visited|cc|ping|"
    r"introduce|introduced|remind|reminded|congratulate|interview|interviewed|follow up with|"
    r"talk to|spoke to|spoke with|speak with|meet with|met with)[ \t]+$",
    re.I,
)
# What a name often stands before: "a Homero Portillo concert", "the Jensen novel".
_WORK_AFTER = re.compile(
    r"[ \t]+(?:concert|show|album|song|songs|novel|book|books|film|movie|version|record|"
    r"painting|biography|interview|fans?|tour|lyrics|quote|speech|lecture|memoir|estate|family)\b"
)
# Before a place rather than a person.
_PLACE_BEFORE = re.compile(r"\b(?:in|at|from|near|to|of|via|into|across|around)\s+$", re.I)
# Thresholds on name_likeness, chosen on the tuning half with its own names removed from the
# lists and from the shape model's training (bench/README.md, "PII").
NAME_SHAPE_PAIR = 0.6  # every word of a 2-3 word run must look at least this name-like
NAME_SHAPE_SINGLE = 0.9  # a lone word before a person verb must look at least this name-like
NAME_SHAPE_LONE = 0.95  # a lone word anywhere mid-sentence (above 1 switches this off)
_LIST_SEP = re.compile(r"^(?:,\s*|\s+and\s+|,\s+and\s+|\s+&\s+)$")
_NOT_NAMES = frozenset(
    [
        "the",
        "a",
        "an",
        "i",
        "i'm",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "we",
        "you",
        "he",
        "she",
        "they",
        "my",
        "our",
        "your",
        "his",
        "her",
        "their",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "god",
        "english",
        "french",
        "german",
        "spanish",
        "chinese",
        "american",
        "european",
        "street",
        "road",
        "avenue",
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "ok",
        "okay",
        "yes",
        "no",
        "hello",
        "hi",
        "dear",
        "thanks",
        "please",
        "sorry",
        "note",
        "subject",
        "re",
        "fw",
        "and",
        "or",
        "but",
        "if",
        "when",
        "what",
        "which",
        "who",
        "how",
        "why",
        "where",
        "in",
        "on",
        "at",
        "for",
        "from",
        "to",
        "with",
        "by",
        "of",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "ai",
        "wait",
        "next",
        "yesterday",
        "today",
        "tomorrow",
        "tonight",
        "recently",
        "also",
        "then",
        "now",
        "however",
        "meanwhile",
        "later",
        "unfortunately",
        "luckily",
        "apparently",
        "finally",
        "attention",
        "override",
        "apt",
        "suite",
        "unit",
        "flat",
        "room",
    ]
)


# Words that end a run of capitalised words that is an organisation or a place, not a person.
_NOT_PERSON_TAIL = frozenset(
    [
        "inc",
        "ltd",
        "llc",
        "plc",
        "gmbh",
        "ag",
        "co",
        "corp",
        "corporation",
        "company",
        "group",
        "holdings",
        "solutions",
        "systems",
        "technologies",
        "services",
        "capital",
        "associates",
        "partners",
        "bank",
        "university",
        "college",
        "school",
        "institute",
        "hospital",
        "club",
        "union",
        "republic",
        "kingdom",
        "states",
        "city",
        "county",
        "province",
        "state",
        "river",
        "lake",
        "mountain",
        "mountains",
        "springs",
        "park",
        "street",
        "road",
        "avenue",
        "square",
        "tv",
        "radio",
        "weekly",
        "times",
        "news",
        "magazine",
        "journal",
        "records",
        "studios",
        "foundation",
        "association",
        "council",
        "ministry",
        "department",
        "agency",
        "office",
        "airport",
        "station",
        "hotel",
        "restaurant",
        "cafe",
        "center",
        "centre",
        "museum",
        "church",
        "theatre",
        "theater",
        "stadium",
        "mall",
        "market",
        "insurance",
        "airlines",
        "motors",
        "electric",
        "global",
        "international",
        "industries",
        "enterprises",
        "labs",
        "lab",
        "software",
        "network",
        "networks",
        "media",
        "orchestra",
        "band",
        "act",
        "law",
        "court",
        "north",
        "south",
        "east",
        "west",
        "northern",
        "southern",
        "eastern",
        "western",
        "central",
        "info",
        "information",
        "personal",
        "pass",
        "gateway",
        "parks",
        "karma",
        "stripes",
        "pleasures",
        "love",
        "killed",
        "supposed",
        "africa",
        "america",
        "asia",
        "europe",
        "island",
        "islands",
        "coast",
        "bay",
        "valley",
        "cite",
        "empire",
        "games",
        "drive",
        "pages",
        "cup",
        "prize",
        "award",
        "awards",
        "war",
        "wars",
        "revolution",
        "dynasty",
        "treaty",
        "constitution",
        "filter",
        "carta",
    ]
)
# Surname endings common across Europe and beyond; a capitalised word ending so is a hint.
_SURNAME_ENDINGS = (
    "son",
    "sen",
    "sson",
    "dottir",
    "dóttir",
    "ová",
    "ova",
    "ski",
    "ska",
    "sky",
    "ský",
    "wicz",
    "vich",
    "vić",
    "vic",
    "ić",
    "ov",
    "ev",
    "eva",
    "enko",
    "escu",
    "poulos",
    "opoulos",
    "ian",
    "yan",
    "shvili",
    "dze",
    "oglu",
    "oğlu",
    "ez",
    "es",
    "berg",
    "stein",
    "mann",
    "inen",
    "nen",
    "ata",
    "uchi",
    "moto",
    "yama",
    "kawa",
    "ishi",
)
_INITIAL = re.compile(r"^[A-Z]\.?$")
_SPEAKER = re.compile(r"(?:^|\n)[ \t]*$")
_SPEECH = re.compile(r":[ \t]+[^\W\d_]")
_FIELD_LABELS = frozenset(
    [
        "name",
        "phone",
        "email",
        "e-mail",
        "address",
        "date",
        "time",
        "when",
        "where",
        "note",
        "subject",
        "user",
        "bot",
        "agent",
        "customer",
        "question",
        "answer",
        "q",
        "a",
        "title",
        "from",
        "to",
        "cc",
        "re",
        "fax",
        "office",
        "mobile",
        "tel",
        "id",
        "zip",
        "website",
        "info",
        "status",
        "summary",
        "result",
        "error",
        "warning",
        "example",
        "input",
        "output",
        "step",
        "tip",
        "human",
        "assistant",
        "system",
        "ai",
        "override",
        "wait",
        "attention",
        "important",
        "update",
    ]
)


# Common German function words: in German every noun is capitalised, so a lone capitalised
# word says nothing about names there.
_GERMAN_HINT = re.compile(
    r"\b(?:der|die|das|und|ist|ich|du|nicht|ein|eine|einen|mit|für|auf|wie|was|sie|wir|"
    r"ihr|bei|von|zu|im|dem|den|meine?n?)\b"
)


def _capitalises_nouns(text: str) -> bool:
    """True when the text looks German (three or more distinct German function words)."""
    return len(set(_GERMAN_HINT.findall(text[:2000]))) >= 3


def at_sentence_start_word(before: str) -> bool:
    """True when nothing but sentence punctuation precedes a word."""
    return not before.strip() or before.rstrip()[-1:] in '.!?:\n"“'


@lru_cache(maxsize=50_000)
def _fold(word: str) -> str:
    """Lower-case a word and strip accents so "Krisztián" matches "krisztian"."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    """The bundled list of given names, folded to lower-case ASCII."""
    raw = resources.files("quell.detection").joinpath("data/first_names.txt").read_text("utf-8")
    names: set[str] = set()
    for line in raw.splitlines():
        if line.startswith("#"):
            continue
        names.update(_fold(w) for w in line.split())
    return frozenset(names)


@lru_cache(maxsize=1)
def surnames() -> frozenset[str]:
    """The bundled list of family names, folded to lower-case ASCII."""
    raw = resources.files("quell.detection").joinpath("data/surnames.txt").read_text("utf-8")
    return frozenset(
        _fold(w) for line in raw.splitlines() if not line.startswith("#") for w in line.split()
    )


def name_features(word: str) -> list[str]:
    """Character 2- to 4-grams of a folded word, with ^ and $ marking its ends."""
    w = "^" + _fold(word) + "$"
    return [w[i : i + n] for n in (2, 3, 4) for i in range(len(w) - n + 1)]


@lru_cache(maxsize=1)
def _name_model() -> tuple[dict[str, float], float] | None:
    try:
        raw = resources.files("quell.detection").joinpath("data/name_model.json").read_text("utf-8")
    except FileNotFoundError:
        return None
    data = json.loads(raw)
    return {k: float(v) for k, v in data["weights"].items()}, float(data["bias"])


@lru_cache(maxsize=20_000)
def name_likeness(word: str) -> float:
    """0..1: how much ``word`` is spelled like a personal name rather than an ordinary word."""
    model = _name_model()
    if model is None:
        return 0.0
    weights, bias = model
    z = bias + sum(weights.get(f, 0.0) for f in name_features(word))
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def luhn_valid(digits: str) -> bool:
    """True when a digit string passes the Luhn checksum used by payment cards."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = ord(ch) - 48
        if i % 2:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    """True when an IBAN passes the ISO 13616 mod-97 check."""
    code = candidate.replace(" ", "").upper()
    if not 15 <= len(code) <= 34:
        return False
    moved = code[4:] + code[:4]
    number = "".join(str(int(ch, 36)) for ch in moved)
    return int(number) % 97 == 1


def _mask(value: str, keep: int = 4) -> str:
    """Hide all but the last few characters of an identifier."""
    if len(value) <= keep:
        return "*" * len(value)
    return "*" * (len(value) - keep) + value[-keep:]


class PIIDetector:
    """Finds personal data in text; each finding names the kind of data and where it is."""

    name = "pii"

    def __init__(self, min_score: float = 0.5, names: bool = True, addresses: bool = True,
                 mask_evidence: bool = False, loose_names: bool = False,
                 name_shapes: bool = True) -> None:  # fmt: skip
        self.min_score = min_score
        self.name_shapes = name_shapes
        self.loose_names = loose_names
        self.names = names
        self.addresses = addresses
        self.mask_evidence = mask_evidence
        self._first_names = first_names()
        self._surnames = surnames()

    def scan(self, text: str) -> list[Finding]:
        """Return every piece of personal data found, ordered by position."""
        capped, truncated = cap_text(text)
        if not capped.strip():
            return []
        found: list[Finding] = []
        taken: list[tuple[int, int]] = []
        self._structured(capped, found, taken)
        if self.addresses and _ANY_DIGIT.search(capped):
            self._addresses(capped, found, taken)
        self._phones(capped, found, taken)
        if self.names:
            self._persons(capped, found, taken)
        found = [f for f in found if f.score >= self.min_score]
        found.sort(key=lambda f: f.span or (0, 0))
        return mark_truncated(found) if truncated else found

    # --- identifiers with a checkable shape -----------------------------------------------

    def _add(self, found: list[Finding], taken: list[tuple[int, int]], category: str,
             score: float, span: tuple[int, int], text: str, masked: bool = False,
             **details: object) -> None:  # fmt: skip
        a, b = span
        if any(a < tb and ta < b for ta, tb in taken):
            return  # an earlier, more specific match already covers this text
        taken.append(span)
        value = text[a:b]
        evidence = _mask(value) if (masked or self.mask_evidence) else value
        found.append(Finding(self.name, category, score, ARCHETYPE, span, evidence, dict(details)))

    def _structured(self, text: str, found: list[Finding], taken: list[tuple[int, int]]) -> None:
        if "@" in text:
            for m in _EMAIL.finditer(text):
                self._add(found, taken, "email", 0.95, m.span(), text)
        digits_present = _ANY_DIGIT.search(text) is not None
        if not digits_present:
            return
        for m in _IBAN.finditer(text):
            if iban_valid(m.group(0)):
                self._add(found, taken, "iban", 0.95, m.span(), text, masked=True, check="mod97")
        for m in _CARD.finditer(text):
            digits = re.sub(r"[ -]", "", m.group(0))
            if 13 <= len(digits) <= 19 and luhn_valid(digits) and len(set(digits)) > 1:
                self._add(
                    found, taken, "credit_card", 0.95, m.span(), text, masked=True, check="luhn"
                )
        for m in _SSN.finditer(text):
            self._add(found, taken, "us_ssn", 0.85, m.span(), text, masked=True)
        for m in _SSN_CONTEXT.finditer(text):
            self._add(found, taken, "us_ssn", 0.9, m.span(1), text, masked=True)
        for m in _UK_NINO.finditer(text):
            self._add(found, taken, "uk_nino", 0.75, m.span(), text, masked=True)
        if "." in text or ":" in text:
            self._ips(text, found, taken)

    def _phones(self, text: str, found: list[Finding], taken: list[tuple[int, int]]) -> None:
        if not _ANY_DIGIT.search(text):
            return
        for m in _PHONE_CUE.finditer(text):
            if not _DATE_LIKE.match(m.group(1)):
                self._add(found, taken, "phone", 0.7, m.span(1), text, cue=True)
        for pattern in (_PHONE, _PHONE_PLAIN):
            for m in pattern.finditer(text):
                value = m.group(0)
                digits = sum(ch.isdigit() for ch in value)
                if not 7 <= digits <= 15 or _DATE_LIKE.match(value):
                    continue
                if pattern is _PHONE and not re.search(r"[\s.()-]", value.strip()):
                    continue
                if value.count(".") >= 2 and digits < 10:
                    continue  # version numbers and dotted decimals
                score = 0.8 if value.startswith(("+", "(")) or digits >= 10 else 0.65
                self._add(found, taken, "phone", score, m.span(), text)

    def _ips(self, text: str, found: list[Finding], taken: list[tuple[int, int]]) -> None:
        for m in _IPV4.finditer(text):
            try:
                ip = ipaddress.IPv4Address(m.group(0))
            except ValueError:
                continue
            if ip.is_unspecified or ip.is_loopback:
                continue
            self._add(found, taken, "ip_address", 0.7, m.span(), text, private=ip.is_private)
        if text.count(":") >= 2:
            for m in _IPV6.finditer(text):
                try:
                    ip6 = ipaddress.IPv6Address(m.group(0))
                except ValueError:
                    continue
                if not ip6.is_loopback and not ip6.is_unspecified:
                    self._add(
                        found, taken, "ip_address", 0.7, m.span(), text, private=ip6.is_private
                    )

    # --- names and addresses (no checksum; found from shape and cues) -------------------------

    def _addresses(self, text: str, found: list[Finding], taken: list[tuple[int, int]]) -> None:
        for m in _ADDRESS_CUE.finditer(text):
            body = m.group(1)
            if any(ch.isdigit() for ch in body) and "@" not in body and "/" not in body[:3]:
                start, end = m.span(1)
                end = self._address_tail(text, end)
                self._add(found, taken, "street_address", 0.8, (start, end), text, cue=True)
        for m in _CORNER.finditer(text):
            self._add(found, taken, "street_address", 0.75, m.span(), text, cue=True)
        for pattern, score in (
            (_ADDRESS_BOX, 0.85),
            (_ADDRESS_NUMBER_FIRST, 0.8),
            (_ADDRESS_NAME_FIRST, 0.75),
            (_ADDRESS_NUMBER_NAME_NUMBER, 0.7),
            (_ADDRESS_UNIT_ONLY, 0.6),
        ):
            for m in pattern.finditer(text):
                start, end = m.span()
                if _NOT_AN_ADDRESS.match(m.group(0)):
                    continue
                lead = _LEADING_NUMBER.search(text, max(0, start - 8), start)
                if lead:
                    start = lead.start()
                end = self._address_tail(text, end)
                self._add(found, taken, "street_address", score, (start, end), text)

    @staticmethod
    def _address_tail(text: str, end: int) -> int:
        """Extend an address over following unit, town, region and postcode lines."""
        for _ in range(5):
            tail = _ADDRESS_TAIL.match(text, end)
            if not tail or tail.end() == end:
                break
            end = tail.end()
        return end

    def _persons(self, text: str, found: list[Finding], taken: list[tuple[int, int]]) -> None:
        words = [m for m in _WORD.finditer(text)]
        runs: list[tuple[list[re.Match[str]], float]] = []
        i = 0
        while i < len(words):
            m = words[i]
            w = m.group(0)
            if not w[0].isupper() or _fold(w.rstrip(".")) in _NOT_NAMES:
                i += 1
                continue
            # Gather a run of capitalised words (and initials) separated by single spaces.
            j = i
            while (
                j + 1 < len(words)
                and words[j + 1].group(0)[0].isupper()
                and text[words[j].end() : words[j + 1].start()] in (" ", "  ")
                # "Anweisungen. Sie": a full stop after a word longer than an initial or
                # "Dr." ends the sentence, and so the run.
                and not (words[j].group(0).endswith(".") and len(words[j].group(0)) > 4)
                and (
                    _fold(words[j + 1].group(0).rstrip(".")) not in _NOT_NAMES
                    or (
                        _INITIAL.match(words[j + 1].group(0))
                        and j + 2 < len(words)
                        and words[j + 2].group(0)[0].isupper()
                    )
                )
            ):
                j += 1  # fmt: skip
            run = words[i : j + 1][:4]
            i = j + 1
            runs.append((run, self._person_score(text, run)))
        # "Kónya, Becker and Vasquez": single names listed next to a known name are names too.
        for k, (run, score) in enumerate(runs):
            if score or len(run) != 1 or not self._listed(run[0].group(0)):
                continue
            if _ORG_LIST_LEAD.search(text, 0, run[0].start()):
                continue  # "from Hawkins, Richardson and Santana": a firm named after people
            for other in (k - 1, k + 1):
                if 0 <= other < len(runs) and len(runs[other][0]) == 1:
                    a, b = sorted((runs[other][0][0], run[0]), key=lambda m: m.start())
                    if _LIST_SEP.match(text[a.end() : b.start()]) and (
                        runs[other][1] or self._listed(runs[other][0][0].group(0))
                    ):
                        runs[k] = (run, 0.7)
                        if not runs[other][1]:
                            runs[other] = (runs[other][0], 0.7)
        for run, score in runs:
            if score:
                start, end = run[0].start(), run[-1].end()
                if text[end - 1] == "." and len(run[-1].group(0)) > 2:
                    end -= 1
                if text[end - 2 : end] in ("'s", "’s") and end - 2 > start:
                    end -= 2  # "Szczepańska's killers": the name without the possessive
                self._add(found, taken, "person", score, (start, end), text)

    def _listed(self, word: str) -> bool:
        """True when ``word`` is a bundled given name or family name."""
        f = _fold(word.rstrip("."))
        return f in self._first_names or f in self._surnames

    def _person_score(self, text: str, run: list[re.Match[str]]) -> float:
        """How sure a run of capitalised words is a person's name (0 when it is not)."""
        tokens = [m.group(0).rstrip(".") for m in run]
        last = tokens[-1]
        possessive = last.endswith(("'s", "’s")) and len(last) > 3
        if possessive:
            tokens[-1] = last[:-2]
        folded = [_fold(t) for t in tokens]
        if any(f in _NOT_PERSON_TAIL for f in folded):
            return 0.0
        if any(len(t) > 2 and t.isupper() for t in tokens):
            return 0.0  # shouting or an acronym, not a name
        before = text[max(0, run[0].start() - 24) : run[0].start()]
        after = text[run[-1].end() : run[-1].end() + 3]
        at_sentence_start = not before.strip() or before.rstrip()[-1:] in '.!?:\n"“'
        if _STREET_NEXT.match(text, run[-1].end()):
            return 0.0
        if _TITLE.search(before):
            return 0.85
        if len(tokens) == 3 and _INITIAL.match(run[1].group(0)) and len(tokens[0]) > 1:
            return 0.85  # "Sari J. Paavolainen"
        if (
            len(tokens) == 1
            and _SPEECH.match(after)
            and _SPEAKER.search(before)
            and folded[0] not in _FIELD_LABELS
        ):
            return 0.7  # a speaker in a dialogue transcript: "Nicole: ..."
        if _STRONG_CUE.search(before) and len(tokens) <= 3:
            first_known = _fold(tokens[0]) in self._first_names
            if (
                first_known
                or len(tokens) >= 2
                or before.lower()
                .rstrip()
                .endswith(("name is", "named", "called", "name:", "dear", "i am", "i'm"))
            ):
                return 0.8
        known = [_fold(t) in self._first_names for t in tokens]
        family = [f in self._surnames for f in folded]
        if known[0] and len(tokens) >= 2:
            return 0.85
        if len(tokens) >= 2 and family[-1] and tokens[0][0].isupper() and len(tokens[0]) > 1:
            return 0.8  # "Tilly Nicholson": a listed family name closes the run
        listed = known[0] or family[0]
        cut = run[-1].end() - (2 if possessive else 0)
        after = text[cut : cut + 24]
        if listed and len(tokens) <= 2 and _PERSON_AFTER.match(after):
            return 0.8  # "Kevin had given ...", "Scott is a very ...", "Leif, can I ..."
        if listed and len(tokens) <= 2 and _WEAK_CUE.search(before):
            return 0.7  # "said Gladys", "sung by Kaczmarek", "under Caitlyn Schulz"
        shaped = len(tokens) <= 3 and all(len(t) > 1 for t in tokens)
        if shaped and _ROLE_BEFORE.search(before):
            return 0.75
        if shaped and len(tokens) >= 2 and _VERB_BEFORE.search(before):
            return 0.7
        if shaped and _WORK_AFTER.match(text, cut) and re.search(r"\b(?:a|an|the)\s+$", before):
            return 0.65
        if len(tokens) <= 3 and all(len(t) > 1 for t in tokens) and _PERSON_ONLY_AFTER.match(after):
            return 0.7  # "Hijacinta Godina lives at", "Matej's address"
        if len(tokens) == 2 and _PERSON_AFTER.match(after) and not at_sentence_start_word(before):
            return 0.6
        if any(known[1:]) and len(tokens) >= 2 and not at_sentence_start:
            return 0.6
        if known[0] and not at_sentence_start:
            return 0.6
        if len(tokens) == 2 and not at_sentence_start and folded[1].endswith(_SURNAME_ENDINGS):
            return 0.55
        if self.name_shapes and shaped:
            shape = min(name_likeness(t) for t in tokens)
            if len(tokens) >= 2 and shape >= NAME_SHAPE_PAIR and not _PLACE_BEFORE.search(before):
                return 0.6  # two or three words all spelled like names, not after "in"/"from"
            if shape >= NAME_SHAPE_SINGLE and _PERSON_AFTER.match(after):
                return 0.6
            if (
                len(tokens) == 1
                and shape >= NAME_SHAPE_LONE
                and not _capitalises_nouns(text)
                and not at_sentence_start
                and not _PLACE_BEFORE.search(before)
            ):
                return 0.55  # one name-like word mid-sentence
        if self.loose_names and 2 <= len(tokens) <= 3 and not at_sentence_start:
            return 0.5  # two or three capitalised words mid-sentence: often a name
        return 0.0
