"""Write the demo mirror's IFEval rows (hand-written prompts, real schemas).

Each source keeps its own quirks so the loader's normalisation is exercised:
google/IFEval stores every kwarg key (null when unused, as its parquet does),
BSC-LT/IFEval_es and projecte-aina/IFEval_ca prefix ids with ``es:``/``ca:``.
Run ``scripts/build_demo_manifest.py`` afterwards.
"""

import json
from pathlib import Path

DEMO = Path(__file__).resolve().parent.parent / "lm_eval_iberian" / "data" / "demo"

ALL_KWARGS = [
    "num_highlights", "relation", "num_words", "num_placeholders", "prompt_to_repeat", "num_bullets",
    "section_spliter", "num_sections", "capital_relation", "capital_frequency", "keywords", "num_paragraphs",
    "language", "let_relation", "letter", "let_frequency", "end_phrase", "forbidden_words", "keyword", "frequency",
    "num_sentences", "postscript_marker", "first_word", "nth_paragraph",
]

# (key, prompt, [(instruction id, kwargs)]) per language.
ROWS = {
    "en": [
        (9001, "Write a short note to a neighbour about a lost cat. Do not use any commas and finish with a postscript starting with P.S.",
         [("punctuation:no_comma", {}), ("detectable_content:postscript", {"postscript_marker": "P.S."})]),
        (9002, "Describe your favourite season in fewer than 4 sentences. Your whole answer must be in lowercase letters.",
         [("length_constraints:number_sentences", {"relation": "less than", "num_sentences": 4}), ("change_case:english_lowercase", {})]),
        (9003, "Give three tips for learning a language as a bulleted list with exactly 3 bullets, and include the word practice.",
         [("detectable_format:number_bullet_lists", {"num_bullets": 3}), ("keywords:existence", {"keywords": ["practice"]})]),
        (9004, "Write a poem about the sea with a title in double angular brackets, such as <<poem of joy>>.",
         [("detectable_format:title", {})]),
        (9005, "Answer only in Italian: what is your favourite food?",
         [("language:response_language", {"language": "it"})]),
        (9006, "Is the sun a star? Answer with one of: My answer is yes., My answer is no., My answer is maybe.",
         [("detectable_format:constrained_response", {})]),
    ],
    "es": [
        (9101, "Escribe una nota breve a tu vecina sobre un gato perdido. No uses ninguna coma y termina con una posdata que empiece por P.D.",
         [("es:punctuation:no_comma", {}), ("es:detectable_content:postscript", {"postscript_marker": "P.D."})]),
        (9102, "Describe tu estación favorita en menos de 4 frases. Toda tu respuesta debe estar en minúsculas y en español.",
         [("es:length_constraints:number_sentences", {"relation": "less than", "num_sentences": 4}), ("es:change_case:english_lowercase", {})]),
        (9103, "Da tres consejos para aprender un idioma en una lista con exactamente 3 viñetas e incluye la palabra práctica.",
         [("es:detectable_format:number_bullet_lists", {"num_bullets": 3}), ("es:keywords:existence", {"keywords": ["práctica"]})]),
        (9104, "Escribe un poema sobre el mar con un título entre dobles corchetes angulares, como <<poema de alegría>>.",
         [("es:detectable_format:title", {})]),
        (9105, "Responde solo en italiano: ¿cuál es tu comida favorita?",
         [("es:language:response_language", {"language": "it"})]),
        (9106, "¿Es el Sol una estrella? Responde con una de estas frases: \"Mi respuesta es sí\", \"Mi respuesta es no\", \"Mi respuesta es tal vez\".",
         [("es:detectable_format:constrained_response", {})]),
    ],
    "ca": [
        (9201, "Escriu una nota breu a la teva veïna sobre un gat perdut. No facis servir cap coma i acaba amb una postdata que comenci amb PD.",
         [("ca:punctuation:no_comma", {}), ("ca:detectable_content:postscript", {"postscript_marker": "PD"})]),
        (9202, "Descriu la teva estació preferida en menys de 4 frases. Tota la resposta ha d'estar en minúscules i en català.",
         [("ca:length_constraints:number_sentences", {"relation": "less than", "num_sentences": 4}), ("ca:change_case:english_lowercase", {})]),
        (9203, "Dona tres consells per aprendre una llengua en una llista amb exactament 3 punts i inclou la paraula pràctica.",
         [("ca:detectable_format:number_bullet_lists", {"num_bullets": 3}), ("ca:keywords:existence", {"keywords": ["pràctica"]})]),
        (9204, "Escriu un poema sobre el mar amb un títol entre dobles claudàtors angulars, com ara <<poema d'alegria>>.",
         [("ca:detectable_format:title", {})]),
        (9205, "Respon només en italià: quin és el teu menjar preferit?",
         [("ca:language:response_language", {"language": "it"})]),
        (9206, "És el Sol una estrella? Respon amb una d'aquestes frases: \"La meva resposta és sí.\", \"La meva resposta és no.\", \"La meva resposta és potser.\"",
         [("ca:detectable_format:constrained_response", {})]),
    ],
    "gl": [
        (9301, "Escribe unha nota breve á túa veciña sobre un gato perdido. Non uses ningunha coma e remata cunha posdata que comece por P.D.",
         [("punctuation:no_comma", {}), ("detectable_content:postscript", {"postscript_marker": "P.D."})]),
        (9302, "Describe a túa estación favorita en menos de 4 frases. Toda a resposta debe estar en galego e en minúsculas.",
         [("length_constraints:number_sentences", {"relation": "less than", "num_sentences": 4}), ("change_case:english_lowercase", {})]),
        (9303, "Dá tres consellos para aprender unha lingua nunha lista con exactamente 3 viñetas e inclúe a palabra práctica.",
         [("detectable_format:number_bullet_lists", {"num_bullets": 3}), ("keywords:existence", {"keywords": ["práctica"]})]),
        (9304, "Escribe un poema sobre o mar cun título entre dobres corchetes angulares, como <<poema de ledicia>>.",
         [("detectable_format:title", {})]),
        (9305, "Responde só en italiano: cal é a túa comida favorita?",
         [("language:response_language", {"language": "it"})]),
        (9306, "É o Sol unha estrela? Responde cunha destas frases: \"A miña resposta é si.\", \"A miña resposta é non.\", \"A miña resposta é pode ser.\"",
         [("detectable_format:constrained_response", {})]),
    ],
    "eu": [
        (9401, "Idatzi ohar labur bat auzokideari galdutako katu bati buruz. Ez erabili komarik eta amaitu PD-rekin hasten den postdata batekin.",
         [("punctuation:no_comma", {}), ("detectable_content:postscript", {"postscript_marker": "PD"})]),
        (9402, "Deskribatu zure urtaro gogokoena 4 esaldi baino gutxiagotan. Erantzun osoa euskaraz eta letra xehez idatzi behar da.",
         [("length_constraints:number_sentences", {"relation": "less than", "num_sentences": 4}), ("change_case:english_lowercase", {})]),
        (9403, "Eman hizkuntza bat ikasteko hiru aholku, zehazki 3 buletdun zerrenda batean, eta erabili praktika hitza.",
         [("detectable_format:number_bullet_lists", {"num_bullets": 3}), ("keywords:existence", {"keywords": ["praktika"]})]),
        (9404, "Idatzi itsasoari buruzko poema bat, izenburua angelu-parentesi bikoitzen artean duela, adibidez <<pozaren poema>>.",
         [("detectable_format:title", {})]),
        (9405, "Erantzun italieraz bakarrik: zein da zure janari gogokoena?",
         [("language:response_language", {"language": "it"})]),
        (9406, "Eguzkia izar bat al da? Erantzun esaldi hauetako batekin: \"Nire erantzuna baiezkoa da.\", \"Nire erantzuna ezezkoa da.\", \"Nire erantzuna agian da.\"",
         [("detectable_format:constrained_response", {})]),
    ],
}

TARGETS = {
    "en": "google/IFEval/default/train.jsonl",
    "es": "BSC-LT/IFEval_es/default/test.jsonl",
    "ca": "projecte-aina/IFEval_ca/default/test.jsonl",
    "gl": "eneko98/Iber-IFEval/gl/test.jsonl",
    "eu": "eneko98/Iber-IFEval/eu/test.jsonl",
}


def main() -> None:
    for lang, rows in ROWS.items():
        path = DEMO / TARGETS[lang]
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as fh:
            for key, prompt, instructions in rows:
                kwargs = [k for _, k in instructions]
                if lang == "en":  # parquet-style: every kwarg key present, null when unused
                    kwargs = [{name: k.get(name) for name in ALL_KWARGS} for k in kwargs]
                row = {"key": key, "prompt": prompt, "instruction_id_list": [i for i, _ in instructions], "kwargs": kwargs}
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
