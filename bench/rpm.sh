# Sourced by the benchmarks.

# write_catalog FILE NAME: a catalog of one repository, $LIB, in organization "bench".
write_catalog() {
    cat > "$1" <<CAT
organization = "bench"
[[product]]
label = "bench"
name = "Benchmark"
[[product.repository]]
label = "repo"
name = "$2"
path = "$LIB"
CAT
}

# make_rpm I: build the RPM bench$I, holding $RPM_MB MB of random
# bytes stored uncompressed (like the incompressible payloads of real packages), into
# $LIB/Packages.
make_rpm() {
    local i=$1 W
    W=$(mktemp -d)
    mkdir -p "$W/SOURCES" "$W/SPECS" "$LIB/Packages"
    head -c $((RPM_MB << 20)) /dev/urandom > "$W/SOURCES/blob$i.bin"
    cat > "$W/SPECS/b$i.spec" <<SPEC
Name: bench$i
Version: 1
Release: 1
Summary: benchmark payload
License: none
BuildArch: noarch
Source0: blob$i.bin
%description
payload
%install
mkdir -p %{buildroot}/opt/bench
cp %{SOURCE0} %{buildroot}/opt/bench/
%files
/opt/bench/blob$i.bin
SPEC
    HOME=$W rpmbuild --quiet -bb --define "_topdir $W" --define "_binary_payload w0.ufdio" \
        --define "_build_id_links none" "$W/SPECS/b$i.spec" 2>/dev/null
    mv "$W"/RPMS/noarch/*.rpm "$LIB/Packages/"
    rm -rf "$W"
}
