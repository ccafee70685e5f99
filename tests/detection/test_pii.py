"""PII: checksummed identifiers, contact details, names and addresses."""

from __future__ import annotations

import pytest

from quell.detection.pii import PIIDetector, iban_valid, luhn_valid


def luhn_complete(prefix: str) -> str:
    """Append the Luhn check digit to ``prefix``."""
    for d in "0123456789":
        if luhn_valid(prefix + d):
            return prefix + d
    raise AssertionError("unreachable")


def iban_for(country: str, bban: str) -> str:
    """Build an IBAN with correct check digits for a BBAN."""
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(digits) % 97
    return f"{country}{check:02d}{bban}"


@pytest.fixture(scope="module")
def pii() -> PIIDetector:
    return PIIDetector()


def kinds(pii: PIIDetector, text: str) -> dict[str, str]:
    return {f.category: text[f.span[0] : f.span[1]] for f in pii.scan(text) if f.span}


def test_email_and_phone(pii: PIIDetector) -> None:
    found = kinds(pii, "Write to ann.lee@example.com or call +1 415-555-0172 today.")
    assert found["email"] == "ann.lee@example.com"
    assert found["phone"].endswith("555-0172")


def test_card_needs_a_valid_luhn_checksum(pii: PIIDetector) -> None:
    good = luhn_complete("411111111111111")
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    assert "credit_card" in kinds(pii, f"card {good} expires soon")
    assert "credit_card" not in kinds(pii, f"card {bad} expires soon")


def test_card_evidence_is_masked(pii: PIIDetector) -> None:
    card = luhn_complete("550000000000000")
    (finding,) = [f for f in pii.scan(f"paid with {card}") if f.category == "credit_card"]
    assert card not in finding.evidence
    assert finding.evidence.endswith(card[-4:])


def test_iban_needs_a_valid_checksum(pii: PIIDetector) -> None:
    iban = iban_for("DE", "370400440532013000")
    assert iban_valid(iban)
    assert "iban" in kinds(pii, f"transfer to {iban} please")
    broken = iban[:-1] + ("1" if iban[-1] != "1" else "2")
    assert "iban" not in kinds(pii, f"transfer to {broken} please")


def test_ssn_rules(pii: PIIDetector) -> None:
    assert "us_ssn" in kinds(pii, "SSN 123-45-6789 on file")
    assert "us_ssn" not in kinds(pii, "ref 000-12-3456 on file")
    assert "us_ssn" not in kinds(pii, "ref 666-12-3456 on file")


def test_ip_addresses(pii: PIIDetector) -> None:
    assert kinds(pii, "server at 203.0.113.9 is down")["ip_address"] == "203.0.113.9"
    assert "ip_address" not in kinds(pii, "version 1.2.3.400 released")


def test_names_from_titles_cues_and_given_names(pii: PIIDetector) -> None:
    assert kinds(pii, "Please ask Dr. Okonkwo about it.")["person"] == "Okonkwo"
    assert kinds(pii, "Yesterday I met Sarah Connolly at the station.")["person"] == (
        "Sarah Connolly"
    )
    assert "person" not in kinds(pii, "The Eiffel Tower is in Paris.")


def test_street_address(pii: PIIDetector) -> None:
    found = kinds(pii, "Ship it to 221 Baker Street, Apt 2 by Friday.")
    assert found["street_address"].startswith("221 Baker Street")


def test_dates_and_versions_are_not_phones(pii: PIIDetector) -> None:
    assert "phone" not in kinds(pii, "Logged at 2024-05-17 10:22:31 by the job.")


def test_names_can_be_switched_off() -> None:
    text = "Yesterday I met Sarah Connolly at the station."
    assert all(f.category != "person" for f in PIIDetector(names=False).scan(text))


def test_names_from_surnames_verbs_roles_and_lists(pii: PIIDetector) -> None:
    assert kinds(pii, "Yesterday Tilly Nicholson called about the invoice.")["person"] == (
        "Tilly Nicholson"
    )
    assert kinds(pii, "Kowalczyk said the deadline moved.")["person"] == "Kowalczyk"
    assert kinds(pii, "The draft went to producer Ottilie Brandvold for review.")["person"] == (
        "Ottilie Brandvold"
    )
    names = {
        f.evidence
        for f in pii.scan("Our founders: Ingrid, Kowalczyk and Okafor.")
        if f.category == "person"
    }
    assert {"Ingrid", "Kowalczyk", "Okafor"} <= names


def test_possessive_is_left_out_of_the_name(pii: PIIDetector) -> None:
    assert kinds(pii, "We still have Wisława Szczepańska's address on file.")["person"] == (
        "Wisława Szczepańska"
    )


def test_name_shape_finds_unlisted_names_but_not_ordinary_words(pii: PIIDetector) -> None:
    from quell.detection.pii import name_likeness

    assert name_likeness("Szczepańska") > 0.9
    assert name_likeness("Insurance") < 0.5
    text = "The grant was signed by Emeline Vautrin last week."
    assert kinds(pii, text)["person"] == "Emeline Vautrin"
    quiet = "The Quarterly Review covers Regional Planning and Technical Support."
    assert "person" not in kinds(pii, quiet)
    assert "person" not in kinds(PIIDetector(name_shapes=False), text)


def test_sentence_end_breaks_a_name_run(pii: PIIDetector) -> None:
    found = kinds(pii, "Bitte lies die Anweisungen. Sie sind kurz.")
    assert "person" not in found or "." not in found["person"]


def test_addresses_announced_by_a_cue(pii: PIIDetector) -> None:
    text = "She lives at 4410 Kettuvaarantie 12, Oulu.\nCall later."
    assert kinds(pii, text)["street_address"].startswith("4410 Kettuvaarantie 12")
    corner = kinds(pii, "Meet me at the corner of 12 Brookfield Road and Elm Way tonight.")
    assert corner["street_address"].startswith("the corner of 12 Brookfield Road")


def test_phone_formats_across_countries(pii: PIIDetector) -> None:
    for number in ("0049 30 1234567", "+1-555-201-3344x12", "(+44) 20 7946 0958",
                   "+7 (495) 123-45-67", "+358 40 1234567"):  # fmt: skip
        assert kinds(pii, f"Ring me on {number} after six.")["phone"] == number
    assert kinds(pii, "My phone is 5552013344, thanks.")["phone"] == "5552013344"
    assert "phone" not in kinds(pii, "Card number 630427373398 is lost.")
