"""A rank module that only waits, started like every training rank (rank_main): for the test that a
rank ends with its driver."""
import sys
import time

from zhinao.model.train import rank_main

if __name__ == "__main__":
    sys.exit(rank_main(None, "tests.sleepy_rank", load=lambda path: path, inputs=lambda spec: {},
                       run=lambda spec: time.sleep(300)))
