"""Synthetic people and places: names, emails, countries, cities.

Some names are not ASCII on purpose: valid rows must carry multi-byte UTF-8, so that a
row encoded in Latin-1 (an injected problem) differs from them in bytes, not only in intent.
"""

from __future__ import annotations

import random
import unicodedata

FIRST_NAMES = (
    "Ana", "Ben", "Chloé", "David", "Elif", "Fatima", "Grace", "Hiro", "Ines", "Jakub",
    "José", "Karin", "Liam", "Mei", "Noah", "Olga", "Priya", "Quentin", "Rosa", "Søren",
    "Tomás", "Uma", "Victor", "Wen", "Yara", "Zoë",
)
LAST_NAMES = (
    "Andersen", "Brown", "Costa", "Dubois", "Evans", "García", "Hansen", "Ito", "Jensen",
    "Kowalski", "Lee", "Müller", "Nowak", "O'Brien", "Patel", "Rossi", "Schmidt", "Tanaka",
    "Usman", "Virtanen", "Wójcik", "Yilmaz", "Zhang",
)
EMAIL_DOMAINS = ("example.com", "mail.example", "corp.example", "inbox.example")
COUNTRIES = ("US", "GB", "DE", "FR", "ES", "NL", "PL", "JP", "BR", "CA")
CITIES = (
    "London", "New York", "Berlin", "Paris", "Madrid", "Amsterdam", "Tokyo", "Toronto",
    "Zürich", "São Paulo", "Kraków", "Montréal", "Málaga", "Düsseldorf",
)
COMPANIES = (
    "Acme Ltd", "Globex", "Initech", "Umbrella GmbH", "Stark Industries", "Wayne Enterprises",
    "Hooli", "Vandelay Imports", "Soylent SA", "Tyrell Corp",
)

# Names a legacy system would have written in Latin-1: every one has a non-ASCII
# character followed by ASCII, which is never valid UTF-8.
LATIN1_FIRST_NAMES = ("José", "Chloé", "Zoë", "Tomás", "Søren")
LATIN1_CITIES = ("Zürich", "São Paulo", "Kraków", "Montréal", "Málaga", "Düsseldorf")


# Letters NFKD does not decompose into an ASCII base letter.
_UNDECOMPOSABLE = str.maketrans({"ø": "o", "Ø": "O", "ß": "ss", "ł": "l", "Ł": "L"})


def ascii_slug(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSABLE))
    return "".join(char for char in decomposed if char.isascii() and char.isalnum()).lower()


def email_for(first_name: str, last_name: str, number: int, domain: str) -> str:
    return f"{ascii_slug(first_name)}.{ascii_slug(last_name)}{number}@{domain}"


def random_person(rng: random.Random) -> tuple[str, str]:
    return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
