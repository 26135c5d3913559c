# Sourced by the benchmarks: RPMs, catalogs, nginx, ports.

# write_catalog FILE NAME [SOURCE]: a catalog of one repository in organization "bench";
# SOURCE is its catalog line, by default path = "$LIB".
write_catalog() {
    local source=${3:-}
    [[ -n $source ]] || source="path = \"$LIB\""
    cat > "$1" <<CAT
organization = "bench"
[[product]]
label = "bench"
name = "Benchmark"
[[product.repository]]
label = "repo"
name = "$2"
$source
CAT
}

# nginx_conf DIR PORT ROOT: an nginx configuration in DIR/nginx.conf that serves ROOT on
# 127.0.0.1:PORT with sendfile, its files kept in DIR.
nginx_conf() {
    mkdir -p "$1"
    cat > "$1/nginx.conf" <<NGINX
worker_processes auto;
pid $1/nginx.pid;
error_log $1/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    client_body_temp_path $1/body;
    proxy_temp_path $1/proxy;
    fastcgi_temp_path $1/fastcgi;
    uwsgi_temp_path $1/uwsgi;
    scgi_temp_path $1/scgi;
    server {
        listen 127.0.0.1:$2;
        root $3;
        disable_symlinks off;
    }
}
NGINX
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

# free_port: a TCP port free on loopback.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
