"""A user plugin whose post-import hook raises (after patching one function),
and one whose target is already imported when the agent starts (os)."""
from _agent_run.plugin import Plugin

HOOK_RAN = []

plugin = Plugin("raising-hook", modules=("json",))


@plugin.on_import("json")
def patch(json, patcher):
    patcher.wrap(json, "dumps", timing=True)
    HOOK_RAN.append("json")
    raise RuntimeError("post-import hook failed on purpose")


already = Plugin("already-imported", modules=("os",))


@already.on_import("os")
def patch_os(os, patcher):
    HOOK_RAN.append("os")
