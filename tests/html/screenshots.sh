#!/usr/bin/env bash
# Regenerates the screenshots under samples/screenshots/ that the README links: the top of the
# mixed sample's HTML report (time strip, summary, failure index) and the keep-alive race's
# failure (its sequence diagram). Needs chromium; run after changing the HTML report.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build -q -p albscope-cli
bin=target/debug/albscope
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
shot() { # shot OUT.png WIDTH,HEIGHT PAGE.html
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$tmp/profile" --screenshot="$1" --window-size="$2" \
    "file://$3" >/dev/null 2>&1
}
mkdir -p samples/screenshots
"$bin" analyze samples/mixed.pcap --format html -o "$tmp/mixed.html"
shot samples/screenshots/mixed.png 1240,1150 "$tmp/mixed.html"
# The keep-alive race: the page's head and the failure's section only.
"$bin" analyze samples/keepalive_race.pcap --format html -o "$tmp/race.html"
{
  sed -n '1,/<main>/p' "$tmp/race.html"
  awk '/<section class="req"/,/<\/section>/' "$tmp/race.html"
  echo '</main></body></html>'
} >"$tmp/race-failure.html"
shot samples/screenshots/keepalive_race.png 1240,1060 "$tmp/race-failure.html"
ls -l samples/screenshots/
