#!/bin/sh
# System packages the tests need, installed by `make setup` when missing (Debian/Ubuntu, as root).
# libfaketime: the nemesis's clock-skew fault (tests/nemesis); iproute2: the netns testnet.
# Without root or apt-get this only says what is missing: the tests that need it then fail loudly.
set -u
missing=""
found=""
for lib in /usr/lib/*/faketime/libfaketimeMT.so.1 /usr/lib/faketime/libfaketimeMT.so.1; do
    [ -e "$lib" ] && found="$lib"
done
[ -n "$found" ] || missing="$missing faketime"
command -v ip >/dev/null 2>&1 || missing="$missing iproute2"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing system packages:$missing"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null \
        || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null; } \
        || { echo "error: could not install$missing" >&2; exit 1; }
else
    echo "warning: missing system packages:$missing (install them as root: apt-get install$missing);" \
        "the netns and nemesis tests will fail without them" >&2
fi
