#!/usr/bin/env bash
# Run ferry's tests. Installs the Debian packages the tests drive for real when they are
# missing (rpm, createrepo-c, dnf, signify-openbsd, gnupg and gpgv, for the independent reader of
# the test vectors python3-nacl and python3-zstandard, for the browser test chromium and
# chromium-driver, openssl for test certificates), and schemathesis and productmd from PyPI
# into target/test-venv for the API and kickstart tests, then
# runs every test in release mode (the tests move real data).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

need=()
command -v rpmbuild >/dev/null || need+=(rpm)
command -v createrepo_c >/dev/null || need+=(createrepo-c)
command -v modifyrepo_c >/dev/null || need+=(createrepo-c)
command -v dnf >/dev/null || need+=(dnf)
command -v signify-openbsd >/dev/null || need+=(signify-openbsd)
command -v gpg >/dev/null || need+=(gnupg)
command -v gpgv >/dev/null || need+=(gpgv)
/usr/bin/python3 -c 'import nacl.signing' 2>/dev/null || need+=(python3-nacl)
/usr/bin/python3 -c 'import zstandard' 2>/dev/null || need+=(python3-zstandard)
command -v openssl >/dev/null || need+=(openssl)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
/usr/bin/python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
if ((${#need[@]})); then
    echo "installing test dependencies: ${need[*]}" >&2
    sudo=()
    [[ $(id -u) == 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# schemathesis exercises the server's OpenAPI document (tests/integration/openapi.rs);
# productmd writes and reads the kickstart trees' .treeinfo (tests/integration/kickstart.rs;
# Debian 12 has no python3-productmd).
venv=target/test-venv
if [[ ! -x $venv/bin/schemathesis ]]; then
    echo "installing schemathesis into $venv" >&2
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install -q 'schemathesis>=4,<5'
fi
if ! "$venv/bin/python3" -c 'import productmd.treeinfo' 2>/dev/null; then
    echo "installing productmd into $venv" >&2
    "$venv/bin/pip" install -q 'productmd>=1.38,<2'
fi
export PATH="$PWD/$venv/bin:$PATH"

cargo test --release --locked "$@"
