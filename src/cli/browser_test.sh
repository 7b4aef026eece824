#!/usr/bin/env bash
# Goal: what the lab shows in a browser is there and works in a real one.
# A failure mode's report shows its violation and the events that prove it,
# linked both ways (click the violation: its job's events are marked; click
# one of them: the violation is focused). The dashboard of a live queue
# shows the jobs the test enqueued, and a redrive clicked on its dead-letter
# page takes effect in the store.
# Method: headless Chromium (Debian's chromium and chromium-driver) driven
# through WebDriver's HTTP protocol with curl and jq; the DOM is read back
# after each click. With SHOTS=DIR, each page's screenshot is written there
# (docs/img/ holds the ones the README shows: `make screenshots`).
# Usage: browser_test.sh LAB
set -uo pipefail
LAB="$1"
SHOTS="${SHOTS:-}"
failures=0
for tool in chromium chromedriver jq curl; do
  if ! command -v "$tool" >/dev/null; then
    echo "FAIL: $tool is not installed (scripts/install-deps.sh installs it)"; exit 1
  fi
done
tmp="$(mktemp -d)"
driver="" ui="" worker="" session=""
cleanup() {
  [ -n "$session" ] && curl -s -X DELETE "$wd/session/$session" >/dev/null
  [ -n "$ui" ] && kill "$ui" 2>/dev/null
  # Twice: the second signal kills the job's command too.
  [ -n "$worker" ] && kill "$worker" 2>/dev/null && sleep 0.2 && kill "$worker" 2>/dev/null
  [ -n "$driver" ] && kill "$driver" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# ChromeDriver on a free loopback port.
for _ in $(seq 20); do
  port=$((20000 + RANDOM % 40000))
  chromedriver --port="$port" --allowed-ips=127.0.0.1 >"$tmp/driver.log" 2>&1 &
  driver=$!
  wd="http://127.0.0.1:$port"
  for _ in $(seq 50); do curl -fsS "$wd/status" >/dev/null 2>&1 && break 2; sleep 0.1; done
  kill "$driver" 2>/dev/null; driver=""
done
[ -n "$driver" ] || { echo "FAIL: chromedriver did not start"; cat "$tmp/driver.log"; exit 1; }

# call METHOD PATH [JSON]: WebDriver's answer's "value".
call() {
  local out
  out="$(curl -sS -X "$1" -H 'Content-Type: application/json' ${3:+-d "$3"} "$wd$2")" || return 1
  if jq -e '.value.error? // empty' <<<"$out" >/dev/null; then
    echo "webdriver: $(jq -r '.value.message' <<<"$out" | head -1)" >&2; return 1
  fi
  jq -c '.value' <<<"$out"
}
opts='"--headless=new","--no-sandbox","--disable-gpu","--disable-dev-shm-usage","--window-size=1300,1000","--hide-scrollbars"'
session="$(call POST /session "{\"capabilities\":{\"alwaysMatch\":{\"browserName\":\"chrome\",\"goog:chromeOptions\":{\"binary\":\"$(command -v chromium)\",\"args\":[$opts]}}}}" | jq -r '.sessionId')"
[ -n "$session" ] && [ "$session" != null ] || { echo "FAIL: no browser session"; cat "$tmp/driver.log"; exit 1; }
s="/session/$session"
open() { call POST "$s/url" "$(jq -nc --arg u "$1" '{url: $u}')" >/dev/null; }
# js EXPR: the expression's value in the page, as JSON.
js() { call POST "$s/execute/sync" "$(jq -nc --arg e "return $1;" '{script: $e, args: []}')"; }
# click CSS: a real click (WebDriver scrolls it into view and clicks its centre).
click() {
  local el
  el="$(call POST "$s/element" "$(jq -nc --arg c "$1" '{using: "css selector", value: $c}')" |
    jq -r '.[]')" || return 1
  call POST "$s/element/$el/click" '{}' >/dev/null
}
shot() { [ -n "$SHOTS" ] && call GET "$s/screenshot" | jq -r . | base64 -d >"$SHOTS/$1"; }

# 1. A failure mode's report: FM_001's baseline violates INV_001.
"$LAB" run FM_001 --store memory: --html "$tmp/fm001.html" >/dev/null
open "file://$tmp/fm001.html"
[ "$(js "document.querySelectorAll('#baseline ol.violations > li').length > 0")" = true ] ||
  fail "report: no violation listed in the baseline"
js "document.querySelector('#baseline-v0').innerText" | grep -q 'INV_001' ||
  fail "report: the first violation is not INV_001's"
job="$(js "document.querySelector('#baseline-v0').dataset.job" | jq -r .)"
[ "$(js "document.querySelectorAll('#baseline svg .mark.violated[data-job=\"$job\"]').length > 0")" = true ] ||
  fail "report: the violated job's events are not ringed"
