"""What the IFEval checkers need to know about each language.

One :class:`LanguageProfile` per language, looked up in :data:`PROFILES`. The
checkers are written once and read everything language-specific from here, so
adding a language is adding a profile, not a module.
"""

from dataclasses import dataclass

# Roman numerals I..L: in Basque an ordinal is a number followed by a period
# ("XX. mendean", "3. kapitulua"), so the period does not end the sentence.
_ROMAN = tuple(
    (tens + units).lower()
    for tens in ("", "x", "xx", "xxx", "xl", "l")
    for units in ("", "i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix")
    if tens + units
)

# Abbreviations whose final period never ends a sentence (lower case, no final
# period; Punkt's convention). Written for this project from common usage.
_EN_ABBREVIATIONS = (
    "mr mrs ms dr prof sr jr st mt vs cf a.m p.m u.s u.k u.n inc ltd co corp dept est fig figs "
    "vol vols approx jan feb apr aug sep sept oct nov dec tues wed thurs fri "
    "ave blvd rd gen col lt capt sgt gov sen rep ph.d b.a m.a m.sc b.sc d.c"
)
_ES_ABBREVIATIONS = (
    "sr sra srta sres dr dra drs d dña ud uds vd vds lic ing arq prof profa etc ee uu p.ej ej pág págs núm n.º art "
    "cap caps av avda c cía s.a s.l ee.uu aprox tel dpto depto admón izq dcha ed vol vols fig a.c d.c a.m "
    "p.m ud dto máx mín pza p.d p.p.d"
)
_CA_ABBREVIATIONS = (
    "sr sra srta srs dr dra drs etc p.ex ex pàg pàgs núm n.º art cap caps av avg c pl s.a s.l tel "
    "aprox dept ed vol vols fig aC dC a.c d.c esq dta sta pd ppd p.d"
)
_GL_ABBREVIATIONS = (
    "sr sra srta sres dr dra d dna etc ee uu p.ex ex páx páxs núm n.º art cap caps av avda r s.a s.l tel aprox "
    "dpto ed vol vols fig a.c d.c esq dta máx mín p.d p.p.d"
)
_EU_ABBREVIATIONS = (
    "adib etab e.a or orr zk zbk k kal and jn jna dok esk ezk ik tel arg ed lib bol irud k.a k.o g.b h.d "
    "or.g urt ots api mai eka uzt abu ira urr abe pd ppd p.d"
)


@dataclass(frozen=True)
class LanguageProfile:
    """Language-specific data the instruction checkers read.

    ``word_joiners`` join two word runs into one word (``col·lecció``,
    ``Gernika-Lumo``); an apostrophe always separates (``l'home`` = 2 words).
    ``distinct_letters`` are accented letters counted as letters of their own
    by ``keywords:letter_frequency``; every other accented letter also counts
    as its base letter (Spanish ``á`` is an ``a``, ``ñ`` is not an ``n``).
    """

    code: str
    name: str
    abbreviations: frozenset[str]
    constrained_responses: tuple[str, ...]
    word_joiners: str = ""
    distinct_letters: frozenset[str] = frozenset()
    fold_accents: bool = True
    # Opening/closing quotation marks accepted around a whole answer.
    quote_pairs: tuple[tuple[str, str], ...] = (('"', '"'),)
    # Basque writes "1. ATALA" (ordinal before the noun) as well as "ATALA 1".
    section_number_first: bool = False
    # nth_paragraph_first_word: marks skipped before the first word, and the
    # characters that end it. English keeps lm-eval's sets; the Iberian
    # languages also skip ¿ ¡ « “ and markdown, and keep elisions ("l'home").
    first_word_leading: str = "'\""
    first_word_end: str = ".,?!'\""
    # Characters read as an apostrophe in first words (’ is the typographic one).
    apostrophes: str = "'"
    # Abbreviations that often end a sentence ("etc."): a capitalised next word
    # starts a new sentence, a lower-case one does not.
    closing_abbreviations: frozenset[str] = frozenset()
    # «¿Vienes?», preguntó: a question or exclamation followed by a comma (or a
    # dash and a lower-case word) continues the sentence.
    join_continuations: bool = False
    # 1.500 and 3,14 are one word (the Iberian languages group digits with a period).
    group_digits: bool = False


