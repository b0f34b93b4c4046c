"""Two plugins for the fake distribution `fakelib` (a dist-info directory
named fakelib-2.5.0.dist-info, no __version__): one whose range includes
2.5.0, one whose range does not."""
from _agent_run.plugin import Plugin

APPLIED = []

inside = Plugin("fakelib-inside", modules=("fakelib",), distribution="fakelib", versions=">=2.0,<3")
outside = Plugin("fakelib-outside", modules=("fakelib",), distribution="fakelib", versions=">=1.0,<2.5")


@inside.on_import("fakelib")
def patch_inside(fakelib, patcher):
    APPLIED.append("inside")
    patcher.wrap(fakelib, "answer")


@outside.on_import("fakelib")
def patch_outside(fakelib, patcher):
    APPLIED.append("outside")
