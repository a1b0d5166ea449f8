"""What ``/metrics`` reports: every figure is read from the job database at scrape time.

Why the database and not prometheus-client's multiprocess mode: the engines that admit, run and
notify are other processes, often on other hosts (``vatti engine`` replicas, pods), while
``/metrics`` is served by the API. Multiprocess mode only adds up processes that share one
directory on one host, loses what a restarted pod counted, and would need every engine to be
scraped. Everything the issue asks for is already a fact of the database: a job's timestamps
(submit, admission, start, end), its failure, the figures its outcome reported (a ``pgs`` job's
match rates), and the outbox's attempts and delivery times. So every API replica answers the
same, counters survive restarts of any process, and nothing is recorded twice.

Cost: gauges are one aggregate query each; histograms and counters of ended jobs and delivered
messages are folded in once (:class:`~vatti.metrics.tallies.Folding`): a scrape reads only what
ended in the last minutes. :mod:`vatti.metrics.definitions` names every metric and its labels;
labels are bounded (state, pipeline, executor, kind, destination_kind), never a job id.
"""
