"""A deliberately broken user plugin around json: BROKEN_MODE is
"<where>[+<where>...][:<kind>]", where in before/after/extract, kind in
error (RuntimeError), base (a BaseException subclass), genexit (GeneratorExit)."""
import os

from _agent_run.plugin import Plugin


class PluginBaseError(BaseException):
    pass


MODE = os.environ.get("BROKEN_MODE", "before")
WHERE, _, KIND = MODE.partition(":")
ORIGINALS = {}

plugin = Plugin("broken", modules=("json",))


def fail(call):
    if KIND == "base":
        raise PluginBaseError("broken plugin (BaseException)")
    if KIND == "genexit":
        raise GeneratorExit("broken plugin (GeneratorExit)")
    raise RuntimeError("broken plugin")


@plugin.on_import("json")
def patch(json, patcher):
    ORIGINALS["dumps"] = json.__dict__["dumps"]
    ORIGINALS["loads"] = json.__dict__["loads"]
    ORIGINALS["encode"] = json.JSONEncoder.__dict__["encode"]
    options = dict((where, fail) for where in WHERE.split("+"))
    patcher.wrap(json, "dumps", **options)
    patcher.wrap(json, "loads", **options)
    patcher.wrap(json.JSONEncoder, "encode", **options)
