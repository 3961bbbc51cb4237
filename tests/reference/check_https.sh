#!/usr/bin/env bash
# `tessera fetch` over https against nginx (TLS) on loopback, with a throwaway
# CA and server certificate made by the openssl CLI:
#   trusted with --cacert: bodies equal the served files and what curl fetches
#   untrusted (no --cacert, CA not in the system store), a self-signed server
#   certificate even with --cacert, and a host name the certificate does not
#   name: outcome tls, nothing written
#   https -> http redirect refused (outcome redirect); http -> https followed
#   resumable --file over https: a .part continued with Range (nginx logs 206)
set -u
cd "$(dirname "$0")/../.."
. tests/reference/lib.sh
T=$(make_tmp https)
# fetch NAME [options]: tessera fetch (at most 30 s) into $T/NAME.jsonl, exit status in $T/NAME.rc
fetch() {
    local name=$1; shift
    timeout 30 "$TESSERA" fetch "$@" >"$T/$name.jsonl" 2>"$T/$name.err"
    echo $? >"$T/$name.rc"
}
# field NAME INDEX KEY: one member of the JSON line with that index
field() { $PY -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("index", 0) == int(sys.argv[2]): print(r.get(sys.argv[3], "")); break' "$T/$1.jsonl" "$2" "$3"; }
command -v openssl >/dev/null && command -v nginx >/dev/null || { bad "openssl or nginx missing (scripts/install-deps.sh)"; finish; }

# ---- a CA, a server certificate for "localhost" only (no IP), a self-signed one
cd "$T"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=tessera test CA" \
    -keyout ca.key -out ca.pem -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>openssl.log
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr 2>>openssl.log
printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext \
    -out server.pem 2>>openssl.log
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost" \
    -keyout self.key -out self.pem 2>>openssl.log
cd - >/dev/null
check "openssl made the CA and the certificates" "openssl verify -CAfile '$T/ca.pem' '$T/server.pem' >/dev/null 2>&1"

# ---- real images and a 3 MB file to serve
mkdir -p "$T/www"
$PY - "$T/www" <<'PY'
import os, sys
from PIL import Image
out = sys.argv[1]
src = Image.open("/usr/lib/python3/dist-packages/skimage/data/chelsea.png").convert("RGB")
src.save(f"{out}/cat.jpg", quality=85)
src.resize((200, 150)).save(f"{out}/small.png")
src.resize((300, 200)).save(f"{out}/cat.webp", quality=80)
open(f"{out}/big.bin", "wb").write(os.urandom(3 << 20))
PY
S=$(free_port) SS=$(free_port) H=$(free_port)
nginx_run "    server {
        listen 127.0.0.1:$S ssl; server_name localhost; root $T/www;
        ssl_certificate $T/server.pem; ssl_certificate_key $T/server.key;
        location = /to-http { return 302 http://localhost:$H/cat.jpg; }
        location = /to-https { return 302 https://localhost:$S/small.png; }
    }
    server {
        listen 127.0.0.1:$SS ssl; root $T/www;
        ssl_certificate $T/self.pem; ssl_certificate_key $T/self.key;
    }
    server {
        listen 127.0.0.1:$H; root $T/www; access_log $T/nginx/logs/http.log;
        location = /up { return 301 https://localhost:$S/cat.webp; }
    }"
wait_url "https://localhost:$S/cat.jpg" --cacert "$T/ca.pem"
B=https://localhost:$S

# ---- 1. trusted: equal to the files and to curl
printf '%s\n' "$B/cat.jpg" "$B/small.png" "$B/cat.webp" >"$T/ok.txt"
fetch ok --cacert "$T/ca.pem" "$T/ok.txt" -o "$T/ok"
check "with --cacert: exit 0, every outcome ok" "[ \$(cat $T/ok.rc) = 0 ] && [ \$(grep -c '\"outcome\":\"ok\"' $T/ok.jsonl) = 3 ]"
i=0
for f in cat.jpg small.png cat.webp; do
    got=$(field ok $i file)
    curl -s --cacert "$T/ca.pem" -o "$T/curl_$f" "$B/$f"
    check "https $f equals the served file and curl's copy" "[ -n '$got' ] && cmp -s '$got' '$T/www/$f' && cmp -s '$got' '$T/curl_$f'"
    i=$((i + 1))
done

# ---- 2. TLS failures: outcome tls, nothing written
printf '%s\n' "$B/cat.jpg" >"$T/one.txt"
fetch untrusted --attempts 1 "$T/one.txt" -o "$T/untrusted"
check "no --cacert (CA not in the system store): outcome tls, exit 1, no file" \
    "[ \$(cat $T/untrusted.rc) = 1 ] && [ \"\$(field untrusted 0 outcome)\" = tls ] && [ -z \"\$(ls $T/untrusted 2>/dev/null)\" ]"
printf '%s\n' "https://127.0.0.1:$S/cat.jpg" >"$T/ip.txt"
fetch wronghost --attempts 1 --cacert "$T/ca.pem" "$T/ip.txt" -o "$T/wronghost"
check "host name not in the certificate (127.0.0.1 vs DNS:localhost): outcome tls" \
    "[ \$(cat $T/wronghost.rc) = 1 ] && [ \"\$(field wronghost 0 outcome)\" = tls ] && [ -z \"\$(ls $T/wronghost 2>/dev/null)\" ]"
check "curl agrees: the same two requests fail verification" \
    "! curl -s -o /dev/null '$B/cat.jpg' && ! curl -s -o /dev/null --cacert '$T/ca.pem' 'https://127.0.0.1:$S/cat.jpg'"
printf '%s\n' "https://localhost:$SS/cat.jpg" >"$T/self.txt"
fetch self --attempts 1 --cacert "$T/ca.pem" "$T/self.txt" -o "$T/self"
check "self-signed server certificate, not from the CA: outcome tls" "[ \"\$(field self 0 outcome)\" = tls ]"

# ---- 3. redirects: no downgrade, upgrade allowed
printf '%s\n' "$B/to-http" "$B/to-https" "http://localhost:$H/up" >"$T/redir.txt"
fetch redir --attempts 1 --cacert "$T/ca.pem" "$T/redir.txt" -o "$T/redir"
check "https -> http redirect refused: outcome redirect, no file" \
    "[ \"\$(field redir 0 outcome)\" = redirect ] && [ -z \"\$(field redir 0 file)\" ]"
check "the plain-http server never saw the downgrade's target" "[ -f '$T/nginx/logs/http.log' ] && ! grep -q 'GET /cat.jpg' '$T/nginx/logs/http.log'"
got=$(field redir 1 file)
check "https -> https redirect followed, body equal" "[ \"\$(field redir 1 outcome)\" = ok ] && cmp -s '$got' '$T/www/small.png'"
got=$(field redir 2 file)
check "http -> https redirect followed: ok, final_url https, body equal" \
    "[ \"\$(field redir 2 outcome)\" = ok ] && [ \"\$(field redir 2 final_url)\" = '$B/cat.webp' ] && cmp -s '$got' '$T/www/cat.webp'"

# ---- 4. resumable --file over https
SIZE=$(stat -c %s "$T/www/big.bin")
SHA=$(sha256sum "$T/www/big.bin" | cut -d' ' -f1)
head -c 1000000 "$T/www/big.bin" >"$T/big.out.part"
fetch big --cacert "$T/ca.pem" --file "$B/big.bin" -o "$T/big.out" --size "$SIZE" --sha256 "$SHA"
check "https --file resumed from a .part: equal, .part gone" \
    "[ \$(cat $T/big.rc) = 0 ] && cmp -s '$T/big.out' '$T/www/big.bin' && [ ! -e '$T/big.out.part' ]"
check "nginx served the rest as 206 Partial Content over TLS" "grep -q '\"GET /big.bin HTTP/1.1\" 206' '$T/nginx/logs/access.log'"
fetch bigtls --attempts 1 --file "$B/big.bin" -o "$T/big.untrusted" --size "$SIZE"
check "https --file without the CA: outcome tls, no file" \
    "[ \$(cat $T/bigtls.rc) != 0 ] && grep -q '\"outcome\":\"tls\"' '$T/bigtls.jsonl' && [ ! -e '$T/big.untrusted' ]"
finish
