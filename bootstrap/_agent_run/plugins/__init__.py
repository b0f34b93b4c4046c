"""The built-in plugins: one small module per library in this package.

Their table (name, module in this package, target modules, startup) is in
the boot module (src/boot/plugin_table.cpp), which reads it at every start
without importing any of this. A plugin's module is imported only when the
app imports one of its target modules. `startup`, when not None, names a
function of the plugin's module, fn(settings, log), run when the plugin
machinery starts.
"""
import _agent_run_boot as _boot

BUILTIN = _boot.builtin_plugins()


def under_uwsgi(settings=None):
    """uWSGI embeds Python and calls the app from C: the wsgi plugin must set
    its post-fork hook before any import."""
    return _boot.under_uwsgi()
