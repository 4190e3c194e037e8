#!/usr/bin/env bash
# Build, sign, notarize and package FaceMirror.app for Apple Silicon (see packaging/README.md).
#
#   packaging/build_macos.sh [--dry-run] [--no-notarize] [--skip-build] [--no-dmg] [--ci-runtime] [--resume]
#
# Steps: PyInstaller build from FaceMirror.spec -> sign every Mach-O file inside-out with the
# hardened runtime -> sign the .app with the entitlements -> verify -> notarize + staple the app
# -> DMG -> sign, notarize + staple the DMG -> Gatekeeper assessment.
#
#   --ci-runtime  ad-hoc test builds (FACEMIRROR_CODESIGN_IDENTITY=-) get the hardened runtime too,
#                 with packaging/entitlements-ci.plist (the release entitlements plus
#                 com.apple.security.cs.disable-library-validation, without which the runtime
#                 refuses the bundle's teamless ad-hoc dylibs): the runtime is exercised before a tag.
#                 A Developer ID signature never takes that key (releases stay strict).
#   --resume      a notarization that timed out: wait again for the submission IDs saved in
#                 DIST_DIR/notary-state/ (`notarytool wait`), then staple and go on; the signed app
#                 (and DMG) of the first run are reused, never rebuilt or re-signed.
#
# Environment:
#   FACEMIRROR_CODESIGN_IDENTITY  required: "Developer ID Application: NAME (TEAMID)";
#                                 "-" signs ad hoc (local test builds; needs --no-notarize)
#   FACEMIRROR_NOTARY_PROFILE     required unless --no-notarize: keychain profile made once with
#                                 `xcrun notarytool store-credentials PROFILE ...`
#   FACEMIRROR_NOTARY_KEYCHAIN    keychain holding that profile, when not the login keychain (CI)
#   FACEMIRROR_ENTITLEMENTS       entitlements file (default: packaging/entitlements.plist;
#                                 with --ci-runtime packaging/entitlements-ci.plist)
#   DIST_DIR, BUILD_DIR           PyInstaller output and work folders (default: dist/, build/)
#   PYINSTALLER                   PyInstaller command (default: pyinstaller on PATH)
#   DRY_RUN=1                     same as --dry-run
#   FACEMIRROR_SPEC_REQUIRE_MODELS  passed to the spec; default 1 (a release must carry real models,
#                                 each verified against a pinned sha256)
#   FACEMIRROR_SPEC_CHECKPOINT_SHA256_STAR, ..._RETINAFACE
#                                 read by the spec: the checkpoint each model must come from (unless
#                                 the manifest pins it)
#   FACEMIRROR_SPEC_DETECTOR_ONLY=1  read by the spec: build without STAR on purpose
#   FACEMIRROR_RETRIES            attempts for steps that fail intermittently: `codesign --timestamp`
#                                 (Apple's timestamp service) and `hdiutil create` ("Resource busy");
#                                 default 4
#   FACEMIRROR_NOTARY_TIMEOUT     notarytool --timeout for each submission (default 30m)
#   FACEMIRROR_RETRY_DELAY        seconds before the second attempt, doubled after each failure; default 15
#
# Written for the bash 3.2 that macOS ships: no associative arrays, no mapfile.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
APP_NAME="FaceMirror"
TAB=$'\t'
NL=$'\n'

die() { echo "build_macos.sh: error: $*" >&2; exit 1; }
log() { echo "==> $*"; }

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
}

DRY_RUN="${DRY_RUN:-0}"
NOTARIZE=1
BUILD=1
MAKE_DMG=1
CI_RUNTIME=0
RESUME=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --no-notarize) NOTARIZE=0 ;;
    --skip-build) BUILD=0 ;;
    --no-dmg) MAKE_DMG=0 ;;
    --ci-runtime) CI_RUNTIME=1 ;;
    --resume) RESUME=1; BUILD=0 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
  shift
done
case "$DRY_RUN" in 1|true|yes) DRY_RUN=1 ;; *) DRY_RUN=0 ;; esac

