"""How the launchers lay out ranks: torch.distributed environments from where Ray placed each rank
actor (GPU sharing per node, CPU cores split), and a bad launcher name refused."""
import pytest

from zhinao.model.launch import launch
from zhinao.model.ray_ranks import plan_envs


def test_ray_ranks_on_two_gpu_nodes_share_each_nodes_gpus_by_local_rank():
    places = [{"ip": "10.0.0.1", "port": 2900, "cpus": 32, "gpus": ["3"]},
              {"ip": "10.0.0.1", "port": 2901, "cpus": 32, "gpus": ["1"]},
              {"ip": "10.0.0.2", "port": 2902, "cpus": 32, "gpus": ["0"]}]
    envs = plan_envs(places)
    assert [e["RANK"] for e in envs] == ["0", "1", "2"] and {e["WORLD_SIZE"] for e in envs} == {"3"}
    assert {(e["MASTER_ADDR"], e["MASTER_PORT"]) for e in envs} == {("10.0.0.1", "2900")}   # rank 0's node
    assert [e["CUDA_VISIBLE_DEVICES"] for e in envs] == ["1,3", "1,3", "0"]
    assert [e["LOCAL_RANK"] for e in envs] == ["1", "0", "0"]        # GPU 3 is index 1 of "1,3"
    assert [e["LOCAL_WORLD_SIZE"] for e in envs] == ["2", "2", "1"]
    assert all("OMP_NUM_THREADS" not in e for e in envs)


def test_ray_ranks_on_cpu_split_the_cores_of_their_node():
    places = [{"ip": "a", "port": 1, "cpus": 8, "gpus": []}, {"ip": "a", "port": 2, "cpus": 8, "gpus": []},
              {"ip": "b", "port": 3, "cpus": 4, "gpus": []}]
    envs = plan_envs(places)
    assert [e["OMP_NUM_THREADS"] for e in envs] == ["4", "4", "4"]
    assert [e["LOCAL_RANK"] for e in envs] == ["0", "1", "0"]
    assert all("CUDA_VISIBLE_DEVICES" not in e for e in envs)


def test_unknown_launcher_is_refused(tmp_path):
    with pytest.raises(ValueError, match="launcher 'slurm': choose one of processes, deepspeed, ray"):
        launch(tmp_path / "spec.json", 1, launcher="slurm")
