#!/usr/bin/env bash
# Run a command with the release's signing identity and notary credentials, from CI secrets, and
# remove every secret on every way out: success, a failing step (security import, store-credentials,
# the command itself), or a signal (a cancelled job).
#
#   packaging/with_signing_keychain.sh COMMAND [ARGS...]
#   e.g. packaging/with_signing_keychain.sh packaging/build_macos.sh [--resume]
#
# Environment (the workflow's secrets):
#   MACOS_CERTIFICATE_P12       base64 of the Developer ID Application certificate with its key (.p12)
#   MACOS_CERTIFICATE_PASSWORD  its password
#   NOTARY_API_KEY_P8           App Store Connect API key (.p8 text), NOTARY_API_KEY_ID, NOTARY_API_ISSUER
#   SECRETS_DIR                 where the temporary files go (default: RUNNER_TEMP, else TMPDIR, else /tmp)
#
# What it makes, in one private folder: a temporary keychain usable by codesign only (`security
# import -T /usr/bin/codesign`), put first in the user's search list, holding the certificate and a
# notarytool profile "facemirror-notary"; cert.p12 and notary-key.p8 exist only until imported.
# COMMAND runs with FACEMIRROR_NOTARY_PROFILE and FACEMIRROR_NOTARY_KEYCHAIN set. Afterwards the
# trap deletes the keychain, restores the search list and removes the folder; the exit status is
# COMMAND's (or the failing step's).
set -euo pipefail

die() { echo "with_signing_keychain.sh: error: $*" >&2; exit 1; }

[ $# -gt 0 ] || die "usage: $0 COMMAND [ARGS...]"
for var in MACOS_CERTIFICATE_P12 MACOS_CERTIFICATE_PASSWORD NOTARY_API_KEY_P8 NOTARY_API_KEY_ID NOTARY_API_ISSUER; do
  [ -n "${!var:-}" ] || die "$var is not set (a repository secret of the release job)"
done

umask 077
base="${SECRETS_DIR:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}}"
work="$(mktemp -d "$base/facemirror-signing.XXXXXX")"
keychain="$work/signing.keychain-db"
cert="$work/cert.p12"
key="$work/notary-key.p8"
search_list=()
search_list_changed=0
keychain_made=0

cleanup() {
  local status=$?
  trap - EXIT INT TERM HUP
  rm -f "$cert" "$key"
  if [ "$search_list_changed" = 1 ]; then
    if [ "${#search_list[@]}" -gt 0 ]; then
      security list-keychains -d user -s "${search_list[@]}" || true
    fi
  fi
  if [ "$keychain_made" = 1 ]; then
    security delete-keychain "$keychain" || true
  fi
  rm -rf "$work"
  echo "with_signing_keychain.sh: secrets removed (keychain, certificate, API key)"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# The keychain's password only lives in this process.
keychain_password="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"

printf '%s' "$MACOS_CERTIFICATE_P12" | base64 --decode > "$cert"
keychain_made=1
security create-keychain -p "$keychain_password" "$keychain"
security set-keychain-settings -lut 21600 "$keychain"
security unlock-keychain -p "$keychain_password" "$keychain"
# -T: only codesign may use the key (never every application).
security import "$cert" -P "$MACOS_CERTIFICATE_PASSWORD" -T /usr/bin/codesign -t cert -f pkcs12 -k "$keychain"
rm -f "$cert"
security set-key-partition-list -S apple-tool:,apple:,codesign: -s -k "$keychain_password" "$keychain" >/dev/null

while IFS= read -r line; do
  line="${line#"${line%%[![:space:]]*}"}"  # leading blanks
  line="${line%\"}"
  line="${line#\"}"
  if [ -n "$line" ]; then search_list+=("$line"); fi
done < <(security list-keychains -d user)
search_list_changed=1
security list-keychains -d user -s "$keychain" ${search_list[@]+"${search_list[@]}"}

printf '%s' "$NOTARY_API_KEY_P8" > "$key"
xcrun notarytool store-credentials facemirror-notary --key "$key" --key-id "$NOTARY_API_KEY_ID" \
  --issuer "$NOTARY_API_ISSUER" --keychain "$keychain"
rm -f "$key"

export FACEMIRROR_NOTARY_PROFILE=facemirror-notary
export FACEMIRROR_NOTARY_KEYCHAIN="$keychain"
# Not exec: the trap must run after the command.
"$@"
