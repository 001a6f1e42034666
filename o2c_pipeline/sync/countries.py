"""Countries: whatever people type in a billing country -> NetSuite's country enum value.

ISO 3166 comes from ``pycountry`` (codes, names, official and common names, kept up to date by its
maintainers). NetSuite's enum (``_unitedStates``, ``_germany``) is the English short name in
camelCase; :data:`NETSUITE_SPELLING` lists the countries where NetSuite's own spelling departs
from ISO's (``_czechRepublic`` for Czechia, ``_koreaRepublicOf``). :data:`ALIASES` holds only
the common names ISO lacks ("UK", "Holland", "Deutschland", "Ivory Coast"). Matching ignores
case, accents and punctuation, so "U.S.A.", "usa" and "Côte d'Ivoire"/"Cote dIvoire" meet.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

import pycountry

#: ISO alpha-2 -> NetSuite's enum value, where it is not the camelCased ISO short name.
NETSUITE_SPELLING: dict[str, str] = {
    "BQ": "_bonaireSaintEustatiusAndSaba",
    "CD": "_congoDemocraticPeoplesRepublic",
    "CG": "_congoRepublicOf",
    "CV": "_capeVerde",
    "CZ": "_czechRepublic",
    "EA": "_ceutaAndMelilla",
    "FK": "_falklandIslands",
    "FM": "_micronesiaFederalStateOf",
    "GS": "_southGeorgia",
    "HM": "_heardAndMcDonaldIslands",
    "HR": "_croatiaHrvatska",
    "IC": "_canaryIslands",
    "IR": "_iranIslamicRepublicOf",
    "KP": "_koreaDemocraticPeoplesRepublic",
    "KR": "_koreaRepublicOf",
    "LA": "_laoPeoplesDemocraticRepublic",
    "MD": "_moldovaRepublicOf",
    "MF": "_saintMartin",
    "MK": "_macedonia",
    "MO": "_macau",
    "PM": "_stPierreAndMiquelon",
    "PN": "_pitcairnIsland",
    "PS": "_stateOfPalestine",
    "RE": "_reunionIsland",
    "SH": "_saintHelena",
    "SJ": "_svalbardAndJanMayenIslands",
    "SK": "_slovakRepublic",
    "SX": "_sintMaarten",
    "SY": "_syrianArabRepublic",
    "SZ": "_swaziland",
    "TL": "_eastTimor",
    "TR": "_turkey",
    "UM": "_uSMinorOutlyingIslands",
    "VA": "_holySeeCityVaticanState",
    "VI": "_virginIslandsUSA",
    "WF": "_wallisAndFutunaIslands",
    "XK": "_kosovo",  # not in ISO 3166-1; NetSuite and many orgs use the user-assigned XK
}

#: Common names ISO 3166 does not carry: everyday English aliases and the local names people
#: type for their own country.
ALIASES: dict[str, str] = {
    "UK": "GB",
    "U.K.": "GB",
    "Great Britain": "GB",
    "Britain": "GB",
    "England": "GB",
    "Scotland": "GB",
    "Wales": "GB",
    "Northern Ireland": "GB",
    "America": "US",
    "US of A": "US",
    "United States of America": "US",
    "Holland": "NL",
    "The Netherlands": "NL",
    "Nederland": "NL",
    "Deutschland": "DE",
    "Österreich": "AT",
    "Schweiz": "CH",
    "Suisse": "CH",
    "Svizzera": "CH",
    "España": "ES",
    "Italia": "IT",
    "Belgique": "BE",
    "België": "BE",
    "Danmark": "DK",
    "Sverige": "SE",
    "Norge": "NO",
    "Suomi": "FI",
    "Polska": "PL",
    "Brasil": "BR",
    "Eire": "IE",
    "Ivory Coast": "CI",
    "Korea": "KR",
    "South Korea": "KR",
    "North Korea": "KP",
    "Czech Republic": "CZ",
    "Turkey": "TR",
    "Russia": "RU",
    "Vietnam": "VN",
    "PRC": "CN",
    "People's Republic of China": "CN",
    "UAE": "AE",
    "Kosovo": "XK",
}


def _ascii(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def normalise(name: str) -> str:
    """Case-, accent- and punctuation-insensitive key: 'U.S.A.' and 'usa' meet."""
    return re.sub(r"[^a-z0-9]", "", _ascii(name))


def _camel(name: str) -> str:
    words = re.findall(r"[a-z0-9]+", _ascii(name))
    return "_" + words[0] + "".join(w.capitalize() for w in words[1:])


@cache
def netsuite_enums() -> dict[str, str]:
    """ISO alpha-2 -> NetSuite country enum value, for every ISO 3166-1 country."""
    enums = {
        c.alpha_2: _camel(getattr(c, "common_name", None) or c.name) for c in pycountry.countries
    }
    return {**enums, **NETSUITE_SPELLING}


@cache
def _lookup() -> dict[str, str]:
    """Every accepted spelling (normalised) -> ISO alpha-2."""
    table: dict[str, str] = {}
    for c in pycountry.countries:
        names = (c.name, getattr(c, "official_name", None), getattr(c, "common_name", None))
        for key in (c.alpha_2, c.alpha_3, *filter(None, names)):
            table.setdefault(normalise(key), c.alpha_2)
    table.update({normalise(name): iso for name, iso in ALIASES.items()})
    table.update({normalise(enum): iso for iso, enum in netsuite_enums().items()})
    return table


def iso_country(value: str | None) -> str | None:
    """The ISO alpha-2 code of a typed country (code, name, alias or NetSuite enum), or None."""
    return _lookup().get(normalise(value)) if value else None


def netsuite_country(value: str | None) -> str | None:
    """The NetSuite country enum for an ISO code, a name or a common alias, or None when unknown."""
    iso = iso_country(value)
    return netsuite_enums().get(iso) if iso else None
