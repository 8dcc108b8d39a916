"""One checker per IFEval instruction, parameterised by language.

Each instruction is an :class:`Instruction` in the :data:`INSTRUCTIONS`
registry: a pydantic model for its kwargs (validated when the data load, so a
bad record fails before any generation) and a ``check(response, args, ctx)``
function. The semantics follow IFEval (Zhou et al., 2023) as lm-eval 0.4.13
implements them; what is language-specific comes from the
:class:`~lm_eval_iberian.ifeval._languages.LanguageProfile` in ``ctx``. The
deliberate differences from lm-eval's English checkers are listed in the README.
This is the corrected scoring; the authors' published rules are in ``_published``.
"""

import functools
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from lm_eval_iberian.ifeval._languages import PROFILES, LanguageProfile
from lm_eval_iberian.ifeval._text import count_capital_words, count_sentences, count_words, detect_language

Relation = Literal["less than", "at least"]
PositiveInt = Annotated[StrictInt, Field(ge=0)]
NonEmptyStr = Annotated[StrictStr, Field(min_length=1)]


# Quotation marks around a whole answer where a prompt asks for double quotes.
DOUBLE_QUOTES: tuple[tuple[str, str], ...] = (('"', '"'), ("“", "”"))


@dataclass(frozen=True)
class CheckContext:
    """What a checker may know besides the response: the languages and the record."""

    # The profile of the language the answer must be in: sentences, words,
    # abbreviations, first words, letters and postscripts are read with it.
    profile: LanguageProfile
    prompt: str
    # The language the answer must be written in (the file's unless the prompt
    # asks for another; data/answer_language.yaml).
    answer_language: str
    # The file's language: the phrases its prompts offer (constrained answers,
    # section labels) are in it.
    lang: str = ""
    # Quotation marks that count around the whole answer.
    quote_pairs: tuple[tuple[str, str], ...] = ()
    # Every instruction of the record (two_responses changes how sections count).
    instruction_ids: tuple[str, ...] = ()

    @property
    def prompt_profile(self) -> LanguageProfile:
        return PROFILES[self.lang] if self.lang else self.profile


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoArgs(_Args):
    pass


@dataclass(frozen=True)
class Instruction:
    id: str
    args: type[_Args]
    check: Callable[[str, Any, CheckContext], bool]


INSTRUCTIONS: dict[str, Instruction] = {}


def _register(instruction_id: str, args: type[_Args] = NoArgs):
    def wrap(fn: Callable[[str, Any, CheckContext], bool]) -> Callable[[str, Any, CheckContext], bool]:
        INSTRUCTIONS[instruction_id] = Instruction(instruction_id, args, fn)
        return fn

    return wrap


def _compare(count: int, relation: Relation, threshold: int) -> bool:
    return count < threshold if relation == "less than" else count >= threshold


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _literal(text: str) -> str:
    # Keywords are plain words, not regular expressions (lm-eval passes them to
    # re unescaped; none of the published keywords relies on that).
    return re.escape(_nfc(text))


# --- keywords -------------------------------------------------------------


class KeywordsArgs(_Args):
    keywords: list[NonEmptyStr] = Field(min_length=1)


@_register("keywords:existence", KeywordsArgs)
def _keywords_existence(response: str, args: KeywordsArgs, ctx: CheckContext) -> bool:
    text = _nfc(response)
    return all(re.search(_literal(k), text, flags=re.IGNORECASE) for k in args.keywords)


class KeywordFrequencyArgs(_Args):
    keyword: NonEmptyStr
    frequency: PositiveInt
    relation: Relation


@_register("keywords:frequency", KeywordFrequencyArgs)
def _keyword_frequency(response: str, args: KeywordFrequencyArgs, ctx: CheckContext) -> bool:
    found = len(re.findall(_literal(args.keyword.strip()), _nfc(response), flags=re.IGNORECASE))
    return _compare(found, args.relation, args.frequency)


class ForbiddenWordsArgs(_Args):
    forbidden_words: list[NonEmptyStr] = Field(min_length=1)


@_register("keywords:forbidden_words", ForbiddenWordsArgs)
def _forbidden_words(response: str, args: ForbiddenWordsArgs, ctx: CheckContext) -> bool:
    text = _nfc(response)
    # Whole words only; lookarounds instead of \b so a word that starts or ends
    # with punctuation ("maleït sia!") still matches.
    return not any(
        re.search(r"(?<!\w)" + _literal(w) + r"(?!\w)", text, flags=re.IGNORECASE) for w in args.forbidden_words
    )


class LetterFrequencyArgs(_Args):
    letter: Annotated[StrictStr, Field(min_length=1, max_length=1)]
    let_frequency: PositiveInt
    let_relation: Relation


