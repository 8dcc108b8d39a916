"""English responses that pass and fail each IFEval instruction, built from a record's kwargs.

Used by the English parity test: every candidate is scored by lm-eval's own
``ifeval`` and by ``lm_eval_iberian.ifeval``, and the verdicts must agree.
"""

import json
from typing import Any

ENGLISH = (
    "The city council met on Tuesday to discuss the new park. Many residents asked for more trees and a "
    "quiet place for children to play. The mayor promised to publish a plan before the summer."
)

# One or two sentences per language the English prompts ask for (written for this test).
SAMPLES = {
    "kn": "ಇಂದು ಹವಾಮಾನ ತುಂಬಾ ಚೆನ್ನಾಗಿದೆ. ನಾವು ಮಾರುಕಟ್ಟೆಗೆ ಹೋಗಿ ತಾಜಾ ಹಣ್ಣುಗಳನ್ನು ಖರೀದಿಸುತ್ತೇವೆ.",
    "pa": "ਅੱਜ ਮੌਸਮ ਬਹੁਤ ਵਧੀਆ ਹੈ। ਅਸੀਂ ਬਾਜ਼ਾਰ ਜਾ ਕੇ ਤਾਜ਼ੇ ਫਲ ਖਰੀਦਾਂਗੇ।",
    "mr": "आज हवामान खूप छान आहे. आम्ही बाजारात जाऊन ताजी फळे विकत घेणार आहोत आणि घरी स्वयंपाक करणार आहोत.",
    "fa": "امروز هوا بسیار خوب است. ما به بازار می‌رویم و میوه‌های تازه می‌خریم.",
    "vi": "Hôm nay thời tiết rất đẹp. Chúng tôi sẽ đi chợ để mua trái cây tươi và rau xanh.",
    "ko": "오늘은 날씨가 아주 좋습니다. 우리는 시장에 가서 신선한 과일을 살 것입니다.",
    "sw": "Leo hali ya hewa ni nzuri sana. Tutakwenda sokoni kununua matunda mapya na mboga za majani.",
    "ru": "Сегодня очень хорошая погода. Мы пойдём на рынок и купим свежие фрукты и овощи.",
    "hi": "आज मौसम बहुत अच्छा है। हम बाज़ार जाकर ताज़े फल और सब्ज़ियाँ खरीदेंगे।",
    "bg": "Днес времето е много хубаво. Ще отидем на пазара да купим пресни плодове и зеленчуци.",
    "pt": "Hoje o tempo está muito bom. Vamos ao mercado comprar frutas frescas e legumes para o jantar.",
    "gu": "આજે હવામાન ખૂબ સરસ છે. અમે બજારમાં જઈને તાજાં ફળો અને શાકભાજી ખરીદીશું.",
    "te": "ఈ రోజు వాతావరణం చాలా బాగుంది. మేము మార్కెట్‌కు వెళ్లి తాజా పండ్లు కొంటాము.",
    "it": "Oggi il tempo è molto bello. Andremo al mercato a comprare frutta fresca e verdure per la cena.",
    "ar": "الطقس اليوم جميل جدا. سنذهب إلى السوق لشراء الفواكه الطازجة والخضروات.",
    "ta": "இன்று வானிலை மிகவும் நன்றாக உள்ளது. நாங்கள் சந்தைக்குச் சென்று புதிய பழங்களை வாங்குவோம்.",
    "de": "Heute ist das Wetter sehr schön. Wir gehen auf den Markt und kaufen frisches Obst und Gemüse.",
    "fi": "Tänään sää on todella kaunis. Menemme torille ostamaan tuoreita hedelmiä ja vihanneksia.",
    "ur": "آج موسم بہت اچھا ہے۔ ہم بازار جا کر تازہ پھل اور سبزیاں خریدیں گے۔",
    "th": "วันนี้อากาศดีมาก พวกเราจะไปตลาดเพื่อซื้อผลไม้สดและผักสด",
    "ne": "आज मौसम धेरै राम्रो छ। हामी बजार गएर ताजा फलफूल र तरकारी किन्नेछौं।",
    "bn": "আজ আবহাওয়া খুব সুন্দর। আমরা বাজারে গিয়ে তাজা ফল এবং সবজি কিনব।",
}


