"""The streamfan Lua scripts, loaded from the very files the TypeScript library embeds.

The scripts' bodies are the protocol (docs/PROTOCOL.md): a foreign consumer must run the same
text, never a copy. This module reads ``packages/core/src/scripts/lua/<name>-<keys>.lua`` and
resolves ``-- @include <name>`` lines from ``includes/`` exactly as
``packages/core/tools/embed-lua.mjs`` does, so the SHA1 of each script equals the one the
TypeScript library sends with EVALSHA (the test checks this for every script).

Set ``STREAMFAN_LUA_DIR`` to read the scripts from elsewhere: e.g. a folder written by
``python -m streamfan_consumer export <dir>`` (includes resolved), to ship with a service
deployed without the repository.
"""
from __future__ import annotations

import hashlib
import os
import re
from functools import lru_cache
from pathlib import Path

_INCLUDE = re.compile(r"^-- @include (\w+)\s*$", re.MULTILINE)
_FILE = re.compile(r"^(\w+)-(\d+|N)\.lua$")


def lua_dir() -> Path:
    """Where the scripts are: $STREAMFAN_LUA_DIR, else the repository's packages/core/src/scripts/lua."""
    env = os.environ.get("STREAMFAN_LUA_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "packages" / "core" / "src" / "scripts" / "lua"


def _resolve(source: str, directory: Path) -> str:
    def include(m: re.Match[str]) -> str:
        text = (directory / "includes" / f"{m.group(1)}.lua").read_text(encoding="utf-8")
        return text.rstrip()  # as JavaScript's trimEnd()

    return _INCLUDE.sub(include, source)


@lru_cache(maxsize=None)
def all_sources(directory: str | None = None) -> dict[str, str]:
    """Every script by name (``ackBatch``, ``failEntry``...), includes resolved."""
    d = Path(directory) if directory else lua_dir()
    if not d.is_dir():
        raise FileNotFoundError(
            f"streamfan Lua scripts not found in {d}: run from a checkout of the streamfan repository, "
            "or set STREAMFAN_LUA_DIR to a folder of the scripts"
        )
    out: dict[str, str] = {}
    for f in sorted(d.iterdir()):
        m = _FILE.match(f.name)
        if m:
            out[m.group(1)] = _resolve(f.read_text(encoding="utf-8"), d)
    return out


def source(name: str) -> str:
    """One script's text, includes resolved."""
    try:
        return all_sources()[name]
    except KeyError:
        raise KeyError(f"no streamfan script named {name!r} in {lua_dir()}") from None


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def export(target: str) -> None:
    """Write every script, includes resolved, to `target` under its file name (``ackBatch-N.lua``...)."""
    d = lua_dir()
    out = Path(target)
    out.mkdir(parents=True, exist_ok=True)
    for f in sorted(d.iterdir()):
        if _FILE.match(f.name):
            (out / f.name).write_text(_resolve(f.read_text(encoding="utf-8"), d), encoding="utf-8")