# The duplicate charge itself: two effects on the external system's lane.
[ "$(js "document.querySelectorAll('#baseline svg circle.mark.effect[data-job=\"$job\"]').length")" = 2 ] ||
  fail "report: the external system's lane does not show the job's two effects"
[ "$(js "document.querySelectorAll('#baseline .hit').length")" = 0 ] || fail "report: marked before any click"
click '#baseline-v0' || fail "report: cannot click the violation"
[ "$(js "document.querySelectorAll('#baseline svg .hit').length > 0 && [...document.querySelectorAll('#baseline svg .hit')].every(e => e.dataset.job === '$job')")" = true ] ||
  fail "report: clicking the violation did not mark its job's events (and only them)"
shot report.png
[ "$(js "document.querySelectorAll('#baseline li.focus').length")" = 0 ] || fail "report: focused before any click"
click "#baseline svg circle.mark.violated[data-job=\"$job\"]" || fail "report: cannot click an evidence mark"
[ "$(js "document.querySelector('#baseline li.focus') === document.querySelector('#baseline-v0')")" = true ] ||
  fail "report: clicking an evidence mark did not focus its violation"

# 2. The dashboard of a live SQLite queue.
db="sqlite:$tmp/q.db"
for i in 1 2 3; do "$LAB" queue enqueue --db "$db" --queue mail --key "receipt-$i" "mail $i" >/dev/null; done
"$LAB" queue work --db "$db" --queue mail --drain >/dev/null 2>&1
dead="$("$LAB" queue enqueue --db "$db" --queue billing --max-attempts 1 "charge 42")"
"$LAB" queue work --db "$db" --queue billing --exec 'echo card declined >&2; exit 1' --drain \
  >/dev/null 2>&1
"$LAB" queue enqueue --db "$db" --queue mail "mail 4" >/dev/null
# A worker holding a lease while the page is read.
"$LAB" queue enqueue --db "$db" --queue reports "quarterly" >/dev/null
"$LAB" queue work --db "$db" --queue reports --name east-1 --exec 'sleep 60' >/dev/null 2>&1 &
worker=$!
for _ in $(seq 100); do
  "$LAB" queue stats --db "$db" | grep -Eq '^reports +RUNNING +1$' && break
  sleep 0.1
done
"$LAB" queue ui --db "$db" --listen 127.0.0.1:0 >/dev/null 2>"$tmp/ui.err" &
ui=$!
base=""
for _ in $(seq 100); do base="$(grep -o 'http://127.0.0.1:[0-9]*' "$tmp/ui.err")" && break; sleep 0.1; done
[ -n "$base" ] || { echo "FAIL: queue ui did not start"; cat "$tmp/ui.err"; exit 1; }
open "$base/"
row() { js "[...document.querySelectorAll('tr[data-queue=\"$1\"] td')].map(td => td.innerText.trim()).slice(1, 6).join(' ')" | jq -r .; }
[ "$(row mail)" = "1 0 3 0 0" ] || fail "dashboard: mail's row is '$(row mail)', want PENDING 1, SUCCEEDED 3"
[ "$(row billing)" = "0 0 0 1 0" ] || fail "dashboard: billing's row is '$(row billing)', want DEAD 1"
js "document.querySelector('h3.worker') && document.querySelector('h3.worker').innerText" |
  grep -q 'east-1/0 · 1 lease' || fail "dashboard: the running worker and its lease are not shown"
shot dashboard.png
click 'nav a[href="/jobs?state=DEAD"]' || fail "dashboard: no link to the dead letters"
js "document.querySelector('table.jobs').innerText" | grep -q 'command exited with status 1' ||
  fail "dashboard: the dead letter's last error is not shown"
click "button.redrive[data-job=\"$dead\"]" || fail "dashboard: no redrive button for job $dead"
[ "$(js "location.pathname")" = "\"/job/$dead\"" ] || fail "dashboard: the redrive did not lead to the job's page"
js "document.querySelector('.banner') && document.querySelector('.banner').innerText" | grep -q Redriven ||
  fail "dashboard: no word that the job was redriven"
[ "$(js "document.querySelector('td.state').innerText" | jq -r .)" = PENDING ] ||
  fail "dashboard: the job's page does not show it PENDING"
"$LAB" queue inspect --db "$db" "$dead" | grep -q 'state PENDING' ||
  fail "dashboard: the store does not hold the redrive"
[ "$(js "document.querySelectorAll('section.run svg rect.lease').length")" = 1 ] ||
  fail "dashboard: the job's timeline lacks its one lease"
shot job.png

if [ "$failures" -ne 0 ]; then echo "$failures browser check(s) failed"; exit 1; fi
echo "all browser checks passed"
