"""snacrt_build.py: a PEP 517 build backend for the snacrt Python package, standard library only (pip needs no
index, so `pip install ./python` works offline). The wheel holds snacrt/*.py, tools/snac_shard_reader.py (as
snacrt.shards reads it), weights/fetch.sh + manifest.json
(for SNAC.from_pretrained of a repo id) and, when found, the shared library: $SNACRT_LIB, else
$SNACRT_BUILD/lib/libsnacrt.so (default: ../build of this folder). With the library the wheel is tagged for this
platform; without it, py3-none-any (the library is then looked up at import time, see snacrt/_lib.py)."""
import base64, hashlib, io, os, sysconfig, zipfile

NAME, VERSION = "snacrt", "0.1.0"
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def _library():
    lib = os.environ.get("SNACRT_LIB")
    if lib and os.path.isfile(lib):
        return lib
    build = os.environ.get("SNACRT_BUILD", os.path.join(REPO, "build"))
    lib = os.path.join(build, "lib", "libsnacrt.so")
    return lib if os.path.isfile(lib) else None


def _metadata():
    return ("Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: SNAC codec and SNAC-token TTS through "
            "libsnacrt (drop-in for the snac package's SNAC API)\nRequires-Python: >=3.8\nRequires-Dist: numpy\n"
            "License: MIT\n" % (NAME, VERSION))


def _tag(lib):
    if not lib:
        return "py3-none-any"
    return "py3-none-" + sysconfig.get_platform().replace("-", "_").replace(".", "_")


def _files():
    """(archive name, bytes) of the package."""
    out = []
    pkg = os.path.join(HERE, "snacrt")
    for f in sorted(os.listdir(pkg)):
        if f.endswith(".py"):
            out.append(("snacrt/" + f, open(os.path.join(pkg, f), "rb").read()))
    reader = os.path.join(REPO, "tools", "snac_shard_reader.py")
    if os.path.isfile(reader):
        out.append(("snacrt/snac_shard_reader.py", open(reader, "rb").read()))
    for f in ("fetch.sh", "manifest.json"):
        p = os.path.join(REPO, "weights", f)
        if os.path.isfile(p):
            out.append(("snacrt/weights/" + f, open(p, "rb").read()))
    lib = _library()
    if lib:
        out.append(("snacrt/libsnacrt.so", open(lib, "rb").read()))
    return out, lib


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    d = os.path.join(metadata_directory, "%s-%s.dist-info" % (NAME, VERSION))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "METADATA"), "w") as f:
        f.write(_metadata())
    return os.path.basename(d)


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (name, digest, len(data))


def _write_wheel(wheel_directory, files, tag):
    dist = "%s-%s.dist-info" % (NAME, VERSION)
    files = list(files) + [
        (dist + "/METADATA", _metadata().encode()),
        (dist + "/WHEEL", ("Wheel-Version: 1.0\nGenerator: snacrt_build\nRoot-Is-Purelib: %s\nTag: %s\n"
                           % ("true" if tag.endswith("any") else "false", tag)).encode()),
    ]
    record = "\n".join(_record_line(n, d) for n, d in files) + "\n%s/RECORD,,\n" % dist
    files.append((dist + "/RECORD", record.encode()))
    name = "%s-%s-%s.whl" % (NAME, VERSION, tag)
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in files:
            info = zipfile.ZipInfo(n, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if n.endswith((".so", ".sh")) else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, d)
    return name


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files, lib = _files()
    return _write_wheel(wheel_directory, files, _tag(lib))


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    """An editable install: a .pth file putting this folder on sys.path."""
    return _write_wheel(wheel_directory, [("snacrt_editable.pth", (HERE + "\n").encode())], "py3-none-any")


def build_sdist(sdist_directory, config_settings=None):
    import tarfile
    base = "%s-%s" % (NAME, VERSION)
    name = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as t:
        for f in ("pyproject.toml", "snacrt_build.py"):
            t.add(os.path.join(HERE, f), base + "/" + f)
        for f in sorted(os.listdir(os.path.join(HERE, "snacrt"))):
            if f.endswith(".py"):
                t.add(os.path.join(HERE, "snacrt", f), base + "/snacrt/" + f)
        data = _metadata().encode()
        info = tarfile.TarInfo(base + "/PKG-INFO")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return name