# ---- configuration and its checks, before anything runs
IDENTITY="${FACEMIRROR_CODESIGN_IDENTITY:-}"
PROFILE="${FACEMIRROR_NOTARY_PROFILE:-}"
NOTARY_KEYCHAIN="${FACEMIRROR_NOTARY_KEYCHAIN:-}"
if [ "$CI_RUNTIME" = 1 ]; then
  ENTITLEMENTS="${FACEMIRROR_ENTITLEMENTS:-$HERE/entitlements-ci.plist}"
else
  ENTITLEMENTS="${FACEMIRROR_ENTITLEMENTS:-$HERE/entitlements.plist}"
fi
DIST_DIR="${DIST_DIR:-$ROOT/dist}"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
PYINSTALLER="${PYINSTALLER:-pyinstaller}"
APP="$DIST_DIR/$APP_NAME.app"

[ -n "$IDENTITY" ] || die "FACEMIRROR_CODESIGN_IDENTITY is not set. Set it to your signing identity, e.g.
  export FACEMIRROR_CODESIGN_IDENTITY=\"Developer ID Application: Your Name (TEAMID)\"
(\`security find-identity -v -p codesigning\` lists them), or to - for an ad-hoc test build with --no-notarize."
if [ "$IDENTITY" = "-" ] && [ "$NOTARIZE" = 1 ]; then
  die "an ad-hoc signature (FACEMIRROR_CODESIGN_IDENTITY=-) cannot be notarized; add --no-notarize"
fi
if [ "$NOTARIZE" = 1 ] && [ -z "$PROFILE" ]; then
  die "FACEMIRROR_NOTARY_PROFILE is not set. Create a keychain profile once with
  xcrun notarytool store-credentials facemirror-notary --apple-id YOU@EXAMPLE.COM --team-id TEAMID
then export FACEMIRROR_NOTARY_PROFILE=facemirror-notary (or pass --no-notarize for a local build)."
fi
[ -f "$ENTITLEMENTS" ] || die "entitlements file not found: $ENTITLEMENTS (FACEMIRROR_ENTITLEMENTS)"
# Releases stay strict: a Developer ID signature never carries the CI-only exception, and the CI
# runtime is for ad-hoc test builds only (which need that exception to start at all).
NO_LIBRARY_VALIDATION="com.apple.security.cs.disable-library-validation"
if [ "$IDENTITY" != "-" ]; then
  [ "$CI_RUNTIME" = 0 ] || die "--ci-runtime is for ad-hoc test builds (FACEMIRROR_CODESIGN_IDENTITY=-); a release is signed with packaging/entitlements.plist"
  if grep -q "<key>$NO_LIBRARY_VALIDATION</key>" "$ENTITLEMENTS"; then
    die "$ENTITLEMENTS disables library validation: a release never does (use packaging/entitlements.plist)"
  fi
elif [ "$CI_RUNTIME" = 1 ] && ! grep -q "<key>$NO_LIBRARY_VALIDATION</key>" "$ENTITLEMENTS"; then
  die "--ci-runtime needs $NO_LIBRARY_VALIDATION in $ENTITLEMENTS: the hardened runtime refuses the ad-hoc bundle's teamless dylibs without it"
fi

VERSION="$(sed -n "s/^__version__[[:space:]]*=[[:space:]]*['\"]\([^'\"]*\)['\"].*/\1/p" "$ROOT/app/__init__.py" | head -n 1)"
[ -n "$VERSION" ] || die "cannot read __version__ from $ROOT/app/__init__.py"
DMG="$DIST_DIR/$APP_NAME-$VERSION-arm64.dmg"
NOTARY_ZIP="$DIST_DIR/$APP_NAME-$VERSION-notarize.zip"
STAGE="$DIST_DIR/.dmg-staging"
# Submission IDs (KIND.id) and finished steps (KIND.done) of this release's notarizations, so a
# run that timed out can be resumed with --resume (CI: the job re-run restores DIST_DIR).
STATE="$DIST_DIR/notary-state"
if [ "$RESUME" = 1 ]; then
  [ "$NOTARIZE" = 1 ] || die "--resume continues a notarization; it cannot be combined with --no-notarize"
  [ "$DRY_RUN" = 1 ] || [ -s "$STATE/app.id" ] || [ -f "$STATE/app.done" ] \
    || die "--resume: no saved notarization in $STATE (run without --resume to build and submit)"
fi

if [ "$DRY_RUN" = 0 ]; then
  needed="codesign xcrun ditto xattr"
  if [ "$MAKE_DMG" = 1 ]; then needed="$needed hdiutil"; fi
  if [ "$NOTARIZE" = 1 ]; then needed="$needed spctl"; fi
  if [ "$BUILD" = 1 ]; then needed="$needed $PYINSTALLER"; fi
  for tool in $needed; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found: this script runs on macOS with Xcode's command line tools (and PyInstaller from the project's venv)"
  done
fi

# Every command that changes something goes through run: printed, then executed unless this is
# a dry run.
run() {
  printf '+'
  printf ' %q' "$@"
  printf '\n'
  if [ "$DRY_RUN" = 0 ]; then
    "$@"
  fi
}

RETRIES="${FACEMIRROR_RETRIES:-4}"
RETRY_DELAY="${FACEMIRROR_RETRY_DELAY:-15}"
case "$RETRIES" in ''|*[!0-9]*|0) die "FACEMIRROR_RETRIES must be a positive number, not '$RETRIES'" ;; esac
case "$RETRY_DELAY" in ''|*[!0-9]*) die "FACEMIRROR_RETRY_DELAY must be a number of seconds, not '$RETRY_DELAY'" ;; esac

# retry LABEL CMD...: run the command; if it fails, wait and run it again, RETRIES attempts in
# all, the wait doubling each time (15, 30, 60 s by default).
retry() {
  local label="$1" attempt=1 delay="$RETRY_DELAY"
  shift
  while ! run "$@"; do
    if [ "$attempt" -ge "$RETRIES" ]; then
      die "$label failed $attempt times; giving up"
    fi
    log "$label failed (attempt $attempt of $RETRIES); trying again in ${delay}s"
    sleep "$delay"
    attempt=$((attempt + 1))
    delay=$((delay * 2))
  done
}

# codesign flags for code: hardened runtime (required for notarization) and a secure timestamp.
# Ad-hoc builds get neither by default: an ad-hoc signature has no Team ID, so the hardened
# runtime's library validation refuses to load the bundle's own (equally teamless) dylibs
# ("different Team IDs") and the app dies at its first import. Releases keep the strict path.
# --ci-runtime: ad-hoc with the hardened runtime (and the CI entitlements' library-validation
# exception), so pull requests run what a release runs.
SIGN_FLAGS=(--force)
if [ "$IDENTITY" != "-" ]; then
  SIGN_FLAGS+=(--options runtime --timestamp)
elif [ "$CI_RUNTIME" = 1 ]; then
  SIGN_FLAGS+=(--options runtime)
fi
SIGN_FLAGS+=(--sign "$IDENTITY")
# How long notarytool waits for Apple's answer before giving up (each of two submissions; the CI
# job has 150 minutes, and a timeout is resumed with --resume).
NOTARY_TIMEOUT="${FACEMIRROR_NOTARY_TIMEOUT:-30m}"

# A secure timestamp needs Apple's timestamp server, which fails now and then: retried.
sign() {
  if [ "$IDENTITY" != "-" ]; then
    retry "codesign --timestamp (${*: -1})" codesign "${SIGN_FLAGS[@]}" "$@"
  else
    run codesign "${SIGN_FLAGS[@]}" "$@"
  fi
}

is_macho() {
  local magic
  magic="$(od -An -tx1 -N4 "$1" 2>/dev/null | tr -d ' \n')"
  case "$magic" in
    cffaedfe|cefaedfe|feedfacf|feedface|cafebabe|cafebabf) return 0 ;;
  esac
  return 1
}

# Paths sorted deepest first (then by name, so runs are reproducible).
deepest_first() {
  awk -F/ '{ printf "%d\t%s\n", NF, $0 }' | LC_ALL=C sort -t "$TAB" -k1,1nr -k2 | cut -f2-
}

NOTARY_AUTH=(--keychain-profile "$PROFILE")
if [ -n "$NOTARY_KEYCHAIN" ]; then
  NOTARY_AUTH+=(--keychain "$NOTARY_KEYCHAIN")
fi

json_field() {  # json_field NAME: the first "NAME": "value" of notarytool's JSON on stdin
  sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p" | head -n 1
}

# notarize FILE KIND: submit FILE (or take the ID a timed-out run saved in $STATE/KIND.id), wait
# for Apple's answer, fail unless Accepted. The ID is saved before waiting, so a timeout leaves
# what --resume needs.
notarize() {
  local file="$1" kind="$2" out id status
  if [ "$DRY_RUN" = 1 ]; then
    run xcrun notarytool submit "$file" "${NOTARY_AUTH[@]}" --output-format json
    run xcrun notarytool wait SUBMISSION_ID "${NOTARY_AUTH[@]}" --timeout "$NOTARY_TIMEOUT" --output-format json
    return 0
  fi
  if [ -s "$STATE/$kind.id" ]; then
    id="$(cat "$STATE/$kind.id")"
    log "resuming the notarization of $(basename "$file"): submission $id"
  else
    log "submitting $(basename "$file") for notarization"
    if ! out="$(xcrun notarytool submit "$file" "${NOTARY_AUTH[@]}" --output-format json)"; then
      echo "$out" >&2
      die "xcrun notarytool submit failed for $file"
    fi
    echo "$out"
    id="$(printf '%s' "$out" | json_field id)"
    [ -n "$id" ] || die "notarytool submit printed no submission id for $file"
    mkdir -p "$STATE"
    printf '%s\n' "$id" > "$STATE/$kind.id.tmp" && mv "$STATE/$kind.id.tmp" "$STATE/$kind.id"
  fi
  log "waiting for Apple's answer on $id (usually a few minutes; at most $NOTARY_TIMEOUT)"
  out="$(xcrun notarytool wait "$id" "${NOTARY_AUTH[@]}" --timeout "$NOTARY_TIMEOUT" --output-format json)" || true
  echo "$out"
  status="$(printf '%s' "$out" | json_field status)"
  case "$status" in
    Accepted) ;;
    Invalid|Rejected)
      rm -f "$STATE/$kind.id"  # a refused submission cannot be resumed: the next run submits anew
      die "notarization of $(basename "$file") was not accepted ($status). Apple's log: xcrun notarytool log $id ${NOTARY_AUTH[*]}" ;;
    *)
      die "notarization of $(basename "$file") did not finish within $NOTARY_TIMEOUT (status: ${status:-unknown}). Submission $id is saved in $STATE/$kind.id: run again with --resume (CI: re-run the job) to wait for it and staple; nothing is rebuilt" ;;
  esac
}

done_step() { [ "$DRY_RUN" = 0 ] && [ -f "$STATE/$1.done" ]; }
mark_done() { if [ "$DRY_RUN" = 0 ]; then mkdir -p "$STATE" && : > "$STATE/$1.done"; fi; }

# A fresh run never inherits a previous run's submissions.
if [ "$RESUME" = 0 ] && [ -e "$STATE" ]; then
  run rm -rf "$STATE"
fi

# ---- 1. build
if [ "$BUILD" = 1 ]; then
  log "building $APP_NAME $VERSION with PyInstaller"
  # PyInstaller signs ad hoc here; the real signature is applied below, once, inside-out.
  run env FACEMIRROR_CODESIGN_IDENTITY= FACEMIRROR_ENTITLEMENTS= \
    FACEMIRROR_SPEC_REQUIRE_MODELS="${FACEMIRROR_SPEC_REQUIRE_MODELS:-1}" \
    "$PYINSTALLER" --clean --noconfirm --distpath "$DIST_DIR" --workpath "$BUILD_DIR" "$ROOT/FaceMirror.spec"
fi

if [ ! -d "$APP" ]; then
  if [ "$DRY_RUN" = 1 ]; then
    log "(dry run: $APP does not exist yet; the listing below shows only the outer steps)"
  else
    die "$APP not found (build it first, or check DIST_DIR)"
  fi
fi

# ---- 2. sign inside-out: loose Mach-O files, then frameworks, then the app
if [ "$RESUME" = 1 ]; then
  log "resuming: the app signed and submitted by the first run is reused as it is"
  run codesign --verify --deep --strict --verbose=2 "$APP"
else
log "signing with identity: $IDENTITY"
if [ -d "$APP" ]; then
  run xattr -cr "$APP"  # Finder info / resource forks make codesign fail

  frameworks=()
  while IFS= read -r fw; do
    frameworks+=("$fw")
  done < <(find "$APP/Contents" -type d -name '*.framework' | deepest_first)

  # A framework's own binary (X.framework/Versions/V/X) is signed with the framework itself.
  fw_binaries="$NL"
  if [ "${#frameworks[@]}" -gt 0 ]; then
    for fw in "${frameworks[@]}"; do
      name="$(basename "$fw" .framework)"
      for bin in "$fw"/Versions/*/"$name" "$fw/$name"; do
        if [ -f "$bin" ] && [ ! -L "$bin" ]; then
          fw_binaries="$fw_binaries$bin$NL"
        fi
      done
    done
  fi

  main_exe="$APP/Contents/MacOS/$APP_NAME"
  count=0
  while IFS= read -r f; do
    [ "$f" = "$main_exe" ] && continue
    case "$fw_binaries" in *"$NL$f$NL"*) continue ;; esac
    case "$f" in
      *.so|*.dylib) ;;
      *) is_macho "$f" || continue ;;
    esac
    sign "$f"
    count=$((count + 1))
  done < <(find "$APP/Contents" -type f | deepest_first)
  log "signed $count nested binaries"

  if [ "${#frameworks[@]}" -gt 0 ]; then
    for fw in "${frameworks[@]}"; do
      sign "$fw"
    done
  fi
fi

# The bundle last: this signs Contents/MacOS/FaceMirror with the entitlements and seals resources.
sign --entitlements "$ENTITLEMENTS" "$APP"
run codesign --verify --deep --strict --verbose=2 "$APP"
fi  # (not resuming)

# ---- 3. notarize and staple the app (the ticket travels inside the bundle)
if [ "$NOTARIZE" = 1 ] && done_step app; then
  log "the app is already notarized and stapled (saved state)"
elif [ "$NOTARIZE" = 1 ]; then
  if [ "$DRY_RUN" = 1 ] || [ ! -s "$STATE/app.id" ]; then
    run ditto -c -k --keepParent "$APP" "$NOTARY_ZIP"
  fi
  notarize "$NOTARY_ZIP" app
  run xcrun stapler staple "$APP"
  run xcrun stapler validate "$APP"
  run rm -f "$NOTARY_ZIP"
  mark_done app
fi

# ---- 4. disk image: the stapled app plus an Applications link to drag it onto
if [ "$MAKE_DMG" = 1 ] && [ "$NOTARIZE" = 1 ] && done_step dmg; then
  log "the disk image is already notarized and stapled (saved state)"
elif [ "$MAKE_DMG" = 1 ] && [ "$DRY_RUN" = 0 ] && [ -s "$STATE/dmg.id" ] && [ -f "$DMG" ]; then
  notarize "$DMG" dmg
  run xcrun stapler staple "$DMG"
  run xcrun stapler validate "$DMG"
  mark_done dmg
elif [ "$MAKE_DMG" = 1 ]; then
  log "creating $(basename "$DMG")"
  run rm -rf "$STAGE"
  run mkdir -p "$STAGE"
  run ditto "$APP" "$STAGE/$APP_NAME.app"
  run ln -s /Applications "$STAGE/Applications"
  # -ov replaces a partial image left by a failed attempt.
  retry "hdiutil create" hdiutil create -volname "$APP_NAME" -srcfolder "$STAGE" -ov -format UDZO "$DMG"
  run rm -rf "$STAGE"
  # A disk image is not code: no hardened runtime, but signed and timestamped.
  if [ "$IDENTITY" = "-" ]; then
    run codesign --force --sign "$IDENTITY" "$DMG"
  else
    retry "codesign --timestamp (DMG)" codesign --force --timestamp --sign "$IDENTITY" "$DMG"
  fi
  if [ "$NOTARIZE" = 1 ]; then
    notarize "$DMG" dmg
    run xcrun stapler staple "$DMG"
    run xcrun stapler validate "$DMG"
    mark_done dmg
  fi
fi

# ---- 5. what Gatekeeper will say on a user's Mac
if [ "$NOTARIZE" = 1 ]; then
  run spctl --assess --type execute --verbose "$APP"
  if [ "$MAKE_DMG" = 1 ]; then
    run spctl -a -t open --context context:primary-signature -v "$DMG"
  fi
else
  log "not notarized: skipping the Gatekeeper assessment (spctl rejects unnotarized apps)"
fi

log "done: $APP"
if [ "$MAKE_DMG" = 1 ]; then
  log "disk image: $DMG"
fi
