# shellcheck shell=bash
# Sourced by entrypoint.sh and ci-migrate.sh: run the runner as a child and pass SIGTERM/SIGINT
# on to it. A script that is PID 1 (docker stop, Kubernetes) or tini's child (docker run --init,
# compose init: true) gets the stop signal, not the runner: bash waiting for a foreground command
# would not pass it on, and the runner would be SIGKILLed mid-migration at the end of the grace
# period. In the background it gets the signal, stops cleanly (its step rolled back, its lock
# released) and exits 143/130. A signal interrupts `wait`; the loop then waits for the runner's
# own exit. env --default-signal: a background child of a non-interactive shell starts with SIGINT
# ignored, and .NET keeps an ignored SIGINT ignored.

# shellcheck disable=SC2034 # stop_signal and code are read by the scripts that source this one
stop_signal="" # TERM or INT once one arrived
child=""

forward() {
  stop_signal="$1"
  if [ -n "$child" ]; then
    kill -s "$1" "$child" 2>/dev/null || true
  fi
}
trap 'forward TERM' TERM
trap 'forward INT' INT

# shellcheck disable=SC2034
run_forwarding_signals() { # "$@": the command; sets $code to its exit code
  env --default-signal=INT "$@" &
  child=$!
  code=0
  while :; do
    code=0
    wait "$child" || code=$?
    kill -0 "$child" 2>/dev/null || break
  done
  child=""
}

# The exit code for the signal that arrived: 143 (TERM) or 130 (INT).
signal_exit_code() {
  if [ "$stop_signal" = INT ]; then echo 130; else echo 143; fi
}
