"""`cli.one_blas_thread`: the commands and the app run NumPy's BLAS on one thread unless told otherwise."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROBE = ("import json, os, numpy; from explorer import cli; cli.one_blas_thread(); "
         "from threadpoolctl import threadpool_info; "
         "print(json.dumps([os.environ.get('OPENBLAS_NUM_THREADS'), "
         "[i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas']]))")


def probe(env: dict) -> list:
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def test_one_blas_thread_unless_set():
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    var, threads = probe(env)
    assert var == "1" and threads and set(threads) == {1}  # numpy was loaded first: limited in place
    var, threads = probe(dict(env, OPENBLAS_NUM_THREADS="2"))
    assert var == "2" and set(threads) == {2}  # a person's own setting wins
