"""A failure another attempt would meet again (a refused checkpoint) ends a training stage at once:
its rank exits with FINAL_EXIT and the launcher's error says it is not to be retried."""
from pathlib import Path

import pytest

from zhinao.flows.retry import retryable
from zhinao.model.launch import FINAL_EXIT, TrainingFailed, describe_exit, watch
from zhinao.model.train import rank_main
from zhinao.model.weights_only import UnsafeCheckpoint


class _Ended:
    def __init__(self, code):
        self.code = code

    def poll(self):
        return "" if self.code == 0 else describe_exit(self.code)

    def stop(self, deadline):
        pass

    def flush(self):
        pass


def test_a_refused_checkpoint_ends_the_rank_with_the_final_status(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text("{}")

    def refuse(_spec):
        raise UnsafeCheckpoint("mp_rank_00_model_states.pt: refused")

    assert rank_main([str(spec)], "zhinao.model.train", lambda p: p, lambda s: {}, refuse) == FINAL_EXIT

    def crash(_spec):
        raise RuntimeError("a worker fell over")

    with pytest.raises(RuntimeError):        # anything else is the launcher's usual failure
        rank_main([str(spec)], "zhinao.model.train", lambda p: p, lambda s: {}, crash)


@pytest.mark.parametrize("code, again", [(FINAL_EXIT, False), (1, True), (-9, True)])
def test_the_launcher_passes_on_whether_a_retry_can_help(tmp_path: Path, code, again):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "rank-0.log").write_text("stopping: refused\n")
    with pytest.raises(TrainingFailed) as e:
        watch([_Ended(code)], tmp_path / "spec.json", tmp_path / "logs", None, 0.01)
    assert retryable(e.value) is again
