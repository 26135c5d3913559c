#!/usr/bin/python3
"""Independent reader for the ferry bundle format, version 1.

Written from spec/FORMAT.md alone (see README.md next to this file).

    reader.py --trust KEY.pub [--trust KEY2.pub ...] [--deep] VOLDIR...

Prints to standard output:

    result: ok|fail
    finding: VOLUME FILE KIND
    missing: N

and exits 0 when the result is ok, 1 when it is not, 2 on a usage error (bad command
line or an unusable trusted key).  Explanations of the findings go to standard error.
"""

import binascii
import collections
import hashlib
import os
import re
import stat
import sys

try:
    import tomllib
except Exception:  # pragma: no cover - Python 3.11 has it
    tomllib = None

# ---------------------------------------------------------------------------------------
# Limits and constants (spec sections in brackets)

MAX_SIG = 1 << 20                 # §6.3
MAX_VOLUME_TOML = 64 << 10        # §4
MAX_README = 64 << 10             # §3, §6.4 step 8
MAX_MANIFEST = 256 << 20          # §5
MAX_KEY_FILE = 64 << 10           # a public key file is two short lines (§6.1)
MAX_COMMENT_LINE = 1023           # §6.1: comment line, 'untrusted comment: ' included, no LF
MAX_PACK_NUMBER = 4294967295      # §5.5
I63 = (1 << 63) - 1               # §1
MAX_PIECE = 8589934591            # §5.7
MAX_GPG_CONTENT = 1 << 20         # §5.2
ZSTD_WINDOW_MAX = 1 << 23         # §7.3
EMPTY_ID = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
READ_CHUNK = 1 << 20
ZSTD_FEED = 256                   # bytes of input per decompress call (bounds output/call)

HEX64 = re.compile(r"[0-9a-f]{64}")
HEX16 = re.compile(r"[0-9a-f]{16}")
LABEL = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
PACK_NAME = re.compile(r"(?:[0-9]{4}|[1-9][0-9]{4,9})")
CREATED = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z")
LIST_LINE = re.compile(r"SHA256 \(([^)]+)\) = ([0-9a-f]{64})")
VOLUME_TOML = re.compile(
    rb'format = "ferry-volume/1"\nbundle = "([0-9a-f]{64})"\n'
    rb"volume = (0|[1-9][0-9]{0,18})\nvolumes = (0|[1-9][0-9]{0,18})\n")


def log(msg):
    try:
        sys.stderr.write(msg + "\n")
    except Exception:
        pass


class Refusal(Exception):
    """A finding: kind, file (or None for the whole volume), explanation."""

    def __init__(self, kind, file, why):
        Exception.__init__(self, why)
        self.kind = kind
        self.file = file
        self.why = why


class Invalid(Exception):
    """The manifest (or another structured text) is not valid."""


# ---------------------------------------------------------------------------------------
# Generic value checks (§1)

def is_cc(ch):
    o = ord(ch)
    return o <= 0x1F or 0x7F <= o <= 0x9F


def has_cc(s):
    return any(is_cc(c) for c in s)


def utf8len(s):
    return len(s.encode("utf-8"))


def check_relative_path(p, what):
    if type(p) is not str or p == "":
        raise Invalid("%s: not a non-empty string" % what)
    if utf8len(p) > 1024:
        raise Invalid("%s: longer than 1024 bytes" % what)
    if p.startswith("/"):
        raise Invalid("%s: absolute path %r" % (what, p))
    for comp in p.split("/"):
        check_component(comp, what)


def check_component(comp, what):
    if type(comp) is not str or comp == "" or comp in (".", ".."):
        raise Invalid("%s: empty, '.' or '..' path component" % what)
    if utf8len(comp) > 255:
        raise Invalid("%s: path component longer than 255 bytes" % what)
    if "\\" in comp or has_cc(comp):
        raise Invalid("%s: backslash or control character in path" % what)


def check_label(x, what):
    if type(x) is not str or not LABEL.fullmatch(x):
        raise Invalid("%s: not a label: %r" % (what, x))


def check_name(x, what):
    if type(x) is not str or utf8len(x) > 1024 or has_cc(x):
        raise Invalid("%s: not a display name" % what)


def check_int(x, what, lo=0, hi=I63):
    if type(x) is not int or x < lo or x > hi or x > I63:
        raise Invalid("%s: integer out of range or not an integer: %r" % (what, x))


def check_hex64(x, what):
    if type(x) is not str or not HEX64.fullmatch(x):
        raise Invalid("%s: not 64 lowercase hex digits" % what)


def check_created(x, what):
    if type(x) is not str:
        raise Invalid("%s: not a string" % what)
    m = CREATED.fullmatch(x)
    if not m:
        raise Invalid("%s: not YYYY-MM-DDTHH:MM:SSZ" % what)
    y, mo, d, h, mi, s = (int(g) for g in m.groups())
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    if not (1 <= mo <= 12) or not (1 <= d <= days[mo - 1]) or h > 23 or mi > 59 or s > 59:
        raise Invalid("%s: not a real date and time: %s" % (what, x))


def check_keys(d, required, optional, what):
    if type(d) is not dict:
        raise Invalid("%s: not a table" % what)
    for k in required:
        if k not in d:
            raise Invalid("%s: missing key %r" % (what, k))
    for k in d:
        if k not in required and k not in optional:
            raise Invalid("%s: unknown key %r" % (what, k))


def fold(s):
    # §1: Unicode default (full) lowercase mapping, as Python's str.lower computes it.
    return s.lower()


def pack_order_key(name):
    # pack names are %04d of a positive integer: numeric order is (length, text) order
    return (len(name), name)


def round512(n):
    return (n + 511) // 512 * 512


# ---------------------------------------------------------------------------------------
# Canonical manifest writer (§10)

def S(x):
    if type(x) is not str or has_cc(x):
        raise Invalid("a string value is not a string or holds a control character")
    return '"' + x.replace("\\", "\\\\").replace('"', '\\"') + '"'


def I(n):
    if type(n) is not int or n < 0 or n > I63:
        raise Invalid("an integer value is out of range")
    return str(n)


def K(x):
    if type(x) is not str:
        raise Invalid("a key is not a string")
    if x != "" and BARE_KEY.fullmatch(x):
        return x
    return S(x)


def M(x):
    if type(x) is not str:
        raise Invalid("gpg_key.content is not a string")
    return x.replace("\\", "\\\\").replace('"', '\\"')


