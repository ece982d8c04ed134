"""``splitbrain serve``: a small web UI over the run store (stdlib http.server, no framework).

- :mod:`harness.web.store_index`: which runs and suites the store holds, with their metadata.
- :mod:`harness.web.safe_path`: request paths to files, never outside the store.
- :mod:`harness.web.pages`: the HTML pages.
- :mod:`harness.web.server`: the HTTP handler and :func:`serve`.
"""
