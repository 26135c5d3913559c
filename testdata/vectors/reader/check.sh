#!/bin/sh
# Run the independent reader over every case of testdata/vectors/cases and compare its
# conclusions with the case's `expect` file (result exactly; finding and missing lines as
# sets).  Cases without `deep: true` are run both without and with --deep; both must match.
# Prints one line per case and exits non-zero when any case differs.
set -u
here=$(cd "$(dirname "$0")" && pwd)
vectors=$(dirname "$here")
cases="$vectors/cases"
key="$vectors/keys/vector.pub"
python=${PYTHON:-/usr/bin/python3}
reader="$here/reader.py"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
export LC_ALL=C

# normalise: result line, then sorted unique finding/missing lines
norm() {
    grep '^result: ' "$1" | head -n 1
    grep -E '^(finding|missing): ' "$1" | sort -u
}

status=0
total=0
agree=0
for dir in "$cases"/*; do
    [ -d "$dir" ] || continue
    case=$(basename "$dir")
    [ -f "$dir/expect" ] || continue
    total=$((total + 1))
    # volume directories of the case, sorted
    set --
    for v in "$dir"/*; do      # LC_ALL=C: bytewise order
        [ -d "$v" ] && set -- "$@" "$v"
    done
    grep -v '^#' "$dir/expect" | sed 's/[[:space:]]*$//' | grep -v '^$' > "$tmp/expect.raw"
    norm "$tmp/expect.raw" > "$tmp/expect"
    if grep -qx 'deep: true' "$tmp/expect.raw"; then
        modes="--deep"
    else
        modes="- --deep"
    fi
    case_ok=1
    msg=""
    for mode in $modes; do
        if [ "$mode" = "-" ]; then
            label="check"
            "$python" "$reader" --trust "$key" "$@" > "$tmp/out" 2> "$tmp/err"
            rc=$?
        else
            label="deep"
            "$python" "$reader" --trust "$key" --deep "$@" > "$tmp/out" 2> "$tmp/err"
            rc=$?
        fi
        norm "$tmp/out" > "$tmp/got"
        want_rc=1
        grep -qx 'result: ok' "$tmp/expect" && want_rc=0
        if ! cmp -s "$tmp/expect" "$tmp/got" || [ "$rc" != "$want_rc" ]; then
            case_ok=0
            d=$(diff "$tmp/expect" "$tmp/got" | grep '^[<>]' | sed 's/^</expected:/; s/^>/got:/' | tr '\n' ';')
            [ "$rc" != "$want_rc" ] && d="$d exit $rc (want $want_rc);"
            msg="$msg [$label] $d"
        fi
    done
    if [ $case_ok = 1 ]; then
        agree=$((agree + 1))
        echo "OK   $case"
    else
        echo "DIFF $case:$msg"
        status=1
    fi
done
echo "$agree of $total cases agree"
exit $status