def canonical(m):
    out = ['format = "ferry-bundle/1"\n']
    out.append("created = %s\n" % S(m["created"]))
    out.append("signer = %s\n" % S(m["signer"]))
    out.append("sequence = %s\n" % I(m["sequence"]))
    if "base" in m:
        b = m["base"]
        out.append("base = { bundle = %s, sequence = %s, created = %s }\n"
                   % (S(b["bundle"]), I(b["sequence"]), S(b["created"])))
    out.append("volumes = %s\n" % I(m["volumes"]))
    out.append("organization = %s\n" % S(m["organization"]))
    for p in m.get("product", []):
        out.append("\n[[product]]\nlabel = %s\nname = %s\n" % (S(p["label"]), S(p["name"])))
        if "gpg_key" in p:
            g = p["gpg_key"]
            out.append('\n[product.gpg_key]\nname = %s\ncontent = """\n%s"""\n'
                       % (S(g["name"]), M(g["content"])))
    for r in m.get("repository", []):
        out.append("\n[[repository]]\nproduct = %s\nlabel = %s\nname = %s\n"
                   % (S(r["product"]), S(r["label"]), S(r["name"])))
        if "arch" in r:
            out.append("arch = %s\n" % S(r["arch"]))
        out.append("content_type = %s\ntree = %s\n" % (S(r["content_type"]), S(r["tree"])))
    for c in m.get("content_view", []):
        out.append("\n[[content_view]]\nlabel = %s\nname = %s\nversion = %s\nrepositories = [\n"
                   % (S(c["label"]), S(c["name"]), S(c["version"])))
        for e in c["repositories"]:
            out.append("  { repository = %s, tree = %s },\n" % (S(e["repository"]), S(e["tree"])))
        out.append("]\n")
    out.append("\n[packs]\n")
    for name in sorted(m["packs"], key=lambda n: n.encode("utf-8")):
        p = m["packs"][name]
        out.append("%s = { volume = %s, size = %s, sha256 = %s }\n"
                   % (K(name), I(p["volume"]), I(p["size"]), S(p["sha256"])))
    for t in m.get("tree", []):
        out.append("\n[[tree]]\nname = %s\npackages = %s\n\n[tree.files]\n"
                   % (S(t["name"]), I(t["packages"])))
        for path in sorted(t["files"], key=lambda n: n.encode("utf-8")):
            out.append("%s = %s\n" % (K(path), S(t["files"][path])))
    out.append("\n[objects]\n")
    for oid in sorted(m["objects"], key=lambda n: n.encode("utf-8")):
        o = m["objects"][oid]
        pieces = ", ".join("{ pack = %s, offset = %s, length = %s }"
                           % (S(p["pack"]), I(p["offset"]), I(p["length"])) for p in o["pieces"])
        out.append("%s = { size = %s, encoding = %s, pieces = [%s] }\n"
                   % (K(oid), I(o["size"]), S(o["encoding"]), pieces))
    return "".join(out).encode("utf-8")


# ---------------------------------------------------------------------------------------
# Manifest (§5, §7.1, §9, §10)

class Manifest(object):
    pass


def parse_manifest(data):
    """Return a Manifest or raise Invalid."""
    first = data.split(b"\n", 1)[0]
    if first != b'format = "ferry-bundle/1"':
        version = None
        mt = re.fullmatch(rb'format = "ferry-bundle/([^"\\]*)"', first)
        if mt:
            version = mt.group(1).decode("utf-8", "replace")
        if first.endswith(b"\r"):
            raise Invalid("manifest first line ends with CR (lines end with LF only, §1)")
        if version is not None:
            raise Invalid("manifest is format version %r; this reader reads only version 1"
                          % version)
        raise Invalid("manifest first line is not 'format = \"ferry-bundle/1\"' "
                      "(unknown format; this reader reads ferry-bundle/1)")
    if tomllib is None:
        raise Invalid("no TOML parser available")
    try:
        text = data.decode("utf-8", "strict")
    except UnicodeDecodeError:
        raise Invalid("manifest is not UTF-8")
    try:
        m = tomllib.loads(text)
    except Exception as e:  # TOMLDecodeError, RecursionError, ValueError ...
        raise Invalid("manifest is not valid TOML: %s" % (e,))
    validate_manifest(m)
    try:
        canon = canonical(m)
    except Invalid:
        raise
    except Exception as e:
        raise Invalid("cannot write the canonical form: %r" % (e,))
    if canon != data:
        n = min(len(canon), len(data))
        at = next((i for i in range(n) if canon[i] != data[i]), n)
        line = data.count(b"\n", 0, at) + 1
        raise Invalid("manifest is not in canonical form (§10), first difference at byte %d, "
                      "line %d" % (at, line))
    return build_manifest(m)