_IBERIAN_QUOTES = (('"', '"'), ("«", "»"), ("“", "”"))
_IBERIAN_TEXT = {
    "quote_pairs": _IBERIAN_QUOTES,
    "first_word_leading": "\"'¿¡«“‘*#_>([ ",
    "first_word_end": '.,;:?!"«»“”()[]*',
    "apostrophes": "'’",
    "join_continuations": True,
    "group_digits": True,
}


def _abbr(words: str, *more: tuple[str, ...]) -> frozenset[str]:
    out = {w.lower() for w in words.split()}
    for extra in more:
        out.update(extra)
    return frozenset(out)


PROFILES: dict[str, LanguageProfile] = {
    "en": LanguageProfile(
        code="en",
        name="English",
        abbreviations=_abbr(_EN_ABBREVIATIONS),
        # lm-eval's ifeval constants, with the final period.
        constrained_responses=("My answer is yes.", "My answer is no.", "My answer is maybe."),
        fold_accents=False,
    ),
    "es": LanguageProfile(
        code="es",
        name="Spanish",
        abbreviations=_abbr(_ES_ABBREVIATIONS),
        constrained_responses=("Mi respuesta es sí", "Mi respuesta es no", "Mi respuesta es tal vez"),
        word_joiners="-",
        distinct_letters=frozenset("ñ"),
        closing_abbreviations=frozenset({"etc"}),
        **_IBERIAN_TEXT,
    ),
    "ca": LanguageProfile(
        code="ca",
        name="Catalan",
        abbreviations=_abbr(_CA_ABBREVIATIONS),
        constrained_responses=("La meva resposta és sí", "La meva resposta és no", "La meva resposta és potser"),
        word_joiners="-·\u0387\u2027",  # middle dot (and its look-alikes) of l·l
        distinct_letters=frozenset("çñ"),
        closing_abbreviations=frozenset({"etc"}),
        **_IBERIAN_TEXT,
    ),
    "gl": LanguageProfile(
        code="gl",
        name="Galician",
        abbreviations=_abbr(_GL_ABBREVIATIONS),
        # Prompts use both "A miña resposta é ..." and (key 227) "A resposta é ...".
        constrained_responses=(
            "A miña resposta é si",
            "A miña resposta é non",
            "A miña resposta é pode ser",
            "A resposta é si",
            "A resposta é non",
            "A resposta é pode ser",
        ),
        word_joiners="-",
        distinct_letters=frozenset("ñ"),
        closing_abbreviations=frozenset({"etc"}),
        **_IBERIAN_TEXT,
    ),
    "eu": LanguageProfile(
        code="eu",
        name="Basque",
        abbreviations=_abbr(_EU_ABBREVIATIONS, _ROMAN),
        # Key 3752 offers "beharbada" where the others say "agian".
        constrained_responses=(
            "Nire erantzuna baiezkoa da",
            "Nire erantzuna ezezkoa da",
            "Nire erantzuna agian da",
            "Nire erantzuna beharbada da",
        ),
        word_joiners="-",
        distinct_letters=frozenset("ñ"),
        closing_abbreviations=frozenset({"etab", "e.a"}),
        **_IBERIAN_TEXT,
        section_number_first=True,
    ),
}

LANGUAGES: tuple[str, ...] = tuple(PROFILES)


def profile_for(lang: str) -> LanguageProfile:
    """The profile of ``lang``; a clear error naming the supported codes otherwise."""
    try:
        return PROFILES[lang]
    except KeyError:
        raise ValueError(f"unsupported IFEval language {lang!r}; choose one of {', '.join(LANGUAGES)}") from None
