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
    "aprox dept ed vol vols fig aC dC a.c d.c esq dta sta pd ppd p.d ee uu ee.uu a.m p.m"
)
_GL_ABBREVIATIONS = (
    "sr sra srta sres dr dra d dna etc ee uu p.ex ex páx páxs núm n.º art cap caps av avda r s.a s.l tel aprox "
    "dpto ed vol vols fig a.c d.c esq dta máx mín p.d p.p.d"
)
_EU_ABBREVIATIONS = (
    "adib etab e.a or orr zk zbk k kal and jn jna dok esk ezk ik tel arg ed lib bol irud k.a k.o g.b h.d "
    "or.g urt ots api mai eka uzt abu ira urr abe pd ppd p.d"
)

# Frequent sentence-initial words (lower case): after an abbreviation that can
# end a sentence ("EE. UU.", "a. m.", "g.b."), one of these, capitalised, starts
# a new sentence; any other capitalised word is read as a name ("EE. UU. Joe
# Biden ..."). Function words, adverbs and common verbs, written for this project.
_ES_STARTERS = (
    "a al algunos algunas ahora allí antes aquel aquella aquí así aun aunque ayer bueno cada como con cuando de del "
    "desde después durante el ella ellas ellos en entonces es esa ese eso esta este esto estos estas está estaba "
    "fue finalmente hay hace hoy la las le les lo los luego mañana me mi mis muchos muchas muy nada ni no nos "
    "nosotros nuestra nuestro otra otro para pero por porque pues que qué se según ser si sí sin sobre su sus "
    "también tampoco te tras tu tú un una uno unos unas usted ustedes y ya yo además primero segundo mientras "
    "cuál cuándo dónde cómo quién estamos estoy tengo tenemos tiene vamos fuimos llegamos salimos volvimos"
)
_CA_STARTERS = (
    "a al als algunes alguns això allà aleshores ara aquí aquell aquella aquest aquesta aquests aquestes així "
    "abans ahir avui cada com amb de del dels des després durant el ella elles ells els em en entre era és "
    "finalment hi i jo la les li llavors lo ma mai més molt molts moltes ens ni no nosaltres nostra nostre "
    "però per perquè potser primer doncs quan que què qui se segons si sí sense sobre son sovint també tampoc "
    "te tot tota tots totes tu un una uns unes vosaltres vostè ja mentre on estem estic tinc tenim té "
    "anem vam vaig vas va vàrem tornem demà"
)
_GL_STARTERS = (
    "a á ao aos as ás agora alí algúns algunhas antes aquel aquela aquí así aínda aquilo cada como con cando "
    "da das de dende despois do dos durante e el ela elas eles en entón é esa ese iso esta este isto estes "
    "estas está estaba foi finalmente hai fai hoxe lle lles logo mañá me miña meu moitos moitas moi nada nin "
    "non nos nosa noso nós o os outra outro para pero por porque pois que se segundo ser si sen sobre súa "
    "seu tamén tampouco te tras ti un unha uns unhas vostede vós xa eu ademais primeiro mentres onde estamos "
    "estou teño temos ten imos fomos chegamos saímos volvemos onte"
)
_EU_STARTERS = (
    "ala alde aldiz asko atzo azkenik bai baina baita bakoitza bat batzuk behin beraz bere berriz bestalde "
    "bien bihar da dira edo egun ere eta etab gaur gero geroago gu gure guztiak hala han hara hau hauek hemen "
    "hona hori horiek horregatik horrela hura ez ezin gainera halaber hasieran hurrengo lehen lehenik "
    "ni nik nire noiz non nola nor orain ordea orduan oso zer zergatik zu zuk zure zuen zuek zenbait "
    "hor hortik handik hemendik joan etorri iritsi itzuli ondoren bestela egia"
)


def _starters(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Abbreviations (token types, lower case, no final period; spaced forms are
# sequences) that end a sentence before a capitalised sentence starter: country
# and time abbreviations. Titles (Sr., Dra., Jn.) are not here and never end one.
_ES_GL_FINAL = (
    ("ee", "uu"), ("ee.uu",), ("a", "m"), ("a.m",), ("p", "m"), ("p.m",),
    ("a", "c"), ("a.c",), ("d", "c"), ("d.c",),
)
_CA_FINAL = _ES_GL_FINAL + (("ac",), ("dc",))
_EU_FINAL = (("g.b",), ("g", "b"), ("k.a",), ("k", "a"), ("k.o",), ("k", "o"))


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
    # Country and time abbreviations ("EE. UU.", "a. m.", "g.b."): they end a
    # sentence before a capitalised word from ``sentence_starters`` (a word that
    # is not a name), and not before a name or a lower-case word.
    final_abbreviations: tuple[tuple[str, ...], ...] = ()
    sentence_starters: frozenset[str] = frozenset()
    # The constrained-response phrases of the authors' checkers (published
    # scoring): a plain substring test, Basque with a final period.
    published_constrained_responses: tuple[str, ...] = ()
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
        published_constrained_responses=("My answer is yes.", "My answer is no.", "My answer is maybe."),
        fold_accents=False,
    ),
    "es": LanguageProfile(
        code="es",
        name="Spanish",
        abbreviations=_abbr(_ES_ABBREVIATIONS),
        constrained_responses=("Mi respuesta es sí", "Mi respuesta es no", "Mi respuesta es tal vez"),
        published_constrained_responses=("Mi respuesta es sí", "Mi respuesta es no", "Mi respuesta es tal vez"),
        word_joiners="-",
        distinct_letters=frozenset("ñ"),
        closing_abbreviations=frozenset({"etc"}),
        final_abbreviations=_ES_GL_FINAL,
        sentence_starters=_starters(_ES_STARTERS),
        **_IBERIAN_TEXT,
    ),
    "ca": LanguageProfile(
        code="ca",
        name="Catalan",
        abbreviations=_abbr(_CA_ABBREVIATIONS),
        constrained_responses=("La meva resposta és sí", "La meva resposta és no", "La meva resposta és potser"),
        published_constrained_responses=(
            "La meva resposta és sí", "La meva resposta és no", "La meva resposta és potser",
        ),
        word_joiners="-·\u0387\u2027",  # middle dot (and its look-alikes) of l·l
        distinct_letters=frozenset("çñ"),
        closing_abbreviations=frozenset({"etc"}),
        final_abbreviations=_CA_FINAL,
        sentence_starters=_starters(_CA_STARTERS),
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
        published_constrained_responses=("A resposta é si", "A resposta é non", "A resposta é pode ser"),
        word_joiners="-",
        distinct_letters=frozenset("ñ"),
        closing_abbreviations=frozenset({"etc"}),
        final_abbreviations=_ES_GL_FINAL,
        sentence_starters=_starters(_GL_STARTERS),
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
        published_constrained_responses=(
            "Nire erantzuna baiezkoa da.", "Nire erantzuna ezezkoa da.", "Nire erantzuna agian da.",
        ),
        word_joiners="-",
        distinct_letters=frozenset("ñ"),
        closing_abbreviations=frozenset({"etab", "e.a"}),
        final_abbreviations=_EU_FINAL,
        sentence_starters=_starters(_EU_STARTERS),
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
