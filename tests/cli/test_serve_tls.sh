# `llamac serve --ssl-key-file / --ssl-cert-file` (llama-server's flags): HTTPS through libmicrohttpd's GnuTLS with a
# self-signed certificate made here by openssl; a client that trusts it gets the same completion as over plain HTTP,
# streams included; one that does not, or one speaking plain HTTP, gets nothing; a half pair, a missing file, a file
# that is not PEM and a key that does not match the certificate stop the server at startup with a clear message.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
command -v curl > /dev/null && command -v jq > /dev/null && command -v openssl > /dev/null ||
  { echo "curl, jq and openssl are needed" >&2; exit 77; }
M="$MODELS/stories260K.gguf"
cert() { # cert NAME : a self-signed key and certificate for 127.0.0.1, NAME.key and NAME.pem
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/$1.key" -out "$TMP/$1.pem" -days 2 -subj /CN=127.0.0.1 \
    -addext "subjectAltName=IP:127.0.0.1" 2> /dev/null
}
cert a
cert b
BODY='{"prompt": "Once upon a time", "max_tokens": 24, "temperature": 0}'

start_server P -m "$M" -np 1 -t 1
req POST "$P_URL/v1/completions" "$BODY"
plain=$(jqr '.choices[0].text')
stop_server "$P_PID"

start_server T -m "$M" -np 1 -t 1 --ssl-key-file "$TMP/a.key" --ssl-cert-file "$TMP/a.pem"
expect_contains "the address is https" "$T_URL" "https://127.0.0.1:"
code=$(curl -s -o "$TMP/body" -w '%{http_code}' --cacert "$TMP/a.pem" "$T_URL/health")
expect_eq "GET /health over TLS" "$code" 200
code=$(curl -s -o "$TMP/body" -w '%{http_code}' --cacert "$TMP/a.pem" -H 'Content-Type: application/json' \
  --data-binary "$BODY" "$T_URL/v1/completions")
expect_eq "completion over TLS" "$code" 200
expect_eq "completion over TLS: the plain server's text" "$(jqr '.choices[0].text')" "$plain"
curl -sN --cacert "$TMP/a.pem" -H 'Content-Type: application/json' \
  --data-binary '{"prompt": "Once upon a time", "max_tokens": 24, "temperature": 0, "stream": true}' \
  "$T_URL/v1/completions" > "$TMP/stream"
sse_json "$TMP/stream"
expect_eq "stream over TLS: the plain server's text" "$(jq -r '[.[].choices[0].text] | join("")' "$TMP/events")" "$plain"
expect_eq "stream over TLS ends with [DONE]" "$(grep -c '^data: \[DONE\]' "$TMP/stream")" 1
# a client that does not trust the certificate, or one that speaks plain HTTP to the port, gets no answer
curl -s -o /dev/null --max-time 10 "$T_URL/health"
expect_eq "an untrusted certificate: curl refuses (60)" "$?" 60
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://${T_URL#https://}/health")
expect_eq "plain HTTP to the HTTPS port: no HTTP answer" "$code" 000
# the server still serves after both
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$TMP/a.pem" "$T_URL/health")
expect_eq "still serving" "$code" 200
stop_server "$T_PID"
expect_eq "server exit" "$stop_rc" 0

# startup errors
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" --port 0 --ssl-key-file "$TMP/a.key"
expect_eq "key without certificate: status" "$rc" 2
expect_contains "key without certificate: message" "$(cat "$TMP/e")" "--ssl-key-file needs --ssl-cert-file"
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" --port 0 --ssl-cert-file "$TMP/a.pem"
expect_eq "certificate without key: status" "$rc" 2
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" --port 0 --ssl-key-file "$TMP/missing.key" --ssl-cert-file "$TMP/a.pem"
expect_eq "missing key file: status" "$rc" 2
expect_contains "missing key file: named" "$(cat "$TMP/e")" "missing.key"
printf 'not a key\n' > "$TMP/junk.key"
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" --port 0 --ssl-key-file "$TMP/junk.key" --ssl-cert-file "$TMP/a.pem"
expect_eq "not PEM: status" "$rc" 2
expect_contains "not PEM: message" "$(cat "$TMP/e")" "is not a PEM file"
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" --port 0 -t 1 --ssl-key-file "$TMP/b.key" --ssl-cert-file "$TMP/a.pem"
expect_eq "a key that does not match the certificate: status" "$rc" 1
expect_contains "a key that does not match: message" "$(cat "$TMP/e")" "refused --ssl-key-file / --ssl-cert-file"
finish
