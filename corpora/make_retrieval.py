"""Write the Sinhala retrieval set over sinhala_passages.jsonl, BEIR style.

    python corpora/make_retrieval.py

- queries.jsonl: {"_id", "text", "metadata": {"type"}} where type is
  "exact" (needs a name, number or rare word), "paraphrase" (says it in other words) or
  "topic" (several passages answer it).
- qrels.tsv: query-id, corpus-id (the passage's "id"), score: 2 answers the query,
  1 is related.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent

QUERIES: list[tuple[str, str, dict[str, int]]] = [
    # Names, numbers and rare words: where a dense encoder is weakest.
    ("exact", "කාශ්‍යප රජු", {"history-03": 2, "history-04": 1}),
    ("exact", "1815 උඩරට ගිවිසුම", {"history-10": 2}),
    ("exact", "1948 පෙබරවාරි 4", {"history-11": 2}),
    ("exact", "1972 ජනරජය", {"history-12": 2}),
    ("exact", "1505 පෘතුගීසීන්", {"history-25": 2, "history-13": 1}),
    ("exact", "කඩුලු 800", {"sports-03": 2}),
    ("exact", "ලකුණු 624 ලෝක වාර්තාව", {"sports-04": 2}),
    ("exact", "සුසන්තිකා ජයසිංහ", {"sports-06": 2}),
    ("exact", "ලසිත් මාලිංග", {"sports-11": 2}),
    ("exact", "1990 සුව සැරිය", {"health-19": 2}),
    ("exact", "Z ලකුණු", {"education-02": 2}),
    ("exact", "කන්නන්ගර", {"education-03": 2}),
    ("exact", "රාවණා 1 චන්ද්‍රිකාව", {"technology-18": 2}),
    ("exact", "OTP අංකය", {"technology-09": 2}),
    ("exact", "5G", {"technology-14": 2}),
    ("exact", "සේනා දළඹුවා", {"agriculture-11": 2}),
    ("exact", "සුවඳැල් පච්චපෙරුමාල්", {"agriculture-21": 2}),
    ("exact", "ගම්පෙරළිය", {"culture-08": 2}),
    ("exact", "ලෙස්ටර් ජේම්ස් පීරිස්", {"culture-10": 2}),
    ("exact", "ලැම්ප්‍රයිස්", {"food-13": 2}),
    ("exact", "නවආරුක්කු පාලම", {"transport-03": 2}),
    ("exact", "මත්තල", {"transport-08": 2}),
    ("exact", "2004 සුනාමිය", {"environment-07": 2, "environment-06": 1}),
    ("exact", "හෝර්ටන් තැන්න ලෝකාන්තය", {"environment-20": 2}),
    ("exact", "පිදුරංගල", {"tourism-23": 2}),
    ("exact", "ජාත්‍යන්තර මූල්‍ය අරමුදල", {"economy-07": 2, "economy-10": 1}),
    # Paraphrases: the answer shares few or no words with the question.
    ("paraphrase", "ලංකාවේ පළමු රාජධානියේ අගනගරය කුමක්ද", {"history-01": 2}),
    ("paraphrase", "බුදුන්ගේ දත් ධාතුව තැන්පත් කර ඇත්තේ කොහේද", {"history-09": 2}),
    ("paraphrase", "ලංකාවට නිදහස ලැබුණේ කවදාද", {"history-11": 2}),
    (
        "paraphrase",
        "පැරණි රජවරු වැව් සහ ඇළ මාර්ග තැනූ හැටි",
        {"history-20": 2, "history-21": 2, "history-06": 1},
    ),
    ("paraphrase", "මදුරුවන්ගෙන් බෝවන රෝගයක් වළක්වා ගන්නේ කෙසේද", {"health-02": 2, "health-01": 2}),
    ("paraphrase", "සීනි රෝගය පාලනය කරන්නේ කෙසේද", {"health-03": 2}),
    ("paraphrase", "රජයේ ඉස්පිරිතාලවල බෙහෙත් සඳහා මුදල් ගෙවිය යුතුද", {"health-05": 2}),
    ("paraphrase", "ළදරුවන්ට දිය යුතු හොඳම කෑම", {"health-14": 2}),
    ("paraphrase", "සිගරට් බීමේ අවදානම", {"health-09": 2}),
    ("paraphrase", "ගොවීන් එළවළු විකුණන්න ගෙන යන තැන", {"agriculture-09": 2}),
    ("paraphrase", "අඩු වතුරෙන් වැඩි අස්වැන්නක්", {"agriculture-10": 2}),
    ("paraphrase", "වනඅලි නිසා ගොවිතැනට වන හානිය", {"agriculture-20": 2, "environment-09": 2}),
    ("paraphrase", "ලංකාවට වැඩිම විදේශ මුදල් ගෙනෙන කර්මාන්තය", {"economy-03": 2, "economy-04": 1}),
    ("paraphrase", "භාණ්ඩ මිල ඉහළ යාම පාලනය කිරීම", {"economy-05": 2, "economy-19": 1}),
    ("paraphrase", "විදෙස්ගත ශ්‍රමිකයින් එවන මුදල්", {"economy-04": 2}),
    ("paraphrase", "නොමිලේ ඉගෙනීමේ ක්‍රමය ආරම්භ කළේ කවුද", {"education-03": 2}),
    ("paraphrase", "රැකියා කරන අයට උපාධියක් ලබා ගැනීම", {"education-23": 2}),
    ("paraphrase", "ගුරුවරුන් නැති දුර බැහැර පාසල්", {"education-09": 2}),
    ("paraphrase", "ලංකාව ක්‍රිකට් ලෝක ශූරයන් වූයේ කවදාද", {"sports-01": 2, "sports-02": 2, "sports-10": 1}),
    ("paraphrase", "කාන්තාවන් වැඩියෙන්ම කරන ක්‍රීඩාව", {"sports-05": 2}),
    ("paraphrase", "රටේ නිල ක්‍රීඩාව", {"sports-07": 2}),
    ("paraphrase", "නායයෑම් පිළිබඳ අවවාද", {"environment-03": 2}),
    ("paraphrase", "මුහුදට එකතු වන ප්ලාස්ටික්", {"environment-05": 2}),
    ("paraphrase", "ගංවතුර නිසා මිනිසුන් ඉවත් කිරීම", {"environment-13": 2, "environment-02": 2}),
    ("paraphrase", "පරිගණකයේ සිංහලෙන් ලිවීම", {"technology-03": 2}),
    ("paraphrase", "බොරු පුවත් හඳුනා ගැනීම", {"technology-08": 2}),
    ("paraphrase", "කොළඹ සිට මාතරට ඉක්මනින් යාම", {"transport-01": 2}),
    ("paraphrase", "ලෝකයේ ලස්සනම කෝච්චි ගමන", {"transport-02": 2}),
    ("paraphrase", "හෙල්මට් පැළඳීම අනිවාර්යද", {"transport-12": 2}),
    ("paraphrase", "ලොකු තල්මසුන් බලන්න යන්න හොඳම කාලය", {"tourism-04": 2}),
    ("paraphrase", "සීතල කාලගුණයක් ඇති කඳුකර නගරය", {"tourism-03": 2, "tourism-13": 1}),
    ("paraphrase", "අවුරුදු කෑම මේසයේ රසකැවිලි", {"culture-02": 2, "food-21": 2, "food-05": 1}),
    ("paraphrase", "බුදුන් උපන් දිනය සමරන උත්සවය", {"culture-03": 2, "culture-04": 2}),
    ("paraphrase", "සිංහල සිනමාවේ පුරෝගාමියා", {"culture-10": 2}),
    # Topics: several passages answer.
    (
        "topic",
        "ලංකාවේ ලෝක උරුම ස්ථාන",
        {"history-26": 2, "environment-04": 2, "history-03": 1, "history-15": 1, "history-05": 1},
    ),
    ("topic", "කුළුබඩු වගාව", {"agriculture-04": 2, "agriculture-15": 2, "food-23": 1}),
    ("topic", "ලංකාවේ ගුවන් තොටුපළ", {"transport-07": 2, "transport-08": 2, "transport-22": 1}),
    (
        "topic",
        "ජාතික වනෝද්‍යාන සහ වන සතුන්",
        {
            "environment-19": 2,
            "tourism-06": 2,
            "tourism-19": 2,
            "environment-20": 1,
            "tourism-07": 1,
        },
    ),
    ("topic", "ලාංකික උදෑසන ආහාර", {"food-03": 2, "food-11": 2, "food-16": 2, "food-25": 1}),
    (
        "topic",
        "ක්‍රිකට් වාර්තා සහ ක්‍රීඩකයින්",
        {"sports-03": 2, "sports-04": 2, "sports-23": 2, "sports-11": 1},
    ),
]


def main() -> None:
    passages = {
        json.loads(line)["id"]
        for line in (HERE / "sinhala_passages.jsonl").read_text(encoding="utf-8").splitlines()
    }
    with (
        open(HERE / "queries.jsonl", "w", encoding="utf-8") as queries,
        open(HERE / "qrels.tsv", "w", encoding="utf-8") as qrels,
    ):
        qrels.write("query-id\tcorpus-id\tscore\n")
        for number, (kind, text, relevant) in enumerate(QUERIES, start=1):
            qid = f"q{number:02d}"
            record = {"_id": qid, "text": text, "metadata": {"type": kind}}
            queries.write(json.dumps(record, ensure_ascii=False) + "\n")
            for pid, grade in relevant.items():
                if pid not in passages:
                    raise SystemExit(f"{qid}: unknown passage {pid}")
                qrels.write(f"{qid}\t{pid}\t{grade}\n")
    print(f"{len(QUERIES)} queries")


if __name__ == "__main__":
    main()
