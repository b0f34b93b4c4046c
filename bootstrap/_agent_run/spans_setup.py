"""The span pipeline's configuration, once per process: limits and the
sink's options from the settings (spans.*, collector.flush_interval_ms,
service_name), the collector socket from AGENT_RUN_COLLECTOR_SOCKET. Without
a collector, spans are dropped and counted, and this says so once."""

_done = False


def configure(settings=None, log=None):
    global _done
    if _done:
        return
    _done = True
    from _agent_run import _hook
    if settings is None:
        try:
            from _agent_run import boot
            settings = boot.state[0] if boot.state else {}
        except Exception:
            settings = {}
    if not _hook.configure_spans(settings or {}):
        if log is None:
            try:
                from _agent_run import log
            except Exception:
                log = None
        if log is not None:
            try:
                log.warning("agent-run: no collector (AGENT_RUN_COLLECTOR_SOCKET is not set): "
                            "spans are dropped and counted")
            except Exception:
                pass
