import os

# Triton kernels run in its interpreter on CPU machines; set before any kernel is defined
if not os.environ.get("CUDA_VISIBLE_DEVICES") and not os.path.exists("/dev/nvidia0"):
    os.environ.setdefault("TRITON_INTERPRET", "1")
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def zhinao_home(tmp_path, monkeypatch):
    """Every test gets its own ZHINAO_HOME (store, catalog, sample corpus)."""
    home = tmp_path / "home"
    monkeypatch.setenv("ZHINAO_HOME", str(home))
    for var in ("ZHINAO_STORE", "ZHINAO_CATALOG", "ZHINAO_SAMPLE_CORPUS"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture(scope="session", autouse=True)
def models_dir(tmp_path_factory):
    """Converted generator models (and vLLM's compile cache) are shared by the whole session."""
    path = Path(os.environ.get("ZHINAO_TEST_MODELS") or tmp_path_factory.mktemp("models"))
    os.environ["ZHINAO_MODELS"] = str(path)
    return path


@pytest.fixture(scope="session")
def smollm2(models_dir):
    from zhinao.tasks.generate.models import DEFAULT_GENERATOR, resolve_generator_model

    return resolve_generator_model(DEFAULT_GENERATOR)


@pytest.fixture(scope="session")
def sample_crawl(tmp_path_factory):
    """The default sample crawl, generated once per session."""
    from zhinao.tasks.corpus.generate import generate

    return generate(tmp_path_factory.mktemp("sample"))


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def ray_local():
    import ray

    started = not ray.is_initialized()      # an earlier stage test may have started Ray already
    if started:
        ray.init(num_cpus=2, include_dashboard=False, configure_logging=False)
    yield
    if started:
        ray.shutdown()


def shared_data(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared test data {path} is not available")
    return path


os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """moto's standalone S3 server, one per session; each test takes its own bucket."""
    from zhinao.model.launch import terminate
    from tests.s3_server import start_s3_server

    server, proc = start_s3_server(tmp_path_factory.mktemp("s3") / "moto.log")
    yield server
    terminate(proc, 5)


@pytest.fixture(scope="session")
def tiny_pretrained(tmp_path_factory):
    """The tiny pretrain-stage2 model (our ChatML tokenizer, 256-token context), built once: the default
    base of reward-model and sft. A local HF folder; import it into a test's store as a version."""
    from tests.post_train import build_tiny_pretrained

    return build_tiny_pretrained(tmp_path_factory.mktemp("tiny-pretrained"))


@pytest.fixture(scope="session")
def trained_reward_model(tiny_pretrained, tmp_path_factory):
    """The reward-model stage's defaults on the default preference set and the tiny model, trained
    once (tests/post_train.TrainedRewardModel: its home, ref, HF folder, stats)."""
    from tests.post_train import build_reward_model

    return build_reward_model(tmp_path_factory.mktemp("reward-model"), tiny_pretrained)


@pytest.fixture(scope="session")
def topic_folder(tmp_path_factory):
    """A real fastText topic classifier, trained on the labelled sample articles (their true topics)."""
    from zhinao.tasks.corpus.labelled import labelled_articles
    from zhinao.tasks.topics.classifier import TrainConfig, train_and_evaluate
    from zhinao.tasks.topics.taxonomy import TAXONOMY_FILE

    folder = tmp_path_factory.mktemp("topics") / "model"
    rows = [r | {"topic": r["truth"]} for r in labelled_articles(3)]
    # unquantized: quantizing takes most of the training time and changes nothing here
    train_and_evaluate(rows, TrainConfig(epoch=20, bucket=50_000, dim=32, quantize=False), 0.2, folder, TAXONOMY_FILE)
    return folder
