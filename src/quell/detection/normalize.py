"""Undo the cheap disguises attackers put on text, keeping a map back to original offsets.

Detectors match on the normalised text and report spans in the original, so evidence
always points at what the user really sent.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from dataclasses import dataclass

# Characters that render as nothing (or reorder text) and so hide words from a reader.
INVISIBLE_CHARS = frozenset(
    [
        "\u00ad",  # soft hyphen
        "\u034f",  # combining grapheme joiner
        "\u061c",  # arabic letter mark
        "\u115f",
        "\u1160",
        "\u17b4",
        "\u17b5",
        "\u180e",
        "\u2060",
        "\u2061",
        "\u2062",
        "\u2063",
        "\u2064",
        "\u3164",
        "\ufeff",
        "\uffa0",
    ]
    + [chr(c) for c in range(0x200B, 0x2010)]  # zero-width space/joiners, LRM/RLM
    + [chr(c) for c in range(0x202A, 0x202F)]  # bidi embeddings and overrides
    + [chr(c) for c in range(0x2066, 0x206A)]  # bidi isolates
    + [chr(c) for c in range(0xFE00, 0xFE10)]  # variation selectors
)
_TAG_FIRST, _TAG_LAST = 0xE0000, 0xE007F  # Unicode "tag" characters can smuggle ASCII

# Letters from other scripts that look like Latin ones (Cyrillic, Greek, a few others).
HOMOGLYPHS: dict[str, str] = {
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i",
    "ј": "j", "ѕ": "s", "ԁ": "d", "ɡ": "g", "һ": "h", "ӏ": "l", "ԛ": "q", "ѡ": "w",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P",
    "С": "C", "Т": "T", "Х": "X", "У": "Y", "І": "I", "Ј": "J", "Ѕ": "S",
    "α": "a", "ο": "o", "ρ": "p", "ν": "v", "τ": "t", "ι": "i", "κ": "k", "υ": "u",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
    "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    "ⅰ": "i", "ℓ": "l", "ı": "i",
}  # fmt: skip

# Any character normalize() might change; text without one is returned as it is, fast.
_SPECIAL = re.compile(
    "["
    + "".join(re.escape(c) for c in sorted(INVISIBLE_CHARS | HOMOGLYPHS.keys()) if ord(c) < 0x2000)
    + "\u2000-\U0010ffff]"
)
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a",
                       "$": "s", "!": "i", "|": "l"})  # fmt: skip
_LEET_HINT = re.compile(r"[a-z][013457@$][a-z]|[013457@$][a-z]{2}", re.IGNORECASE)
_SPACED_LETTERS = re.compile(r"\b(?:[A-Za-z][ .\-_*]){3,}[A-Za-z]\b")
# Letters one space apart whose words are two or more spaces apart: "I G N O R E   T H E".
_SPACED_WORDS = re.compile(r"\b[A-Za-z](?: [A-Za-z])+(?:[ \t]{2,}[A-Za-z](?: [A-Za-z])*)+\b")
_BASE64_BLOB = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{20,}={0,2}(?![A-Za-z0-9+/=])")
_HEX_BLOB = re.compile(r"\b(?:[0-9a-fA-F]{2}[ :]?){12,}\b")


@dataclass(frozen=True, slots=True)
class Normalized:
    """Text with disguises removed, plus what was removed and where it came from."""

    text: str
    offsets: list[int] | None  # offsets[i] = index in the original; None when identical
    invisible: int  # invisible characters dropped
    invisible_in_words: int  # of those, how many sat between two letters (splitting a word)
    homoglyph_words: int  # words mixing Latin with look-alike letters from another script
    hidden_tag_text: str  # ASCII smuggled in Unicode tag characters

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a span in the normalised text back to the original text."""
        if self.offsets is None:
            return start, end
        if not self.offsets:
            return 0, 0
        last = len(self.offsets) - 1
        a = self.offsets[min(start, last)]
        b = self.offsets[min(max(end - 1, 0), last)] + 1
        return a, b


