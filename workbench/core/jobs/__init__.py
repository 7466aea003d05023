"""The job system: the queue (queue.py), the runner of one job's units (runner.py) and the worker process
(worker.py).
"""
