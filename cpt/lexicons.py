"""Per-language data for the corpus filters (written for this project).

* Stop words: Gopher keeps a document only if it contains at least 2 of a few
  very frequent function words. Gopher's list is English ("the, be, to, of,
  and, that, have, with") and rejects every Basque, Catalan or Spanish document,
  so each language has its own list of equally common function words.
* Bad words: C4 drops a page containing a word from an obscenity list. The
  common lists (LDNOOBW) have no Basque, Catalan or Galician; these short lists
  hold unambiguous vulgar words only (whole-word, case-insensitive matches).
* Mean word length: Gopher keeps documents whose mean word length is 3-10
  characters, calibrated on English. Basque is agglutinative: on real Basque
  text (the 541 Basque IFEval prompts in 68 documents) the mean word length is
  5.4-6.8 (median 6.2) against English 3.5-4.8 (median 4.5), so Basque bounds
  are scaled by that ratio (1.37): 4-13. Spanish, Catalan and Galician measured
  3.9-5.2 and keep 3-10.
* Terminal punctuation (C4's line rule): . ! ? and closing quotes, plus » ” ’
  and, in the Iberian languages, the single-character ellipsis … that ends
  sentences there. Lines ending in ASCII "..." are still dropped (C4: truncated).
"""

STOP_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset("the be to of and that have with".split()),
    "es": frozenset("de la que el en y a los se del las por un para con".split()),
    "ca": frozenset("de la que i el a en les per del els amb un una és".split()),
    "gl": frozenset("de a o que e en do da os no as para un unha con".split()),
    "eu": frozenset("eta da ez du bat ere dira izan zen baina dute hau egin bere dago".split()),
}

BAD_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset("fuck fucking motherfucker cunt shit bullshit asshole dickhead wanker".split()),
    "es": frozenset("puta putas mierda coño gilipollas follar polla cabrón hijoputa".split()),
    "ca": frozenset("puta putes merda collons cony fotre malparit".split()),
    "gl": frozenset("puta putas merda carallo cona foder fodido".split()),
    "eu": frozenset("putakume txortan txortaka alu zakila".split()),
}

MEAN_WORD_LENGTH: dict[str, tuple[float, float]] = {
    "en": (3, 10),
    "es": (3, 10),
    "ca": (3, 10),
    "gl": (3, 10),
    "eu": (4, 13),
}

TERMINAL_PUNCTUATION: dict[str, tuple[str, ...]] = {
    "en": (".", "!", "?", '"', "'", "”", "’"),
    **{lang: (".", "!", "?", '"', "'", "»", "”", "’", "…") for lang in ("es", "ca", "gl", "eu")},
}

LANGUAGES: tuple[str, ...] = tuple(STOP_WORDS)