@functools.cache
def _counted_as(letter: str, lang: str) -> frozenset[str]:
    """Lower-case characters that count as ``letter`` in ``lang`` (itself plus accented forms)."""
    profile = PROFILES[lang]
    if not profile.fold_accents or letter in profile.distinct_letters:
        return frozenset({letter})
    accented = (chr(c) for c in range(0xC0, 0x250))  # Latin-1 Supplement .. Latin Extended-B
    return frozenset(
        {letter}
        | {c for c in accented if c.islower() and c not in profile.distinct_letters and unicodedata.normalize("NFD", c)[0] == letter}
    )


@_register("keywords:letter_frequency", LetterFrequencyArgs)
def _letter_frequency(response: str, args: LetterFrequencyArgs, ctx: CheckContext) -> bool:
    text = _nfc(response).lower()
    count = sum(text.count(c) for c in _counted_as(_nfc(args.letter).lower(), ctx.profile.code))
    return _compare(count, args.let_relation, args.let_frequency)


# --- language -------------------------------------------------------------


class ResponseLanguageArgs(_Args):
    language: Annotated[StrictStr, Field(pattern=r"^[a-z]{2,3}$")]


@_register("language:response_language", ResponseLanguageArgs)
def _response_language(response: str, args: ResponseLanguageArgs, ctx: CheckContext) -> bool:
    detected = detect_language(response)
    # Text without letters has no language; lm-eval's checker passes it too.
    return detected is None or detected == args.language


# --- length constraints -----------------------------------------------------


class NumberSentencesArgs(_Args):
    num_sentences: PositiveInt
    relation: Relation


@_register("length_constraints:number_sentences", NumberSentencesArgs)
def _number_sentences(response: str, args: NumberSentencesArgs, ctx: CheckContext) -> bool:
    return _compare(count_sentences(response, ctx.profile.code), args.relation, args.num_sentences)


class NumberParagraphsArgs(_Args):
    num_paragraphs: PositiveInt


def _separated_parts(response: str, separator: str) -> list[str] | None:
    """Non-empty parts between ``separator`` matches; ``None`` if one in the middle is empty (IFEval's rule)."""
    parts = re.split(separator, response)
    kept = []
    for index, part in enumerate(parts):
        if part.strip():
            kept.append(part)
        elif 0 < index < len(parts) - 1:
            return None
    return kept


@_register("length_constraints:number_paragraphs", NumberParagraphsArgs)
def _number_paragraphs(response: str, args: NumberParagraphsArgs, ctx: CheckContext) -> bool:
    paragraphs = _separated_parts(response, r"\s?\*\*\*\s?")
    return paragraphs is not None and len(paragraphs) == args.num_paragraphs


class NumberWordsArgs(_Args):
    num_words: PositiveInt
    relation: Relation


@_register("length_constraints:number_words", NumberWordsArgs)
def _number_words(response: str, args: NumberWordsArgs, ctx: CheckContext) -> bool:
    return _compare(count_words(response, ctx.profile.code), args.relation, args.num_words)


class NthParagraphFirstWordArgs(_Args):
    num_paragraphs: Annotated[StrictInt, Field(ge=1)]
    nth_paragraph: Annotated[StrictInt, Field(ge=1)]
    first_word: NonEmptyStr


def _apostrophes(text: str, profile: LanguageProfile) -> str:
    for mark in profile.apostrophes[1:]:
        text = text.replace(mark, profile.apostrophes[0])
    return text


def _first_words(paragraph: str, count: int, profile: LanguageProfile) -> str:
    words = []
    for token in paragraph.split()[: count + 3]:
        token = token.lstrip(profile.first_word_leading)
        cut = len(token)
        for i, char in enumerate(token):
            if char in profile.first_word_end:
                cut = i
                break
        if token[:cut]:
            words.append(token[:cut].lower())
        if len(words) == count or cut < len(token):
            break
    return " ".join(words)


@_register("length_constraints:nth_paragraph_first_word", NthParagraphFirstWordArgs)
def _nth_paragraph_first_word(response: str, args: NthParagraphFirstWordArgs, ctx: CheckContext) -> bool:
    paragraphs = re.split(r"\n\n", response)
    non_empty = sum(1 for p in paragraphs if p.strip())
    if args.nth_paragraph > non_empty or non_empty != args.num_paragraphs:
        return False
    paragraph = paragraphs[args.nth_paragraph - 1].strip()
    if not paragraph:
        return False
    # Translations ask for multi-word starts ("fin de semana", "el presidente").
    wanted = _apostrophes(_nfc(args.first_word).strip().lower(), ctx.profile)
    found = _first_words(_apostrophes(_nfc(paragraph), ctx.profile), len(wanted.split()), ctx.profile)
    return found == " ".join(wanted.split())


# --- detectable content -----------------------------------------------------