def normalize(text: str) -> Normalized:
    """Strip invisible characters, fold homoglyphs and compatibility forms to plain Latin."""
    if text.isascii() or not _SPECIAL.search(text):
        return Normalized(text, None, 0, 0, 0, "")
    out: list[str] = []
    offsets: list[int] = []
    invisible = 0
    in_words = 0
    swapped_at: list[int] = []
    hidden: list[str] = []
    for i, ch in enumerate(text):
        code = ord(ch)
        if ch in _JOINERS and _joins_script(text, i):
            # ZWNJ and ZWJ are ordinary spelling in Persian, Urdu, Hindi, Bengali and other
            # scripts: kept, and not counted as hidden characters.
            out.append(ch)
            offsets.append(i)
            continue
        if ch in INVISIBLE_CHARS:
            invisible += 1
            if out and out[-1].isalpha() and i + 1 < len(text) and text[i + 1].isalpha():
                in_words += 1
            continue
        if _TAG_FIRST <= code <= _TAG_LAST:
            invisible += 1
            if 0xE0020 <= code <= 0xE007E:
                hidden.append(chr(code - 0xE0000))
            continue
        mapped = HOMOGLYPHS.get(ch)
        if mapped is not None:
            if ch != "ı":  # Turkish dotless i: folded, but an ordinary letter, not a disguise
                swapped_at.append(len(out))
            out.append(mapped)
            offsets.append(i)
            continue
        if code >= 0xFF01 and code <= 0xFF5E:  # fullwidth ASCII
            out.append(chr(code - 0xFEE0))
        elif code > 0x2000 and unicodedata.category(ch)[0] in "LN":
            folded = unicodedata.normalize("NFKC", ch)
            out.append(folded if len(folded) == 1 else ch)
        else:
            out.append(ch)
        offsets.append(i)
    norm = "".join(out)
    return Normalized(
        norm, offsets, invisible, in_words, _mixed_words(norm, swapped_at), "".join(hidden)
    )


_JOINERS = frozenset("\u200c\u200d")
_SCRIPT_FROM = 0x0590  # Hebrew onwards: Arabic, Syriac, Thaana, the Indic scripts, ...


def _joins_script(text: str, i: int) -> bool:
    """A joiner between two letters of a non-Latin, non-Cyrillic, non-Greek script."""
    before = text[i - 1] if i else ""
    after = text[i + 1] if i + 1 < len(text) else ""
    return (
        before.isalpha()
        and after.isalpha()
        and ord(before) >= _SCRIPT_FROM
        and ord(after) >= _SCRIPT_FROM
        and before not in HOMOGLYPHS
        and after not in HOMOGLYPHS
    )


def _mixed_words(norm: str, swapped_at: list[int]) -> int:
    """Count words in which a swapped look-alike sits next to genuine Latin letters."""
    if not swapped_at:
        return 0
    seen: set[int] = set()
    swapped = set(swapped_at)
    for pos in swapped_at:
        start = pos
        while start > 0 and norm[start - 1].isalpha():
            start -= 1
        if start in seen:
            continue
        end = pos
        while end < len(norm) and norm[end].isalpha():
            end += 1
        word_positions = range(start, end)
        if any(p not in swapped and norm[p].isascii() for p in word_positions):
            seen.add(start)
    return len(seen)


def deleet(text: str) -> str | None:
    """Undo l33t-speak digit swaps, or None when the text shows no sign of them."""
    if not _LEET_HINT.search(text):
        return None
    return text.translate(_LEET)


def collapse_spaced(text: str) -> str | None:
    """Join letters written one by one ("i g n o r e"), or None when there are none."""
    if not _SPACED_LETTERS.search(text):
        return None
    text = _SPACED_WORDS.sub(
        lambda m: " ".join(w.replace(" ", "") for w in re.split(r"[ \t]{2,}", m.group(0))), text
    )
    joined = _SPACED_LETTERS.sub(lambda m: re.sub(r"[ .\-_*]", "", m.group(0)), text)
    return re.sub(r"[ \t]{2,}", " ", joined)


