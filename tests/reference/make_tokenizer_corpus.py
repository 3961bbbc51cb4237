#!/usr/bin/python3
"""Assemble the tokenizer parity corpus: JSON lines {"text": ...}, one document each.

Usage: make_tokenizer_corpus.py OUT.jsonl [TARGET_MB] [natural]

With "natural" the generated corner cases are left out (the benchmark's
corpus: real text only).

Deterministic for a given machine: files are taken in sorted order and the
generated part uses a fixed seed. Sources: licenses, translated man pages (cs
de es fr ja ko pl ru tr uk zh...), Debian docs, Python sources, locale
definitions, Unicode data files including NormalizationTest (composed and
decomposed forms), plus generated text aimed at the tokenizer's corners.
"""
import bz2
import glob
import gzip
import json
import os
import random
import sys

DOC_MAX = 60_000  # characters per document


def read_text(path):
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                data = f.read(4 << 20)
        elif path.endswith(".bz2"):
            with bz2.open(path, "rb") as f:
                data = f.read(4 << 20)
        else:
            with open(path, "rb") as f:
                data = f.read(4 << 20)
    except OSError:
        return ""
    if b"\0" in data:
        return ""
    return data.decode("utf-8", errors="replace")


def chunks(text):
    for i in range(0, len(text), DOC_MAX):
        yield text[i:i + DOC_MAX]


def files(pattern, limit_bytes):
    """Sorted files of a glob until limit_bytes of text is taken."""
    taken = 0
    for path in sorted(glob.glob(pattern, recursive=True)):
        if taken >= limit_bytes or not os.path.isfile(path) or os.path.islink(path):
            continue
        text = read_text(path)
        if not text.strip():
            continue
        taken += len(text.encode("utf-8"))
        yield from chunks(text)


def generated(rng):
    """Text for the corners: scripts, emoji, marks, whitespace, specials."""
    cyr = "Съешь же ещё этих мягких французских булок, да выпей чаю. ЁЛКА ёлка 2024 г. "
    cjk = "我能吞下玻璃而不伤身体。日本語のテキスト、カタカナとひらがな。한국어 문장입니다 "
    arabic = "أنا قادر على أكل الزجاج و هذا لا يؤلمني. ١٢٣٤٥٦٧٨٩٠ "
    hindi = "मैं काँच खा सकता हूँ और मुझे उससे कोई चोट नहीं पहुंचती। १२३ "
    thai = "ฉันกินกระจกได้ แต่มันไม่ทำให้ฉันเจ็บ "
    greek = "Μπορώ να φάω σπασμένα γυαλιά χωρίς να πάθω τίποτα. "
    emoji = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇯🇵", "❤️", "🧑🏿‍💻", "1️⃣", "👁‍🗨", "🫶🏻", "©", "™"]
    combining = ["e\u0301", "a\u0308\u0304", "o\u0323\u0302", "\u1100\u1161\u11a8", "A\u030a", "n\u0303",
                 "\u0915\u094d\u0937", "z\u0335\u0336\u0337", "\u212b", "\u2126", "\u00c5", "q\u0307\u0323"]
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_pad|>", "<tool_call>", "</think>",
                "<|im_start|>user\n", "<|im_end|>\n", "<|endoftext|><|endoftext|>", "<|im_", "<|im_end", "<think",
                "[LS]", "  [LS]", " \t[RS]  x", "\n [BOTH] \n", "word", " word ", "words", "_word", "sword",
                "Cafe\u0301", "Café", "ﬁne", "<|im_start|>user", "<|im_start|>users"]
    contractions = ["it's", "IT'S", "we're", "WE'RE", "you've", "I'M", "she'll", "he'd", "HE'D", "o'clock",
                    "'s", "'ſ", "'Ll", "'lL", "''s", "rock 'n' roll", "don't", "DON'T", "y'all", "'  s"]
    spaces = [" ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", "\r\n\r\n", " \n ", "  \n\n  ", "\u00a0",
              "\u3000", "\u2009", "\u202f", " \t \n", "\r", "\x0b", "\x0c", "\u0085", "\u2028", "   \r\n   x"]
    digits = ["0", "12", "123", "1234", "3.14159", "1,000,000", "٣", "१२", "²", "½", "Ⅻ", "10^9", "0x1F", "2024-11-28"]
    words = (cyr + cjk + arabic + hindi + thai + greek).split(" ")
    pools = [words, emoji, combining, specials, contractions, spaces, digits,
             list("!@#$%^&*()_+-=[]{};:'\",.<>/?\\|`~")]
    for _ in range(2500):
        parts = []
        for _ in range(rng.randint(20, 300)):
            pool = pools[rng.randrange(len(pools))]
            parts.append(pool[rng.randrange(len(pool))])
            if rng.random() < 0.5:
                parts.append(" ")
        yield "".join(parts)
    # random code points from every plane, assigned or not (no surrogates)
    for _ in range(600):
        cps = []
        for _ in range(rng.randint(10, 200)):
            r = rng.random()
            if r < 0.5:
                cp = rng.randrange(0x20, 0x3000)
            elif r < 0.8:
                cp = rng.randrange(0x3000, 0x30000)
            else:
                cp = rng.randrange(0x0, 0x110000)
            if 0xD800 <= cp <= 0xDFFF:
                cp = 0xFFFD
            cps.append(chr(cp))
        yield "".join(cps)
    # long runs: whitespace, one letter, digits, punctuation
    for ch in [" ", "\n", "a", "7", "!", "é", "日", " \n", "\r\n", "ab"]:
        yield ch * rng.randint(1000, 20000)
        yield "x" + ch * rng.randint(100, 5000) + "y"


def main():
    out_path = sys.argv[1]
    target = int(float(sys.argv[2]) * (1 << 20)) if len(sys.argv) > 2 else 11 << 20
    rng = random.Random(20241128)
    natural = len(sys.argv) > 3 and sys.argv[3] == "natural"
    sources = [
        iter(()) if natural else generated(rng),
        files("/usr/share/common-licenses/*", 1 << 20),
        files("/usr/share/man/[a-z][a-z]/**/*.gz", 2 << 20),
        files("/usr/share/man/[a-z][a-z]_[A-Z][A-Z]/**/*.gz", 1 << 20),
        files("/usr/share/unicode/NormalizationTest.txt.bz2", 1 << 20),
        files("/usr/share/unicode/NamesList.txt", 256 << 10),
        files("/usr/share/i18n/locales/*", 1 << 20),
        files("/usr/lib/python3.11/*.py", 2 << 20),
        files("/usr/share/doc/*/copyright", 1 << 20),
        files("/usr/share/man/man1/*.gz", 1 << 20),
        files("/usr/lib/python3.11/*/**/*.py", 64 << 20),  # tops up a machine short of text
    ]
    total = 0
    with open(out_path, "w", encoding="utf-8") as out:
        for src in sources:
            for doc in src:
                if total >= target:
                    break
                out.write(json.dumps({"text": doc}, ensure_ascii=False) + "\n")
                total += len(doc.encode("utf-8"))
    print(f"{total} bytes of text", file=sys.stderr)


if __name__ == "__main__":
    main()