class PlaceholdersArgs(_Args):
    num_placeholders: PositiveInt


@_register("detectable_content:number_placeholders", PlaceholdersArgs)
def _placeholders(response: str, args: PlaceholdersArgs, ctx: CheckContext) -> bool:
    return len(re.findall(r"\[.*?\]", response)) >= args.num_placeholders


class PostscriptArgs(_Args):
    postscript_marker: Annotated[StrictStr, Field(min_length=1, max_length=12, pattern=r"^[A-Za-z. ]+$")]


def postscript_pattern(marker: str) -> re.Pattern[str]:
    """The regex a postscript marker compiles to.

    Letters in order, each period of the marker required (a space may follow
    it, as lm-eval allows for ``P.S.``), case-insensitive; not preceded by a
    letter or digit and, for a marker ending in a letter (``PD``, ``PPD``),
    not followed by one — so ``PD`` does not match inside ``UPDATE``.
    """
    parts = []
    for char in marker.strip():
        if char == ".":
            parts.append(r"\.\s?")
        elif char != " ":
            parts.append(re.escape(char))
    body = "".join(parts)
    tail = r"(?!\w)" if marker.strip()[-1:].isalpha() else ""
    return re.compile(r"(?<!\w)" + body + tail, flags=re.IGNORECASE)


@_register("detectable_content:postscript", PostscriptArgs)
def _postscript(response: str, args: PostscriptArgs, ctx: CheckContext) -> bool:
    return bool(postscript_pattern(args.postscript_marker).search(response))


# --- detectable format ------------------------------------------------------


class BulletsArgs(_Args):
    num_bullets: PositiveInt


@_register("detectable_format:number_bullet_lists", BulletsArgs)
def _bullets(response: str, args: BulletsArgs, ctx: CheckContext) -> bool:
    stars = re.findall(r"^\s*\*[^\*].*$", response, flags=re.MULTILINE)
    dashes = re.findall(r"^\s*-.*$", response, flags=re.MULTILINE)
    return len(stars) + len(dashes) == args.num_bullets


@functools.cache
def _constrained_pattern(option: str) -> re.Pattern[str]:
    """The phrase, complete: a phrase ending in a letter must be followed by punctuation or the end.

    So "Mi respuesta es no." and "Mi respuesta es no, porque..." match, while
    "Mi respuesta es no lo sé" and "A resposta é sinxelamente" do not. lm-eval's
    English phrases end with a period, which keeps its plain substring test.
    """
    if not option[-1:].isalnum():
        return re.compile(re.escape(option))
    return re.compile(re.escape(option) + r"(?=\s*(?:[.,;:!?»”\"')\]]|$))")


@_register("detectable_format:constrained_response")
def _constrained_response(response: str, args: NoArgs, ctx: CheckContext) -> bool:
    text = _nfc(response.strip())
    return any(_constrained_pattern(option).search(text) for option in ctx.prompt_profile.constrained_responses)


class HighlightsArgs(_Args):
    num_highlights: PositiveInt


@_register("detectable_format:number_highlighted_sections", HighlightsArgs)
def _highlights(response: str, args: HighlightsArgs, ctx: CheckContext) -> bool:
    single = [h for h in re.findall(r"\*[^\n\*]*\*", response) if h.strip("*").strip()]
    double = [h for h in re.findall(r"\*\*[^\n\*]*\*\*", response) if h[2:-2].strip()]
    return len(single) + len(double) >= args.num_highlights


class SectionsArgs(_Args):
    section_spliter: NonEmptyStr
    num_sections: PositiveInt
    # Not IFEval's: an erratum sets "letter" where a prompt names its sections
    # "A ..., B ..." (eu 3367).
    section_label: Literal["number", "letter"] = "number"


@functools.cache
def _section_pattern(splitter: str, label: str, number_first: bool) -> re.Pattern[str]:
    name = re.escape(splitter.strip())
    mark = r"\d+" if label == "number" else r"(?<!\w)[A-Z](?!\w)"
    pattern = r"\s?" + name + r"\s?" + mark + r"\s?"
    if number_first or label == "letter":
        pattern = r"(?:" + pattern + r"|\s?" + mark + r"\.?\s?" + name + r"\s?)"
    return re.compile(pattern)


def _count_sections(text: str, args: SectionsArgs, ctx: CheckContext) -> int:
    pattern = _section_pattern(args.section_spliter, args.section_label, ctx.prompt_profile.section_number_first)
    return len(pattern.split(text)) - 1


@_register("detectable_format:multiple_sections", SectionsArgs)
def _sections(response: str, args: SectionsArgs, ctx: CheckContext) -> bool:
    if ctx.lang != "en" and "combination:two_responses" in ctx.instruction_ids:
        # Two answers, each with its sections (eu 3324: "each version must have 7
        # sections"): count within each answer. English keeps IFEval's count over both.
        parts = [p for p in response.split("******") if p.strip()] or [response]
        return min(_count_sections(p, args, ctx) for p in parts) >= args.num_sections
    return _count_sections(response, args, ctx) >= args.num_sections


