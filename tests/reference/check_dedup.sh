#!/usr/bin/env bash
# tessera dedup against Python's own Unicode (unicodedata NFC, str.casefold,
# str.split whitespace) over generated captions: NFC/NFD spellings, case and
# whitespace variants, near variants; then a second run that starts from the
# first run's saved index, and a damaged index.
set -u
cd "$(dirname "$0")/../.."
[ -x "${TESSERA:-}" ] || { echo "missing \$TESSERA"; echo "0 passed, 1 failed"; exit 1; }
exec /usr/bin/python3 - "$TESSERA" "${TS_TEST_TMP:-/tmp}" <<'PY'
import json, os, random, subprocess, sys, tempfile, unicodedata

tessera, tmp = sys.argv[1], tempfile.mkdtemp(dir=sys.argv[2], prefix="check_dedup.")
passed = failed = 0

def check(name, ok, detail=""):
    global passed, failed
    passed += ok
    failed += not ok
    print(f"{'ok  ' if ok else 'FAIL'} {name} {'' if ok else detail}")

# Python's split() also splits on U+001C..U+001F, which are not Unicode
# White_Space; the generator never emits them.
SPACES = [" ", "  ", "\t", "\n", "\u00a0", "\u3000", "\u2003", " \r\n "]
WORDS = ["caf\u00e9", "cafe\u0301", "Stra\u00dfe", "STRASSE", "na\u00efve", "\u00c5ngstr\u00f6m",
         "A\u030angstro\u0308m", "dog", "Dog", "DOG", "\u0130stanbul", "\u03a3\u03bf\u03c6\u03af\u03b1",
         "\u6771\u4eac", "photo", "ph0to"]

def key(s, fold):
    s = unicodedata.normalize("NFC", s)
    if fold:
        s = unicodedata.normalize("NFC", s.casefold())
    return " ".join(s.split())

rng = random.Random(7)
def caption():
    words = [rng.choice(WORDS) for _ in range(rng.randint(1, 3))]
    out = rng.choice(["", " ", "\t"])
    for i, w in enumerate(words):
        out += (rng.choice(SPACES) if i else "") + w
    return out + rng.choice(["", " ", "\n"])

def run(path, *args):
    p = subprocess.run([tessera, "dedup", path, "--field", "text", *args], capture_output=True)
    return p.returncode, p.stdout.decode(), p.stderr.decode()

def expect(records, fold, seen):
    kept = []
    for r in records:
        k = key(r["text"], fold)
        if k not in seen:
            seen.add(k)
            kept.append(r)
    return kept

def write(path, records):
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")

recs1 = [{"id": i, "text": caption()} for i in range(3000)]
recs2 = [{"id": 10000 + i, "text": caption()} for i in range(3000)]
in1, in2, idx = (os.path.join(tmp, n) for n in ("a.jsonl", "b.jsonl", "run.idx"))
write(in1, recs1)
write(in2, recs2)

for fold in (1, 0):
    flags = [] if fold else ["--no-casefold"]
    rc, out, err = run(in1, *flags)
    got = [json.loads(l)["id"] for l in out.splitlines()]
    want = [r["id"] for r in expect(recs1, fold, set())]
    check(f"kept ids casefold={fold}", rc == 0 and got == want, f"rc={rc} {len(got)} vs {len(want)} {err[-300:]}")
    summary = json.loads(err.splitlines()[-1]) if err else {}
    check(f"summary casefold={fold}", summary.get("seen") == 3000 and
          summary.get("kept") == len(want) and summary.get("dropped") == 3000 - len(want),
          str(summary))
    drops = [json.loads(l) for l in err.splitlines()[:-1]]
    check(f"drop records casefold={fold}", len(drops) == 3000 - len(want) and
          all(d["reason"] == "dup_text" for d in drops), f"{len(drops)}")

# Two runs: the second starts from the first one's saved index.
seen = set()
want1 = expect(recs1, 1, seen)
want2 = expect(recs2, 1, seen)
rc, out, err = run(in1, "--index", idx, "--save", idx)
check("run 1 fresh index", rc == 0 and len(out.splitlines()) == len(want1), err[-300:])
rc, out, err = run(in2, "--index", idx)
got = [json.loads(l)["id"] for l in out.splitlines()]
check("run 2 drops run 1's texts", rc == 0 and got == [r["id"] for r in want2],
      f"{len(got)} vs {len(want2)} {err[-300:]}")
check("run 2 loaded run 1's keys", json.loads(err.splitlines()[-1])["loaded"] == len(want1), err[-200:])

data = bytearray(open(idx, "rb").read())
data[len(data) // 2] ^= 0x40
bad = os.path.join(tmp, "bad.idx")
open(bad, "wb").write(data)
rc, out, err = run(in2, "--index", bad)
check("damaged index refused", rc == 3 and out == "" and bad in err and "checksum" in err, f"rc={rc} {err[-300:]}")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
