"""``python -m streamfan_consumer scripts``: name and SHA1 of each streamfan script, as loaded.
``python -m streamfan_consumer export <dir>``: write every script, includes resolved, to <dir>
(then point STREAMFAN_LUA_DIR at it where the repository is not deployed)."""
import sys

from . import lua

if len(sys.argv) == 3 and sys.argv[1] == "export":
    lua.export(sys.argv[2])
elif len(sys.argv) == 2 and sys.argv[1] == "scripts":
    for name, text in lua.all_sources().items():
        print(name, lua.sha1(text))
else:
    sys.exit(__doc__)
