"""Build kube-apiserver and kube-controller-manager once, offline, from Debian's source package.

No registry ships these binaries, so we compile Debian bookworm's `kubernetes` source package
(1.20.2, Go dependencies vendored) with Debian's Go 1.19 in a private prefix. The result is
cached in the user cache directory, keyed by version, never in the repository. The system apt
configuration is left untouched: source fetching goes through a private apt config.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

KUBE_VERSION = "1.20.2"
BINARIES = ("kube-apiserver", "kube-controller-manager", "etcd")
BUILD_PACKAGES = (
    "golang-1.19-go",
    "golang-1.19-src",
    "etcd-server",
    "rsync",
    "make",
    "golang-github-modern-go-reflect2-dev",
    "golang-github-json-iterator-go-dev",
)
# Vendored copies too old for Go 1.19: the server crashes on its first custom-object create.
REPLACED_VENDOR = ("github.com/modern-go/reflect2", "github.com/json-iterator/go")


def cache_dir() -> Path:
    """Where the built binaries live: outside the repository, keyed by version."""
    base = os.environ.get("LIFEBOAT_KUBE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "lifeboat"
    )
    return Path(base) / f"kubernetes-{KUBE_VERSION}"


def cached_binaries() -> dict[str, Path] | None:
    """The cached binaries, or None when any is missing."""
    paths = {name: cache_dir() / name for name in BINARIES}
    return paths if all(p.is_file() for p in paths.values()) else None


def _run(cmd: list[str], **kwargs: object) -> None:
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True, **kwargs)  # type: ignore[call-overload]


def _private_apt_config(root: Path) -> list[str]:
    """apt options for a private config: the machine's own sources, binary and source entries.

    Its own package lists too, so the build needs no `apt-get update` of the system's lists.
    """
    for sub in ("etc/sources.list.d", "lists/partial", "cache/archives/partial"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for source in glob.glob("/etc/apt/sources.list.d/*.sources"):
        text = Path(source).read_text()
        (root / "etc/sources.list.d" / Path(source).name).write_text(
            text.replace("Types: deb\n", "Types: deb deb-src\n")
        )
    return [
        "-o", f"Dir::Etc::SourceList={root}/etc/none.list",
        "-o", f"Dir::Etc::SourceParts={root}/etc/sources.list.d",
        "-o", f"Dir::State::Lists={root}/lists",
        "-o", f"Dir::Cache::Archives={root}/cache/archives",
    ]  # fmt: skip


def build() -> dict[str, Path]:
    """Build (or reuse) the binaries; return their paths."""
    found = cached_binaries()
    if found:
        return found
    work = Path(tempfile.mkdtemp(prefix="lifeboat-kubebuild-"))
    try:
        prefix = work / "prefix"
        debs = work / "debs"
        debs.mkdir()
        apt_opts = _private_apt_config(work / "apt")
        _run(["apt-get", *apt_opts, "update"])
        _run(["apt-get", *apt_opts, "download", *BUILD_PACKAGES], cwd=debs)
        for deb in sorted(debs.glob("*.deb")):
            _run(["dpkg", "-x", str(deb), str(prefix)])
        src_dir = work / "src"
        src_dir.mkdir()
        _run(["apt-get", *apt_opts, "source", "--download-only", "kubernetes"], cwd=src_dir)
        dsc = next(src_dir.glob("kubernetes_*.dsc"))
        _run(["dpkg-source", "--no-check", "-x", dsc.name, "tree"], cwd=src_dir)
        tree = src_dir / "tree"
        gocode = prefix / "usr/share/gocode/src"
        for module in REPLACED_VENDOR:
            vendored = tree / "vendor" / module
            shutil.rmtree(vendored)
            shutil.copytree(gocode / module, vendored)
        goroot = prefix / "usr/lib/go-1.19"
        env = {
            **os.environ,
            "GOROOT": str(goroot),
            "PATH": f"{goroot}/bin:{prefix}/usr/bin:{os.environ['PATH']}",
            "GOPROXY": "off",
            "GOFLAGS": "-mod=vendor",
            "CGO_ENABLED": "0",
            "GOCACHE": str(work / "gocache"),
            "GOPATH": str(work / "gopath"),
            "KUBE_GIT_VERSION": f"v{KUBE_VERSION}",
        }
        _run(
            [
                "make",
                "WHAT=cmd/kube-apiserver cmd/kube-controller-manager",
                "GOLDFLAGS=-s -w",
            ],
            cwd=tree,
            env=env,
        )
        out = cache_dir()
        out.mkdir(parents=True, exist_ok=True)
        built = tree / "_output/local/bin/linux/amd64"
        if not built.is_dir():
            built = next(p.parent for p in tree.glob("_output/**/kube-apiserver"))
        for name in ("kube-apiserver", "kube-controller-manager"):
            shutil.copy2(built / name, out / f".{name}.tmp")
            os.replace(out / f".{name}.tmp", out / name)
        shutil.copy2(prefix / "usr/bin/etcd", out / ".etcd.tmp")
        os.replace(out / ".etcd.tmp", out / "etcd")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    found = cached_binaries()
    assert found, "build finished but binaries are missing"
    return found


if __name__ == "__main__":
    for name, path in build().items():
        print(f"{name}: {path}")
