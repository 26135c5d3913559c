#!/bin/sh
# Makes the signify test vector of a passphrase-protected secret key, with the real
# signify (Debian: signify-openbsd). signify reads the passphrase only from a terminal,
# so `script` gives it one and the passphrase is typed into it.
# TEST ONLY: the passphrase is below; never sign anything real with this key.
# Run from any directory; rewrites protected.pub, protected.sec, message, message.sig.
set -eu
cd "$(dirname "$0")"
rm -f protected.pub protected.sec message.sig
pass='correct horse battery staple'
comment='ferry test vector: protected by the passphrase correct horse battery staple'
(sleep 1; printf '%s\n' "$pass"; sleep 1; printf '%s\n' "$pass"; sleep 1) |
    script -qec "signify-openbsd -G -p protected.pub -s protected.sec -c '$comment'" /dev/null >/dev/null
printf 'signed by the protected test key\n' > message
(sleep 1; printf '%s\n' "$pass"; sleep 1) |
    script -qec "signify-openbsd -S -s protected.sec -m message -x message.sig" /dev/null >/dev/null
signify-openbsd -V -p protected.pub -m message -x message.sig
printf '%s\n' "$pass" > passphrase
