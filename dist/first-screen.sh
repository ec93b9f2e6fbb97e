#!/usr/bin/env bash
# Clone to first screen: how long a new user waits between `git clone` and the demo's first
# frame when following the README (`cargo run --release -- --demo`).
#
#   dist/first-screen.sh REPO WORKDIR [cold|warm]
#
# Clones REPO into WORKDIR/clone (a cold target folder), then runs the README's first command
# in a detached tmux (120×40, its own server socket) and polls the screen every second until
# the demo's header shows. `cold` (the default) gives cargo an empty CARGO_HOME, so every crate
# is downloaded as on a new machine; `warm` uses the current one. Prints the wall time, the CPU
# time of the build (user + system, all processes), the load averages before and after, and
# leaves cargo's build timings (`cargo build --timings`) in WORKDIR/clone/target/cargo-timings.
# The machine is shared, so compare figures only with ones taken under similar load.
set -euo pipefail
repo=${1:?usage: first-screen.sh REPO WORKDIR [cold|warm]}
work=${2:?usage: first-screen.sh REPO WORKDIR [cold|warm]}
cache=${3:-cold}
sock="first-screen-$$"

mkdir -p "$work"
work=$(cd "$work" && pwd)
rm -rf "$work/clone" "$work/cargo-home"
if [ "$cache" = cold ]; then
    mkdir -p "$work/cargo-home"
    export CARGO_HOME="$work/cargo-home"
fi
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s.%N)
git clone -q "$repo" "$work/clone"
cd "$work/clone"
# `cargo run` is the README's command; --timings adds cargo's per-crate report beside it.
# The build's own CPU time is measured by bash's `times` inside the session.
tmux -L "$sock" new-session -d -x 120 -y 40 \
    "bash -c 'cargo run --release --timings -- --demo 2>$work/cargo.log; times > $work/times.txt'"
trap 'tmux -L "$sock" kill-server 2>/dev/null || true' EXIT
while :; do
    if tmux -L "$sock" capture-pane -p 2>/dev/null | grep -q 'REPLAY'; then
        break
    fi
    if ! tmux -L "$sock" has-session 2>/dev/null; then
        echo "the command ended before the first screen; see $work/cargo.log" >&2
        exit 1
    fi
    sleep 1
done
end=$(date +%s.%N)
tmux -L "$sock" capture-pane -p > "$work/first-screen.txt"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
tmux -L "$sock" send-keys q
sleep 2
# `times` prints the shell's and its children's user/system time; the children line is cargo's.
cpu=$(sed -n 2p "$work/times.txt" 2>/dev/null || echo "?")
printf 'clone to first screen: %.0f s wall; build CPU (children user, system): %s; cargo home: %s\n' \
    "$(echo "$end - $start" | bc)" "$cpu" "$cache"