def validate_manifest(m):
    check_keys(m, ["format", "created", "signer", "sequence", "volumes", "organization",
                   "packs", "objects"],
               ["base", "product", "repository", "content_view", "tree"], "manifest")
    if m["format"] != "ferry-bundle/1":
        raise Invalid("format is not ferry-bundle/1")
    check_created(m["created"], "created")
    if type(m["signer"]) is not str or not HEX16.fullmatch(m["signer"]):
        raise Invalid("signer: not 16 lowercase hex digits")
    check_int(m["sequence"], "sequence", 1)
    if "base" in m:
        b = m["base"]
        check_keys(b, ["bundle", "sequence", "created"], [], "base")
        check_hex64(b["bundle"], "base.bundle")
        check_int(b["sequence"], "base.sequence", 1)
        if not b["sequence"] < m["sequence"]:
            raise Invalid("base.sequence is not below sequence")
        check_created(b["created"], "base.created")
    check_int(m["volumes"], "volumes", 1, 9999)
    volumes = m["volumes"]
    check_label(m["organization"], "organization")

    for key in ("product", "repository", "content_view", "tree"):
        if key in m and (type(m[key]) is not list or any(type(x) is not dict for x in m[key])):
            raise Invalid("%s: not an array of tables" % key)

    # §5.2
    product_labels = set()
    product_folded = set()
    for i, p in enumerate(m.get("product", [])):
        w = "product[%d]" % i
        check_keys(p, ["label", "name"], ["gpg_key"], w)
        check_label(p["label"], w + ".label")
        if fold(p["label"]) in product_folded:
            raise Invalid("%s: label not unique ignoring case" % w)
        product_folded.add(fold(p["label"]))
        product_labels.add(p["label"])
        check_name(p["name"], w + ".name")
        if "gpg_key" in p:
            g = p["gpg_key"]
            check_keys(g, ["name", "content"], [], w + ".gpg_key")
            check_component(g["name"], w + ".gpg_key.name")
            c = g["content"]
            if type(c) is not str or utf8len(c) > MAX_GPG_CONTENT:
                raise Invalid("%s.gpg_key.content: not a string of at most 1 MiB" % w)
            if any(is_cc(ch) and ch != "\n" for ch in c):
                raise Invalid("%s.gpg_key.content: control character" % w)

    # §5.6 (first, so that repositories and views can refer to tree names)
    tree_names = set()
    for i, t in enumerate(m.get("tree", [])):
        w = "tree[%d]" % i
        check_keys(t, ["name", "packages", "files"], [], w)
        check_relative_path(t["name"], w + ".name")
        if t["name"] in tree_names:
            raise Invalid("%s: name %r not unique" % (w, t["name"]))
        tree_names.add(t["name"])
        check_int(t["packages"], w + ".packages")
        files = t["files"]
        if type(files) is not dict:
            raise Invalid("%s.files: not a table" % w)
        folded = set()
        for path, oid in files.items():
            check_relative_path(path, "%s.files path" % w)
            check_hex64(oid, "%s.files[%r]" % (w, path))
            f = fold(path)
            if f in folded:
                raise Invalid("%s.files: two paths equal ignoring case (%r)" % (w, path))
            folded.add(f)
        for path in files:
            comps = path.split("/")
            for k in range(1, len(comps)):
                if fold("/".join(comps[:k])) in folded:
                    raise Invalid("%s.files: %r is, ignoring case, under another file" % (w, path))

    # §5.3
    repo_names = set()
    repo_folded = set()
    for i, r in enumerate(m.get("repository", [])):
        w = "repository[%d]" % i
        check_keys(r, ["product", "label", "name", "content_type", "tree"], ["arch"], w)
        if type(r["product"]) is not str or r["product"] not in product_labels:
            raise Invalid("%s.product: not a defined product" % w)
        check_label(r["label"], w + ".label")
        full = r["product"] + "/" + r["label"]
        if fold(full) in repo_folded:
            raise Invalid("%s: %r not unique ignoring case" % (w, full))
        repo_folded.add(fold(full))
        repo_names.add(full)
        check_name(r["name"], w + ".name")
        if "arch" in r:
            check_label(r["arch"], w + ".arch")
        if r["content_type"] != "yum":
            raise Invalid("%s.content_type: not \"yum\"" % w)
        if type(r["tree"]) is not str or r["tree"] not in tree_names:
            raise Invalid("%s.tree: not a defined tree" % w)

    # §5.4
    views = set()
    for i, c in enumerate(m.get("content_view", [])):
        w = "content_view[%d]" % i
        check_keys(c, ["label", "name", "version", "repositories"], [], w)
        check_label(c["label"], w + ".label")
        check_name(c["name"], w + ".name")
        check_label(c["version"], w + ".version")
        key = (fold(c["label"]), fold(c["version"]))
        if key in views:
            raise Invalid("%s: (label, version) not unique ignoring case" % w)
        views.add(key)
        if type(c["repositories"]) is not list:
            raise Invalid("%s.repositories: not an array" % w)
        seen = set()
        for j, e in enumerate(c["repositories"]):
            ww = "%s.repositories[%d]" % (w, j)
            check_keys(e, ["repository", "tree"], [], ww)
            if type(e["repository"]) is not str or e["repository"] not in repo_names:
                raise Invalid("%s.repository: not a Library repository" % ww)
            if e["repository"] in seen:
                raise Invalid("%s.repository: named twice in this version" % ww)
            seen.add(e["repository"])
            if type(e["tree"]) is not str or e["tree"] not in tree_names:
                raise Invalid("%s.tree: not a defined tree" % ww)

    # §5.5
    packs = m["packs"]
    if type(packs) is not dict:
        raise Invalid("packs: not a table")
    total = 0
    for name, p in packs.items():
        w = "packs[%r]" % name
        if not PACK_NAME.fullmatch(name) or not 1 <= int(name) <= MAX_PACK_NUMBER:
            raise Invalid("%s: not a pack name (%%04d of a number 1..4294967295)" % w)
        check_keys(p, ["volume", "size", "sha256"], [], w)
        check_int(p["volume"], w + ".volume", 1, volumes)
        check_int(p["size"], w + ".size", 1024)
        if p["size"] % 512:
            raise Invalid("%s.size: not a multiple of 512" % w)
        total += p["size"]
        if total > I63:
            raise Invalid("pack sizes add up to more than 2^63 - 1")
        check_hex64(p["sha256"], w + ".sha256")

    # §5.7
    objects = m["objects"]
    if type(objects) is not dict:
        raise Invalid("objects: not a table")
    total = 0
    for oid, o in objects.items():
        w = "objects[%s]" % oid[:80]
        check_hex64(oid, "object id")
        check_keys(o, ["size", "encoding", "pieces"], [], w)
        check_int(o["size"], w + ".size")
        total += o["size"]
        if total > I63:
            raise Invalid("object sizes add up to more than 2^63 - 1")
        if o["encoding"] not in ("raw", "zstd"):
            raise Invalid("%s.encoding: not raw or zstd" % w)
        pieces = o["pieces"]
        if type(pieces) is not list:
            raise Invalid("%s.pieces: not an array" % w)
        if not pieces:
            if o["size"] != 0 or o["encoding"] != "raw" or oid != EMPTY_ID:
                raise Invalid("%s: an object without pieces that is not the empty object" % w)
            continue
        lengths = 0
        prev = None
        for j, p in enumerate(pieces):
            ww = "%s.pieces[%d]" % (w, j)
            check_keys(p, ["pack", "offset", "length"], [], ww)
            if type(p["pack"]) is not str or p["pack"] not in packs:
                raise Invalid("%s.pack: not a defined pack" % ww)
            check_int(p["length"], ww + ".length", 1, MAX_PIECE)
            check_int(p["offset"], ww + ".offset", 512)
            if p["offset"] % 512:
                raise Invalid("%s.offset: not a multiple of 512" % ww)
            if p["offset"] + p["length"] > packs[p["pack"]]["size"] - 1024:
                raise Invalid("%s: beyond the end of its pack's data" % ww)
            here = (pack_order_key(p["pack"]), p["offset"])
            if prev is not None and not prev < here:
                raise Invalid("%s: pieces not in strictly increasing (pack, offset) order" % w)
            prev = here
            lengths += p["length"]
            if lengths > I63:
                raise Invalid("%s: piece lengths add up to more than 2^63 - 1" % w)
        if o["encoding"] == "raw" and lengths != o["size"]:
            raise Invalid("%s: raw piece lengths do not add up to size" % w)

    # full bundle: every tree's id is an object (§5.6)
    if "base" not in m:
        for t in m.get("tree", []):
            for path, oid in t["files"].items():
                if oid not in objects:
                    raise Invalid("tree %r: %r refers to object %s, which the bundle lacks"
                                  % (t["name"], path, oid))

    # §7.1 layout: tiling, then no interleaving
    by_pack = dict((name, []) for name in packs)
    for oid, o in objects.items():
        for j, p in enumerate(o["pieces"]):
            by_pack[p["pack"]].append((p["offset"], p["length"], oid, j))
    pass_order = []
    for name in sorted(packs, key=pack_order_key):
        lst = sorted(by_pack[name])
        expect = 512
        end = None
        for off, ln, oid, j in lst:
            if off != expect:
                raise Invalid("pack %s: pieces do not tile the pack (offset %d, expected %d)"
                              % (name, off, expect))
            end = off + ln
            expect = round512(end) + 512
        want = 1024 if end is None else round512(end) + 1024
        if packs[name]["size"] != want:
            raise Invalid("pack %s: size %d, but its pieces make %d" % (name, packs[name]["size"], want))
        pass_order.extend(lst)
    cur, nxt = None, 0
    done = set()
    for off, ln, oid, j in pass_order:
        if oid == cur:
            if j != nxt:
                raise Invalid("object %s: pieces out of order" % oid)
            nxt += 1
        else:
            if cur is not None and nxt != len(objects[cur]["pieces"]):
                raise Invalid("objects interleave (object %s is split around another)" % cur)
            if oid in done or j != 0:
                raise Invalid("objects interleave (object %s)" % oid)
            if cur is not None:
                done.add(cur)
            cur, nxt = oid, 1
    if cur is not None and nxt != len(objects[cur]["pieces"]):
        raise Invalid("object %s: pieces missing from pass order" % cur)