@_register("detectable_format:json_format")
def _json_format(response: str, args: NoArgs, ctx: CheckContext) -> bool:
    text = response.strip()
    for fence in ("```json", "```Json", "```JSON", "```"):  # in turn, as lm-eval does
        text = text.removeprefix(fence)
    text = text.removesuffix("```").strip()
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@_register("detectable_format:title")
def _title(response: str, args: NoArgs, ctx: CheckContext) -> bool:
    return any(t.lstrip("<").rstrip(">").strip() for t in re.findall(r"<<[^\n]+>>", response))


# --- combination --------------------------------------------------------------


@_register("combination:two_responses")
def _two_responses(response: str, args: NoArgs, ctx: CheckContext) -> bool:
    parts = _separated_parts(response, re.escape("******"))
    return parts is not None and len(parts) == 2 and parts[0].strip() != parts[1].strip()


class RepeatPromptArgs(_Args):
    prompt_to_repeat: NonEmptyStr


@_register("combination:repeat_prompt", RepeatPromptArgs)
def _repeat_prompt(response: str, args: RepeatPromptArgs, ctx: CheckContext) -> bool:
    return _nfc(response).strip().lower().startswith(_nfc(args.prompt_to_repeat).strip().lower())


# --- start / end ----------------------------------------------------------------


class EndPhraseArgs(_Args):
    end_phrase: NonEmptyStr


def _quote_pairs(ctx: CheckContext) -> tuple[tuple[str, str], ...]:
    return ctx.quote_pairs or ctx.profile.quote_pairs


def _strip_quotes(text: str, ctx: CheckContext) -> str:
    marks = "".join(dict.fromkeys(c for pair in _quote_pairs(ctx) for c in pair))
    return text.strip().strip(marks)


# A final period (or ellipsis) of the phrase or of the answer is optional in
# es/ca/gl/eu: "Termina con la frase «... los anteriores»" is followed whether the
# answer ends "... los anteriores" or "... los anteriores." (es 1943's kwarg adds
# the period the prompt leaves out). English keeps IFEval's exact ending.
_OPTIONAL_FINAL = ".…"


@_register("startend:end_checker", EndPhraseArgs)
def _end_checker(response: str, args: EndPhraseArgs, ctx: CheckContext) -> bool:
    text = _strip_quotes(_nfc(response), ctx).lower()
    phrase = _nfc(args.end_phrase).strip().lower()
    if ctx.lang != "en":
        text, phrase = text.rstrip().rstrip(_OPTIONAL_FINAL), phrase.rstrip(_OPTIONAL_FINAL)
    return text.endswith(phrase)


@_register("startend:quotation")
def _quotation(response: str, args: NoArgs, ctx: CheckContext) -> bool:
    text = response.strip()
    return len(text) > 1 and any(text[0] == o and text[-1] == c for o, c in _quote_pairs(ctx))


# --- change case ----------------------------------------------------------------


class CapitalWordFrequencyArgs(_Args):
    capital_frequency: PositiveInt
    capital_relation: Relation


@_register("change_case:capital_word_frequency", CapitalWordFrequencyArgs)
def _capital_word_frequency(response: str, args: CapitalWordFrequencyArgs, ctx: CheckContext) -> bool:
    capitals = count_capital_words(response)
    return _compare(capitals, args.capital_relation, args.capital_frequency)


def _in_answer_language(response: str, ctx: CheckContext) -> bool:
    detected = detect_language(response)
    return detected is None or detected == ctx.answer_language


@_register("change_case:english_capital")
def _all_capital(response: str, args: NoArgs, ctx: CheckContext) -> bool:
    # The id says "english" because IFEval is English; the answer must be in
    # the language the prompt asks for (``ctx.answer_language``).
    return response.isupper() and _in_answer_language(response, ctx)


@_register("change_case:english_lowercase")
def _all_lowercase(response: str, args: NoArgs, ctx: CheckContext) -> bool:
    return response.islower() and _in_answer_language(response, ctx)


# --- punctuation ------------------------------------------------------------------


@_register("punctuation:no_comma")
def _no_comma(response: str, args: NoArgs, ctx: CheckContext) -> bool:
    return "," not in response


INSTRUCTION_IDS: tuple[str, ...] = tuple(sorted(INSTRUCTIONS))


def parse_args(instruction_id: str, kwargs: dict[str, Any]) -> _Args:
    """Validate one instruction's kwargs; raises ``KeyError`` / ``pydantic.ValidationError``."""
    return INSTRUCTIONS[instruction_id].args.model_validate(kwargs)