def _sentences(n: int) -> str:
    base = [
        "The river was calm that morning.",
        "A small boat drifted past the old mill.",
        "Two herons stood in the shallow water.",
        "Someone on the bridge waved at the boat.",
        "The sun slowly burned away the mist.",
    ]
    return " ".join(base[i % len(base)] for i in range(max(n, 0)))


def _words(n: int) -> str:
    vocabulary = "people walk along the quiet road toward the bright little harbor every evening".split()
    return " ".join(vocabulary[i % len(vocabulary)] for i in range(max(n, 0)))


def _threshold(relation: str, n: int) -> tuple[int, int]:
    """(a count that passes, a count that fails) for ``relation n``."""
    return (n - 1, n) if relation == "less than" else (n, n - 1)


def _targeted(instruction_id: str, kw: dict[str, Any], prompt: str) -> list[str]:  # noqa: C901 - one branch per id
    rel = kw.get("relation") or kw.get("let_relation") or kw.get("capital_relation") or "at least"
    out: list[str] = []
    match instruction_id:
        case "keywords:existence":
            words = kw["keywords"]
            out = [ENGLISH + " " + " and ".join(words) + ".", ENGLISH + " " + " and ".join(words[:-1]) + "."]
        case "keywords:frequency":
            good, bad = _threshold(rel, kw["frequency"])
            out = [
                " ".join([f"The {kw['keyword']} is here."] * max(good, 0)) or ENGLISH,
                " ".join([f"The {kw['keyword']} is here."] * max(bad, 0)) or ENGLISH,
            ]
        case "keywords:forbidden_words":
            out = [ENGLISH, ENGLISH + " We talked about " + kw["forbidden_words"][-1] + " too."]
        case "keywords:letter_frequency":
            good, bad = _threshold(rel, kw["let_frequency"])
            filler = "Bz zz."  # no common letters besides b/z
            out = [filler + " " + kw["letter"] * max(good, 0), filler + " " + kw["letter"] * max(bad, 0)]
        case "language:response_language":
            out = [SAMPLES.get(kw["language"], ENGLISH), ENGLISH]
        case "length_constraints:number_sentences":
            good, bad = _threshold(rel, kw["num_sentences"])
            out = [_sentences(good), _sentences(bad), _sentences(good + 1)]
        case "length_constraints:number_paragraphs":
            n = kw["num_paragraphs"]
            out = ["\n***\n".join([ENGLISH] * n), "\n***\n".join([ENGLISH] * (n + 1)), "\n\n".join([ENGLISH] * n)]
        case "length_constraints:number_words":
            good, bad = _threshold(rel, kw["num_words"])
            out = [_words(good), _words(bad)]
        case "length_constraints:nth_paragraph_first_word":
            n, nth, first = kw["num_paragraphs"], kw["nth_paragraph"], kw["first_word"]
            paragraphs = [ENGLISH] * n
            right = list(paragraphs)
            if nth <= n:
                right[nth - 1] = f"{first.capitalize()}, as promised. " + ENGLISH
            wrong = list(paragraphs)
            out = ["\n\n".join(right), "\n\n".join(wrong), "\n\n".join(right + [ENGLISH])]
        case "detectable_content:number_placeholders":
            n = kw["num_placeholders"]
            out = [
                ENGLISH + " " + " ".join(f"[slot{i}]" for i in range(n)),
                ENGLISH + " " + " ".join(f"[slot{i}]" for i in range(n - 1)),
            ]
        case "detectable_content:postscript":
            marker = kw["postscript_marker"]
            out = [ENGLISH + f"\n\n{marker} Thanks for reading.", ENGLISH, ENGLISH + "\n\nPS: thanks."]
        case "detectable_format:number_bullet_lists":
            n = kw["num_bullets"]
            out = [
                ENGLISH + "\n" + "\n".join(f"* point {i}" for i in range(n)),
                ENGLISH + "\n" + "\n".join(f"- point {i}" for i in range(n + 1)),
            ]
        case "detectable_format:constrained_response":
            out = ["My answer is yes.", "My answer is yes", "Maybe. " + ENGLISH]
        case "detectable_format:number_highlighted_sections":
            n = kw["num_highlights"]
            out = [
                " ".join(f"*part {i}*" for i in range(n)) + " " + ENGLISH,
                " ".join(f"*part {i}*" for i in range(n - 1)) + " " + ENGLISH,
            ]
        case "detectable_format:multiple_sections":
            s, n = kw["section_spliter"], kw["num_sections"]
            out = [
                "\n".join(f"{s} {i + 1}\n{ENGLISH}" for i in range(n)),
                "\n".join(f"{s} {i + 1}\n{ENGLISH}" for i in range(n - 1)),
            ]
        case "detectable_format:json_format":
            out = ["```json\n" + json.dumps({"answer": ENGLISH}) + "\n```", json.dumps({"a": 1})[:-1]]
        case "detectable_format:title":
            out = ["<<A Quiet Park>>\n" + ENGLISH, "<< >>\n" + ENGLISH]
        case "combination:two_responses":
            out = [ENGLISH + "\n******\n" + _sentences(2), ENGLISH + "\n******\n" + ENGLISH, ENGLISH]
        case "combination:repeat_prompt":
            out = [kw["prompt_to_repeat"] + "\n" + ENGLISH, ENGLISH + "\n" + kw["prompt_to_repeat"]]
        case "startend:end_checker":
            out = [ENGLISH + " " + kw["end_phrase"], '"' + ENGLISH + " " + kw["end_phrase"] + '"', ENGLISH]
        case "change_case:capital_word_frequency":
            good, bad = _threshold(rel, kw["capital_frequency"])
            out = [ENGLISH + " " + " ".join(["BIG"] * max(good, 0)), ENGLISH + " " + " ".join(["BIG"] * max(bad, 0))]
        case "change_case:english_capital":
            out = [ENGLISH.upper(), ENGLISH, SAMPLES["de"].upper()]
        case "change_case:english_lowercase":
            out = [ENGLISH.lower(), ENGLISH, SAMPLES["it"].lower()]
        case "punctuation:no_comma":
            out = [ENGLISH.replace(",", ""), ENGLISH + " Yes, indeed."]
        case "startend:quotation":
            out = ['"' + ENGLISH + '"', ENGLISH, "“" + ENGLISH + "”"]
    return out


GENERIC = [
    ENGLISH,
    ENGLISH.upper(),
    ENGLISH.lower(),
    "",
    "   ",
    "<<Title>>\n\n*first* and **second**\n\n* one\n* two\n- three\n\nSECTION 1\nText [name].\n\nP.S. bye\nP.P.S more",
    "Paragraph one.\n***\nParagraph two.\n***\nParagraph three.",
    "first answer\n******\nsecond answer",
    '{"key": "value", "list": [1, 2, 3]}',
    "Mr. Smith met Dr. Jones at 5 p.m. in Washington. They talked. Then they left!",
    _words(400),
]


def candidates(record: dict[str, Any]) -> list[str]:
    """Responses for one record: the generic ones plus pass/fail ones for each of its instructions."""
    out = list(GENERIC) + [record["prompt"], record["prompt"] + "\n" + ENGLISH]
    for instruction_id, kw in zip(record["instruction_id_list"], record["kwargs"], strict=True):
        out.extend(_targeted(instruction_id, {k: v for k, v in kw.items() if v is not None}, record["prompt"]))
    return list(dict.fromkeys(out))