def build_manifest(m):
    mf = Manifest()
    mf.raw = m
    mf.signer = m["signer"]
    mf.volumes = m["volumes"]
    mf.packs = m["packs"]
    mf.objects = m["objects"]
    mf.packs_on = collections.defaultdict(list)
    for name, p in m["packs"].items():
        mf.packs_on[p["volume"]].append(name)
    for v in mf.packs_on:
        mf.packs_on[v].sort(key=lambda n: n.encode("utf-8"))
    return mf


# ---------------------------------------------------------------------------------------
# Keys and signatures (§6)

P25519 = 2 ** 255 - 19
D25519 = (-121665 * pow(121666, P25519 - 2, P25519)) % P25519
SQRT_M1 = pow(2, (P25519 - 1) // 4, P25519)


def ed_decode_point(b):
    """Decode a canonical Ed25519 point encoding; None when it is not a valid point."""
    y = int.from_bytes(b, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= P25519:
        return None
    u = (y * y - 1) % P25519
    v = (D25519 * y * y + 1) % P25519
    x2 = u * pow(v, P25519 - 2, P25519) % P25519
    x = pow(x2, (P25519 + 3) // 8, P25519)
    if (x * x - x2) % P25519 != 0:
        x = x * SQRT_M1 % P25519
    if (x * x - x2) % P25519 != 0:
        return None
    if x == 0 and sign:
        return None
    if (x & 1) != sign:
        x = P25519 - x
    return (x, y, 1, x * y % P25519)


def ed_add(P, Q):
    p = P25519
    x1, y1, z1, t1 = P
    x2, y2, z2, t2 = Q
    a = (y1 - x1) * (y2 - x2) % p
    b = (y1 + x1) * (y2 + x2) % p
    c = 2 * t1 * t2 * D25519 % p
    d = 2 * z1 * z2 % p
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % p, g * h % p, f * g % p, e * h % p)


def ed_is_small_order(P):
    Q = P
    for _ in range(3):
        Q = ed_add(Q, Q)
    x, y, z, t = Q
    return x % P25519 == 0 and (y - z) % P25519 == 0


def strict_b64(s):
    """RFC 4648 base64 with padding, canonical (re-encodes to the same text)."""
    if not re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", s) or len(s) % 4:
        raise ValueError("not base64")
    raw = binascii.a2b_base64(s.encode("ascii"), strict_mode=True)
    if binascii.b2a_base64(raw, newline=False).decode("ascii") != s:
        raise ValueError("non-canonical base64")
    return raw


def load_public_key(path):
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise ValueError("not a regular file")
    if st.st_size > MAX_KEY_FILE:
        raise ValueError("too large for a public key file")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("not a regular file")
        data = read_exact(fd, os.fstat(fd).st_size, MAX_KEY_FILE)
    finally:
        os.close(fd)
    lines = data.split(b"\n")
    if len(lines) != 3 or lines[2] != b"":
        raise ValueError("a public key file is exactly two lines")
    if not lines[0].startswith(b"untrusted comment: ") or len(lines[0]) > MAX_COMMENT_LINE:
        raise ValueError("bad comment line")
    raw = strict_b64(lines[1].decode("ascii"))
    if len(raw) != 42 or raw[:2] != b"Ed":
        raise ValueError("not an Ed25519 signify public key")
    pk = raw[10:]
    P = ed_decode_point(pk)
    if P is None:
        raise ValueError("public key is not a valid Ed25519 point")
    if ed_is_small_order(P):
        raise ValueError("public key is of small order")
    return raw[2:10], pk


def verify_ed25519(pk, sig, msg):
    import nacl.signing
    import nacl.exceptions
    # libsodium's verification (PyNaCl) rejects S >= L, small-order or non-canonical R
    # (R is compared by its canonical encoding) and non-canonical or small-order keys.
    try:
        nacl.signing.VerifyKey(pk).verify(msg, sig)
        return True
    except nacl.exceptions.BadSignatureError:
        return False


# ---------------------------------------------------------------------------------------
# Safe file access (§3)

def open_volume_dir(path):
    st = os.stat(path)  # the volume directory itself may be reached through a link
    if not stat.S_ISDIR(st.st_mode):
        raise Refusal("unreadable", None, "%s is not a directory" % path)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NONBLOCK | os.O_CLOEXEC)
    if not stat.S_ISDIR(os.fstat(fd).st_mode):
        os.close(fd)
        raise Refusal("unreadable", None, "%s is not a directory" % path)
    return fd


def _oserror(e, relpath):
    import errno
    if e.errno == errno.ENOENT:
        return Refusal("missing", relpath, "%s is missing" % relpath)
    return Refusal("unreadable", relpath, "%s: %s" % (relpath, e.strerror or e))


def open_regular(dirfd, relpath):
    """Open relpath under dirfd without following any link; return (fd, size)."""
    comps = relpath.split("/")
    opened = []
    try:
        cur = dirfd
        for comp in comps[:-1]:
            try:
                st = os.stat(comp, dir_fd=cur, follow_symlinks=False)
            except OSError as e:
                raise _oserror(e, relpath)
            if not stat.S_ISDIR(st.st_mode):
                raise Refusal("unreadable", relpath,
                              "%s: %s is not a directory (links are not followed)" % (relpath, comp))
            try:
                nfd = os.open(comp, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_NONBLOCK
                              | os.O_CLOEXEC, dir_fd=cur)
            except OSError as e:
                raise _oserror(e, relpath)
            opened.append(nfd)
            cur = nfd
        last = comps[-1]
        try:
            st = os.stat(last, dir_fd=cur, follow_symlinks=False)
        except OSError as e:
            raise _oserror(e, relpath)
        if not stat.S_ISREG(st.st_mode):
            raise Refusal("unreadable", relpath, "%s is not a regular file (%s)"
                          % (relpath, describe_mode(st.st_mode)))
        try:
            fd = os.open(last, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY
                         | os.O_CLOEXEC, dir_fd=cur)
        except OSError as e:
            raise _oserror(e, relpath)
        try:
            st = os.fstat(fd)
        except OSError as e:
            os.close(fd)
            raise _oserror(e, relpath)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise Refusal("unreadable", relpath, "%s is not a regular file" % relpath)
        return fd, st.st_size
    finally:
        for f in opened:
            try:
                os.close(f)
            except OSError:
                pass


def describe_mode(mode):
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def read_exact(fd, size, limit):
    """Read exactly size bytes (size <= limit, checked by the caller); short -> EOFError."""
    if size > limit:
        raise ValueError("over the limit")
    parts = []
    got = 0
    while got < size:
        b = os.read(fd, min(READ_CHUNK, size - got))
        if not b:
            raise EOFError("file shorter than its size")
        parts.append(b)
        got += len(b)
    return b"".join(parts)


def read_file(dirfd, relpath, limit, keep=True):
    """Read a whole regular file of at most limit bytes: (data or None, sha256 hex).

    A file over its limit is `malformed` (§12.1), and is not read."""
    fd, size = open_regular(dirfd, relpath)
    try:
        if size > limit:
            raise Refusal("malformed", relpath, "%s is %d bytes, over the %d-byte limit"
                          % (relpath, size, limit))
        h = hashlib.sha256()
        parts = [] if keep else None
        got = 0
        while got < size:
            try:
                b = os.read(fd, min(READ_CHUNK, size - got))
            except OSError as e:
                raise Refusal("unreadable", relpath, "%s: %s" % (relpath, e))
            if not b:
                break
            h.update(b)
            if keep:
                parts.append(b)
            got += len(b)
        return (b"".join(parts) if keep else None), h.hexdigest(), got, size
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------
# Checking a volume (§6.4 steps 1-8)

class Volume(object):
    def __init__(self, index, path):
        self.index = index
        self.path = path
        self.dirfd = None
        self.number = None       # known once volume.toml is usable
        self.usable = False      # passed steps 1-7
        self.kept = False        # part of the bundle after §6.5
        self.keynum = None
        self.list = []           # [(path, hex)]
        self.bundle = None
        self.volumes = None
        self.step8 = None        # Refusal from step 8, or None
        self.manifest = None     # bytes of manifest.toml (kept for the first of each bundle)

    def label(self):
        return str(self.number) if self.number is not None else "-"


class Reader(object):
    def __init__(self, keys, deep):
        self.keys = keys
        self.deep = deep
        self.findings = []
        self.seen = set()

    def find(self, vol, file, kind, why):
        label = vol.label() if vol is not None else "-"
        key = (vol.index if vol is not None else -1, label, file or "-", kind)
        if key in self.seen:
            return
        self.seen.add(key)
        self.findings.append((label, file or "-", kind))
        where = vol.path if vol is not None else "-"
        log("%s: %s %s: %s" % (where, file or "-", kind, why))

    # -- steps 1-8 --------------------------------------------------------------------
    def check_volume(self, vol, manifests):
        try:
            vol.dirfd = open_volume_dir(vol.path)
        except Refusal as r:
            self.find(vol, r.file, r.kind, r.why)
            return
        except OSError as e:
            import errno
            kind = "missing" if e.errno == errno.ENOENT else "unreadable"
            self.find(vol, None, kind, "%s: %s" % (vol.path, e.strerror or e))
            return
        # 1. SHA256.sig
        try:
            sig, _, got, size = read_file(vol.dirfd, "SHA256.sig", MAX_SIG)
        except Refusal as r:
            if r.kind == "missing":
                r.why += " (an unfinished volume, treated as absent, §8)"
            self.find(vol, r.file, r.kind, r.why)
            return
        if got != size:
            self.find(vol, "SHA256.sig", "unreadable", "SHA256.sig changed while read")
            return
        # 2. two lines, then the message
        try:
            nl1 = sig.index(b"\n")
            nl2 = sig.index(b"\n", nl1 + 1)
            if not sig.startswith(b"untrusted comment: "):
                raise ValueError("first line does not begin with 'untrusted comment: '")
            if nl1 > MAX_COMMENT_LINE:
                raise ValueError("comment line is %d bytes, over %d (§6.1)" % (nl1, MAX_COMMENT_LINE))
            raw = strict_b64(sig[nl1 + 1:nl2].decode("ascii"))
            if len(raw) != 74 or raw[:2] != b"Ed":
                raise ValueError("second line is not the base64 of 74 bytes beginning with Ed")
        except Exception as e:
            self.find(vol, "SHA256.sig", "malformed", "SHA256.sig: %s" % (e,))
            return
        message = sig[nl2 + 1:]
        keynum, signature = raw[2:10], raw[10:]
        vol.keynum = keynum
        # 3. a trusted key with this key number
        pk = None
        for kn, k in self.keys:
            if kn == keynum:
                pk = k
                break
        if pk is None:
            self.find(vol, "SHA256.sig", "untrusted-key",
                      "signed by key %s, which is not trusted" % keynum.hex())
            return
        # 4. strict Ed25519
        if not verify_ed25519(pk, signature, message):
            self.find(vol, "SHA256.sig", "bad-signature",
                      "the signature does not verify with key %s" % keynum.hex())
            return
        # 5. the list
        try:
            vol.list = parse_list(message)
        except Exception as e:
            self.find(vol, "SHA256.sig", "malformed", "signed list: %s" % (e,))
            return
        listed = dict(vol.list)
        # 6. volume.toml
        try:
            data, digest, got, size = read_file(vol.dirfd, "volume.toml", MAX_VOLUME_TOML)
        except Refusal as r:
            self.find(vol, r.file, r.kind, r.why)
            return
        if got != size or digest != listed["volume.toml"]:
            self.find(vol, "volume.toml", "corrupt", "volume.toml does not match its SHA-256 in the list")
            return
        try:
            vol.bundle, number, vol.volumes = parse_volume_toml(data)
        except Exception as e:
            self.find(vol, "volume.toml", "malformed", "volume.toml: %s" % (e,))
            return
        vol.number = number
        # 7. manifest.toml
        if "manifest.toml" not in listed:
            self.find(vol, "SHA256.sig", "malformed", "the signed list does not name manifest.toml")
            return
        if listed["manifest.toml"] != vol.bundle:
            self.find(vol, "volume.toml", "malformed",
                      "volume.toml names bundle %s but the list gives manifest.toml %s"
                      % (vol.bundle, listed["manifest.toml"]))
            return
        keep = vol.bundle not in manifests
        try:
            data, digest, got, size = read_file(vol.dirfd, "manifest.toml", MAX_MANIFEST, keep=keep)
        except Refusal as r:
            self.find(vol, r.file, r.kind, r.why)
            return
        if got != size or digest != vol.bundle:
            self.find(vol, "manifest.toml", "corrupt", "manifest.toml does not match its SHA-256")
            return
        if keep:
            manifests[vol.bundle] = data
        vol.usable = True
        # 8. README.txt, when listed (a failure here is a finding, not unusability)
        if "README.txt" in listed:
            try:
                _, digest, got, size = read_file(vol.dirfd, "README.txt", MAX_README, keep=False)
                if got != size or digest != listed["README.txt"]:
                    raise Refusal("corrupt", "README.txt", "README.txt does not match its SHA-256")
            except Refusal as r:
                vol.step8 = r

    # -- the set (§6.5) and steps 9-10 ---------------------------------------------------
    def run(self, paths):
        vols = [Volume(i, p) for i, p in enumerate(paths)]
        manifests = {}
        for vol in vols:
            try:
                self.check_volume(vol, manifests)
            except Exception as e:  # never crash on hostile input
                vol.usable = False
                self.find(vol, None, "unreadable", "unexpected error: %r" % (e,))
        usable = [v for v in vols if v.usable]
        missing = []
        complete = False
        if usable:
            counts = collections.Counter(v.bundle for v in usable)
            best = max(counts.values())
            bundle = next(v.bundle for v in usable if counts[v.bundle] == best)
            first = next(v for v in usable if v.bundle == bundle)
            mf = None
            try:
                mf = parse_manifest(manifests[bundle])
            except Invalid as e:
                self.find(first, "manifest.toml", "malformed", "manifest: %s" % (e,))
            except Exception as e:
                self.find(first, "manifest.toml", "malformed", "manifest: unexpected error %r" % (e,))
            if mf is not None:
                kept = {}
                for vol in usable:
                    if vol.bundle != bundle:
                        self.find(vol, None, "wrong-bundle",
                                  "volume of bundle %s, not of %s" % (vol.bundle, bundle))
                        continue
                    ok = True
                    if vol.keynum.hex() != mf.signer:
                        self.find(vol, "SHA256.sig", "bad-signature",
                                  "signed by key %s, but the manifest's signer is %s"
                                  % (vol.keynum.hex(), mf.signer))
                        ok = False
                    if vol.volumes != mf.volumes:
                        self.find(vol, "volume.toml", "malformed",
                                  "volume.toml says %d volumes, the manifest %d"
                                  % (vol.volumes, mf.volumes))
                        ok = False
                    if vol.number in kept:
                        self.find(vol, None, "duplicate",
                                  "volume %d already given as %s" % (vol.number, kept[vol.number].path))
                        ok = False
                    if ok:
                        kept[vol.number] = vol
                        vol.kept = True
                missing = [n for n in range(1, mf.volumes + 1) if n not in kept]
                complete = not missing
                for n in missing:
                    log("volume %d of %d is missing" % (n, mf.volumes))
                readable = {}
                for n in sorted(kept):
                    vol = kept[n]
                    try:
                        self.check_list_and_packs(vol, mf, readable)
                    except Exception as e:
                        self.find(vol, None, "unreadable", "unexpected error: %r" % (e,))
                if self.deep:
                    try:
                        self.decode(mf, readable)
                    except Exception as e:
                        self.find(None, None, "unreadable", "unexpected error while decoding: %r" % (e,))
        for vol in vols:
            if vol.dirfd is not None:
                try:
                    os.close(vol.dirfd)
                except OSError:
                    pass
        ok = complete and not self.findings
        return ok, self.findings, missing

    def check_list_and_packs(self, vol, mf, readable):
        # 9. the list exactly as §6.2 says
        packs = mf.packs_on.get(vol.number, [])
        expected = ["volume.toml", "manifest.toml", "README.txt"] + \
            ["packs/%s.ferrypack" % n for n in packs]
        want_hash = dict(("packs/%s.ferrypack" % n, mf.packs[n]["sha256"]) for n in packs)
        listed = dict(vol.list)
        wrong = False
        for path in expected:
            if path not in listed:
                # §12.1: README.txt left out is `malformed`, a pack left out `bad-signature`
                # (volume.toml and manifest.toml are listed, or steps 5 and 7 failed)
                kind = "bad-signature" if path in want_hash else "malformed"
                self.find(vol, path, kind, "the signed list does not name %s" % path)
                wrong = True
        for path, h in vol.list:
            if path not in expected:
                self.find(vol, path, "malformed",
                          "the signed list names %s, which the manifest does not account for" % path)
                wrong = True
            elif path in want_hash and h != want_hash[path]:
                self.find(vol, path, "bad-signature",
                          "the signed list gives %s a SHA-256 other than the manifest's" % path)
                wrong = True
        if not wrong and [p for p, _ in vol.list] != expected:
            self.find(vol, "SHA256.sig", "malformed", "the signed list is not in its fixed order")
        if vol.step8 is not None:
            self.find(vol, vol.step8.file, vol.step8.kind, vol.step8.why)
        # 10. every pack of this volume.  `readable` collects the packs that decoding reads
        # (§12): those of the right size that could be read to the end, whatever their
        # SHA-256.
        for name in packs:
            rel = "packs/%s.ferrypack" % name
            want_size = mf.packs[name]["size"]
            try:
                fd, size = open_regular(vol.dirfd, rel)
            except Refusal as r:
                self.find(vol, r.file, r.kind, r.why)
                continue
            try:
                if size < want_size:
                    self.find(vol, rel, "truncated", "%s is %d bytes, the manifest says %d"
                              % (rel, size, want_size))
                    continue
                if size > want_size:
                    self.find(vol, rel, "corrupt", "%s is %d bytes, the manifest says %d"
                              % (rel, size, want_size))
                    continue
                h = hashlib.sha256()
                got = 0
                while got < want_size:
                    try:
                        b = os.read(fd, min(READ_CHUNK, want_size - got))
                    except OSError as e:
                        raise Refusal("unreadable", rel, "%s: %s" % (rel, e))
                    if not b:
                        break
                    h.update(b)
                    got += len(b)
                if got < want_size:
                    self.find(vol, rel, "truncated", "%s ended after %d bytes" % (rel, got))
                    continue
                readable[name] = vol
                if h.hexdigest() != mf.packs[name]["sha256"]:
                    self.find(vol, rel, "corrupt", "%s does not match its SHA-256" % rel)
            except Refusal as r:
                self.find(vol, r.file, r.kind, r.why)
            finally:
                os.close(fd)

    # -- decoding (§7, §12) --------------------------------------------------------------
    def decode(self, mf, readable):
        fds = PackFiles(mf, readable)
        by_pack = collections.defaultdict(list)
        for o in mf.objects.values():
            for p in o["pieces"]:
                if p["pack"] in readable:
                    by_pack[p["pack"]].append((p["offset"], p["length"]))
        try:
            for name in sorted(readable, key=pack_order_key):
                try:
                    self.check_entries(mf, name, sorted(by_pack[name]), fds)
                except Refusal as r:
                    self.find(readable[name], r.file, r.kind, r.why)
            order = []
            for oid, o in mf.objects.items():
                if o["pieces"]:
                    p = o["pieces"][0]
                    order.append(((pack_order_key(p["pack"]), p["offset"]), oid))
            order.sort()
            for _, oid in order:
                o = mf.objects[oid]
                if not all(p["pack"] in readable for p in o["pieces"]):
                    continue
                try:
                    self.decode_object(oid, o, fds, readable)
                except Refusal as r:
                    self.find(r.vol, r.file, r.kind, r.why)
        finally:
            fds.close()

    def check_entries(self, mf, name, pieces, fds):
        # pieces: (offset, length) of every entry of the pack, in offset order (they tile
        # the pack, §7.1, which the manifest check has established)
        rel = "packs/%s.ferrypack" % name
        fd = fds.get(name)
        size = mf.packs[name]["size"]
        for off, ln in pieces:
            hdr = pread_exact(fd, 512, off - 512, rel)
            why = check_header(hdr, ln)
            if why:
                raise Refusal("corrupt", rel, "%s: entry header at %d: %s" % (rel, off - 512, why))
            pad = round512(off + ln) - (off + ln)
            if pad and pread_exact(fd, pad, off + ln, rel) != bytes(pad):
                raise Refusal("corrupt", rel, "%s: non-zero padding after entry at %d" % (rel, off))
        if pread_exact(fd, 1024, size - 1024, rel) != bytes(1024):
            raise Refusal("corrupt", rel, "%s: the 1024 bytes that end the pack are not zero" % rel)

    def decode_object(self, oid, o, fds, readable):
        size = o["size"]
        pieces = o["pieces"]
        zstd = o["encoding"] == "zstd"
        h = hashlib.sha256()
        produced = 0
        current = [pieces[0]]

        def damaged(p, why):
            rel = "packs/%s.ferrypack" % p["pack"]
            r = Refusal("damaged-object", rel, "object %s: %s" % (oid, why))
            r.vol = readable[p["pack"]]
            return r

        def stored():
            # the stored bytes, piece by piece, in chunks (never past a piece's end)
            for p in pieces:
                current[0] = p
                fd = fds.get(p["pack"])
                rel = "packs/%s.ferrypack" % p["pack"]
                pos, end = p["offset"], p["offset"] + p["length"]
                while pos < end:
                    chunk = pread_exact(fd, min(READ_CHUNK, end - pos), pos, rel)
                    pos += len(chunk)
                    yield p, chunk

        try:
            if zstd:
                import zstandard
                # the frame header (at most 18 bytes), with the piece each byte is in: a
                # fault shows in the piece holding the byte that decides it (§12.1)
                head = b""
                owner = []
                for p, chunk in stored():
                    take = chunk[:18 - len(head)]
                    head += take
                    owner += [p] * len(take)
                    if len(head) >= 18:
                        break
                at, why = check_zstd_header(head, size, zstandard)
                if why:
                    raise damaged(owner[at], why)
                dobj = zstandard.ZstdDecompressor(max_window_size=ZSTD_WINDOW_MAX).decompressobj()
                for p, chunk in stored():
                    for j in range(0, len(chunk), ZSTD_FEED):
                        if dobj.eof:
                            raise damaged(p, "bytes follow the end of the zstd frame")
                        try:
                            out = dobj.decompress(chunk[j:j + ZSTD_FEED])
                        except Exception as e:
                            raise damaged(p, "zstd: %s" % (e,))
                        produced += len(out)
                        if produced > size:
                            raise damaged(p, "decodes to more than its size %d" % size)
                        h.update(out)
                        if dobj.eof and dobj.unused_data:
                            raise damaged(p, "bytes follow the end of the zstd frame")
                if not dobj.eof:
                    raise damaged(pieces[-1], "the zstd frame does not end")
            else:
                for p, chunk in stored():
                    produced += len(chunk)
                    if produced > size:
                        raise damaged(p, "stored bytes exceed its size %d" % size)
                    h.update(chunk)
            if produced != size:
                raise damaged(pieces[-1], "decodes to %d bytes, not its size %d" % (produced, size))
            if h.hexdigest() != oid:
                raise damaged(pieces[-1], "decoded bytes do not hash to its id")
        except Refusal as r:
            if getattr(r, "vol", None) is None:
                r.vol = readable[current[0]["pack"]]
            raise


def check_zstd_header(head, size, zstandard):
    """Check the start of an object's stored bytes (up to 18 bytes): (index, why) with
    the index of the byte that shows the fault, or (None, None) when the header is fine."""
    for i in range(min(4, len(head))):
        if head[i] != ZSTD_MAGIC[i]:
            return i, "stored bytes do not begin with the zstd frame magic number " \
                      "(a skippable frame is not allowed, §7.3)"
    if len(head) < 5:
        return len(head) - 1, "stored bytes end inside the zstd frame header"
    # RFC 8878 §3.1.1.1: the frame header's size follows from its descriptor byte
    fhd = head[4]
    single = (fhd >> 5) & 1
    fcs_size = [1 if single else 0, 2, 4, 8][fhd >> 6]
    hsize = 5 + (0 if single else 1) + [0, 1, 2, 4][fhd & 3] + fcs_size
    if fhd & 0x08:
        return 4, "zstd frame header: reserved bit set"
    if len(head) < hsize:
        return len(head) - 1, "stored bytes end inside the zstd frame header"
    try:
        fp = zstandard.get_frame_parameters(head[:hsize])
    except Exception as e:
        return hsize - 1, "zstd frame header: %s" % (e,)
    if fp.window_size > ZSTD_WINDOW_MAX:
        return hsize - 1, "zstd window size %d over 8 MiB" % fp.window_size
    if fp.content_size != zstandard.CONTENTSIZE_UNKNOWN and fp.content_size != size:
        return hsize - 1, "zstd frame declares content size %d, not %d" % (fp.content_size, size)
    return None, None


def check_header(hdr, length):
    name = hdr[0:100]
    n = name.find(b"\0")
    if n < 1 or name[n:] != bytes(100 - n) or not re.fullmatch(rb"[0-9a-z._-]+", name[:n]) \
            or name[:1] == b".":
        return "bad entry name"
    sz = re.fullmatch(rb"([0-7]+)[\0 ]*", hdr[124:136])
    if not sz:
        return "bad size field"
    if int(sz.group(1), 8) != length:
        return "size field %d, piece length %d" % (int(sz.group(1), 8), length)
    ck = re.fullmatch(rb"([0-7]+)[\0 ]*", hdr[148:156])
    if not ck:
        return "bad checksum field"
    if int(ck.group(1), 8) != sum(hdr[:148]) + 8 * 32 + sum(hdr[156:]):
        return "wrong header checksum"
    if hdr[156:157] != b"0":
        return "entry type %r is not a regular file ('0')" % hdr[156:157]
    if hdr[157:257] != bytes(100):
        return "link name is not zero"
    if hdr[257:265] != b"ustar\x0000":
        return "magic/version are not ustar\\0 00"
    if hdr[345:500] != bytes(155):
        return "prefix is not zero"
    return None


def pread_exact(fd, n, off, rel):
    parts = []
    got = 0
    while got < n:
        try:
            b = os.pread(fd, n - got, off + got)
        except OSError as e:
            raise Refusal("unreadable", rel, "%s: %s" % (rel, e))
        if not b:
            raise Refusal("truncated", rel, "%s ended while decoding" % rel)
        parts.append(b)
        got += len(b)
    return b"".join(parts)


class PackFiles(object):
    """A few open pack files (reopened safely, checked to be of the manifest's size)."""

    def __init__(self, mf, readable):
        self.mf = mf
        self.readable = readable
        self.open = collections.OrderedDict()

    def get(self, name):
        if name in self.open:
            self.open.move_to_end(name)
            return self.open[name]
        vol = self.readable[name]
        rel = "packs/%s.ferrypack" % name
        fd, size = open_regular(vol.dirfd, rel)
        if size != self.mf.packs[name]["size"]:
            os.close(fd)
            raise Refusal("corrupt", rel, "%s changed size" % rel)
        self.open[name] = fd
        while len(self.open) > 32:
            _, old = self.open.popitem(last=False)
            os.close(old)
        return fd

    def close(self):
        for fd in self.open.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self.open.clear()


def parse_list(message):
    if not message.startswith(b"SHA256 (volume.toml) = "):
        raise ValueError("the message does not begin with 'SHA256 (volume.toml) = '")
    if b"\r" in message:
        raise ValueError("CR in the list")
    if not message.endswith(b"\n"):
        raise ValueError("the last line does not end with LF")
    text = message.decode("utf-8", "strict")
    entries = []
    seen = set()
    for line in text[:-1].split("\n"):
        m = LIST_LINE.fullmatch(line)
        if not m:
            raise ValueError("bad line %r" % line[:200])
        path, digest = m.group(1), m.group(2)
        try:
            check_relative_path(path, "listed path")
        except Invalid as e:
            raise ValueError(str(e))
        if path in seen:
            raise ValueError("%s listed twice" % path)
        seen.add(path)
        entries.append((path, digest))
    if entries[0][0] != "volume.toml":
        raise ValueError("the first line does not name volume.toml")
    return entries


def parse_volume_toml(data):
    first = data.split(b"\n", 1)[0]
    if first != b'format = "ferry-volume/1"':
        raise ValueError("first line %r: not format ferry-volume/1 (unknown version; this reader "
                         "reads ferry-volume/1)" % first[:100].decode("utf-8", "replace"))
    m = VOLUME_TOML.fullmatch(data)
    if not m:
        raise ValueError("not the four-line canonical form")
    bundle = m.group(1).decode("ascii")
    volume, volumes = int(m.group(2)), int(m.group(3))
    if volume > I63 or volumes > I63:
        raise ValueError("integer out of range")
    if not (1 <= volume <= volumes) or volumes > 9999:
        raise ValueError("volume %d of %d is out of range" % (volume, volumes))
    return bundle, volume, volumes


# ---------------------------------------------------------------------------------------

def main(argv):
    keys_paths = []
    deep = False
    dirs = []
    args = list(argv)
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--trust":
            if i + 1 >= len(args):
                log("usage: reader.py --trust KEY.pub [--deep] VOLDIR...")
                return 2
            keys_paths.append(args[i + 1])
            i += 2
            continue
        if a.startswith("--trust="):
            keys_paths.append(a[len("--trust="):])
        elif a == "--deep":
            deep = True
        elif a == "--":
            dirs.extend(args[i + 1:])
            break
        elif a.startswith("--"):
            log("unknown option %s" % a)
            return 2
        else:
            dirs.append(a)
        i += 1
    if not keys_paths or not dirs:
        log("usage: reader.py --trust KEY.pub [--deep] VOLDIR...")
        return 2
    keys = []
    for p in keys_paths:
        try:
            keys.append(load_public_key(p))
        except Exception as e:
            log("%s: not a usable public key: %s" % (p, e))
            return 2
    try:
        ok, findings, missing = Reader(keys, deep).run(dirs)
    except Exception as e:  # last resort: never a traceback
        log("unexpected error: %r" % (e,))
        ok, findings, missing = False, [("-", "-", "unreadable")], []
    out = ["result: %s" % ("ok" if ok else "fail")]
    for v, f, k in findings:
        out.append("finding: %s %s %s" % (v, f, k))
    for n in missing:
        out.append("missing: %d" % n)
    sys.stdout.write("\n".join(out) + "\n")
    sys.stdout.flush()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
