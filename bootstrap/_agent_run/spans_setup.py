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
        import _agent_run_boot
        settings = _agent_run_boot.settings() or {}
    has_collector = _hook.configure_spans(settings or {})
    if has_collector:
        # What is still buffered leaves at exit (the flusher also sends every
        # collector.flush_interval_ms while the process lives).
        import atexit
        atexit.register(_at_exit, _hook, log)
    else:
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


def _at_exit(hook, log):
    # The plugins' health goes to the collector with the last flush (the
    # report's plugin-health section).
    try:
        from _agent_run import instrumentation
        hook.submit_health([(name, str(h.get("state")), int(h.get("calls") or 0), int(h.get("errors") or 0),
                             str(h.get("last_error") or ""))
                            for name, h in sorted(instrumentation.health().items())])
    except Exception:
        pass
    hook.flush_spans(2000)
    try:
        if log is None:
            from _agent_run import log
        st = hook.span_stats()
        if st["dropped_no_collector"]:
            # A collector that stops on its own removes its socket: one that
            # could not start has said why on the app's stderr, one that
            # drained after the app's first process exited has done its job.
            # A socket still there means it died (killed, crashed): say it
            # here, once per process.
            import os
            sock = os.environ.get("AGENT_RUN_COLLECTOR_SOCKET", "")
            if sock and os.path.exists(sock):
                log.warning("agent-run: %d spans were dropped: the collector at %s stopped while the app ran "
                            "(its log is next to the socket, or in log_file)", st["dropped_no_collector"], sock)
        if log.enabled(log.INFO):
            log.info("agent-run spans: ended=%d sent=%d dropped(no collector)=%d dropped(buffer full)=%d",
                     st["ended"], st["sent"], st["dropped_no_collector"], st["dropped_buffer_full"])
    except Exception:
        pass