def decoded_blobs(text: str, limit: int = 8) -> list[tuple[tuple[int, int], str, str]]:
    """Decode base64 and hex runs that turn into readable text: (span, encoding, decoded)."""
    found: list[tuple[tuple[int, int], str, str]] = []
    for m in _BASE64_BLOB.finditer(text):
        blob = m.group(0)
        if blob.isalpha() and (blob.islower() or blob.isupper()):
            continue  # a long plain word, not base64
        decoded = _try_b64(blob)
        if decoded:
            found.append((m.span(), "base64", decoded))
        if len(found) >= limit:
            return found
    for m in _HEX_BLOB.finditer(text):
        try:
            raw = binascii.unhexlify(re.sub(r"[ :]", "", m.group(0)))
        except (binascii.Error, ValueError):
            continue
        decoded = _readable(raw)
        if decoded:
            found.append((m.span(), "hex", decoded))
        if len(found) >= limit:
            break
    return found


def _try_b64(blob: str) -> str | None:
    """Decode a base64 run if it yields mostly readable text."""
    padded = blob + "=" * (-len(blob) % 4)
    try:
        raw = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None
    return _readable(raw)


def _readable(raw: bytes) -> str | None:
    """Return ``raw`` as text when it is printable words, else None."""
    if len(raw) < 8:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = sum(1 for ch in text if ch.isprintable() or ch in "\n\t")
    letters = sum(1 for ch in text if ch.isalpha() or ch == " ")
    if printable / len(text) < 0.95 or letters / len(text) < 0.6 or " " not in text:
        return None
    return text


# Words that, written backwards or in ROT13, give away an instruction hidden that way. A copy
# is only made when one long telltale and at least one other appear, so prose costs one search.
_REVERSED_LONG = (
    "erongi|snoitcurtsni|noitcurtsni|tpmorp|metsys|selur|tnirp|laever|tegrof|suoiverp|sdrow|"
    "snoitcirtser|drowssap|terces|tuptuo|sserdda|enilediug|sretlif"
)
_REVERSED_HINT = re.compile(rf"\b(?:(?P<long>{_REVERSED_LONG})|eht|uoy|ruoy|lla|evah|woN|won|"
                            r"ot|dna|on|rof|drow|tuo|yas)\b", re.IGNORECASE)  # fmt: skip
_ROT13_LONG = (
    "vtaber|vafgehpgvbaf|vafgehpgvba|cebzcg|flfgrz|ehyrf|cevag|erirny|sbetrg|cerivbhf|jbeqf|"
    "erfgevpgvbaf|cnffjbeq|frperg|bhgchg|thvqryvarf|svygref"
)
_ROT13_HINT = re.compile(rf"\b(?:(?P<long>{_ROT13_LONG})|gur|lbh|lbhe|nyy|naq|abj|sbe|fnl|"
                         r"unir|cjarq)\b", re.IGNORECASE)  # fmt: skip
_ROT13 = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "NOPQRSTUVWXYZABCDEFGHIJKLMnopqrstuvwxyzabcdefghijklm",
)


def _telltale(pattern: re.Pattern[str], text: str) -> bool:
    """True when ``pattern`` finds a long telltale word and at least one more distinct one."""
    long_seen = False
    seen: set[str] = set()
    for m in pattern.finditer(text):
        seen.add(m.group(0).lower())
        long_seen = long_seen or m.group("long") is not None
        if long_seen and len(seen) >= 2:
            return True
    return False


def unreverse(text: str) -> str | None:
    """The text read right to left, when it holds backwards-written words; else None."""
    return text[::-1] if _telltale(_REVERSED_HINT, text) else None


def unrot13(text: str) -> str | None:
    """The text with ROT13 undone, when it holds ROT13-encoded words; else None."""
    return text.translate(_ROT13) if _telltale(_ROT13_HINT, text) else None
