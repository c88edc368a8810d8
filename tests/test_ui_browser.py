"""The lineage page as a person uses it: a small pipeline runs on the sample crawl, `zhinao ui` is
started from the command line like the README says, and headless Chromium (Debian's chromium and
chromium-driver, installed by deployments/local/setup-browser.sh) opens it: the graph renders,
clicking a version opens its page with its plot visible. ZHINAO_UI_SCREENSHOTS=folder keeps
screenshots of the pages (the README's come from there)."""
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from zhinao.model.launch import free_port

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver "
                                                                    "(bash deployments/local/setup-browser.sh)")


@pytest.fixture(scope="module")
def pipeline_home(prefect_harness, sample_crawl, tmp_path_factory):
    """ingest -> ... -> dedup-minhash, and a tokenizer (a model version with a plot) trained on it."""
    home = tmp_path_factory.mktemp("ui-home")
    saved = os.environ.get("ZHINAO_HOME")
    os.environ["ZHINAO_HOME"] = str(home)
    try:
        from zhinao.tasks.dedup.exact_stage import ExactDedupParams
        from zhinao.flows.stages import dedup_exact
        from zhinao.tasks.dedup.minhash_stage import MinHashParams
        from zhinao.flows.stages import dedup_minhash
        from zhinao.tasks.extract.stage import ExtractParams
        from zhinao.flows.stages import extract
        from zhinao.tasks.ingest.stage import IngestParams
        from zhinao.flows.stages import ingest
        from zhinao.tasks.langid.stage import LangIdParams
        from zhinao.flows.stages import langid
        from zhinao.tasks.quality.stage import QualityParams
        from zhinao.flows.stages import quality
        from zhinao.tasks.tokenizer.stage import TokenizerParams
        from zhinao.flows.stages import tokenizer

        ingest(IngestParams(sources=[str(sample_crawl)], use_ray=False))
        for flow, params in ((extract, ExtractParams), (langid, LangIdParams), (quality, QualityParams),
                             (dedup_exact, ExactDedupParams), (dedup_minhash, MinHashParams)):
            minhash = flow(params(use_ray=False))      # the last one: dedup-minhash
        tok = tokenizer(TokenizerParams(use_ray=False, vocab_size=400, compare_with=["all-MiniLM-L6-v2"]),
                        inputs={"mix-stage1": minhash.ref})
        yield home, minhash, tok
    finally:
        if saved is None:
            os.environ.pop("ZHINAO_HOME", None)
        else:
            os.environ["ZHINAO_HOME"] = saved


@pytest.fixture(scope="module")
def ui_server(pipeline_home):
    home = pipeline_home[0]
    port = free_port()
    env = os.environ | {"ZHINAO_HOME": str(home)}
    log = open(home / "ui.log", "w")
    zhinao = Path(sys.executable).parent / "zhinao"            # the installed command, as the README runs it
    proc = subprocess.Popen([str(zhinao), "ui", "--port", str(port)], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/versions", timeout=2) as r:
                    json.load(r)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"zhinao ui did not answer: {(home / 'ui.log').read_text()}")
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1500,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def shot(driver, name: str) -> None:
    folder = os.environ.get("ZHINAO_UI_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"{name}.png"))


def test_the_graph_renders_and_a_click_opens_a_version_with_its_plot(ui_server, browser, pipeline_home):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    home, minhash, tok = pipeline_home
    wait = WebDriverWait(browser, 30)
    browser.get(ui_server)
    nodes = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#graph g.node"))
    with urllib.request.urlopen(f"{ui_server}/api/graph") as r:
        api = json.load(r)
    assert len(nodes) == len(api["nodes"]) == 7                 # ingest ... dedup-minhash, tokenizer
    box = nodes[0].find_element(By.TAG_NAME, "rect")
    assert box.size["width"] > 50 and box.size["height"] > 10   # drawn, not just in the DOM
    shot(browser, "graph")

    browser.find_element(By.CSS_SELECTOR, f"g.node[data-ref='{tok.ref}']").click()
    wait.until(ec.url_contains("/version/"))
    assert tok.ref in browser.title
    image = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, ".plots img"))
    wait.until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image))
    assert image.is_displayed() and image.size["width"] > 100
    assert minhash.ref in browser.find_element(By.TAG_NAME, "main").text       # its parent is listed
    shot(browser, "version")

    browser.get(f"{ui_server}/version/{minhash.ref}")
    text = browser.find_element(By.TAG_NAME, "main").text
    assert "near_duplicate" in text or "minhash" in text.lower()
    assert "Sample rows" in text
    shot(browser, "dedup")


def test_prefect_artifacts_link_to_the_page_and_its_plots(ui_server, pipeline_home):
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    home, minhash, tok = pipeline_home

    async def artifacts():
        async with get_client() as client:
            return await client.read_artifacts(artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["tokenizer-plots", "tokenizer-lineage"])))

    from zhinao.tasks.store import Store

    run_id = Store(str(home / "store"), str(home / "catalog.sqlite")).resolve(tok.ref).flow_run_id
    found = {a.key: a.data for a in asyncio.run(artifacts()) if str(a.flow_run_id) == run_id}
    plot_url = f"http://127.0.0.1:8765/file/{tok.ref}/compression.png"
    assert plot_url in found["tokenizer-plots"] and str(home) not in found["tokenizer-plots"]
    assert f"http://127.0.0.1:8765/version/{tok.ref.replace('@', '%40')}" in found["tokenizer-lineage"]
    served = plot_url.replace("http://127.0.0.1:8765", ui_server)    # the test's page runs on a free port
    with urllib.request.urlopen(served) as r:
        assert r.headers["content-type"] == "image/png" and r.read()[:4] == b"\x89PNG"


def test_trace_shows_a_dropped_near_duplicate_with_its_kept_twin(ui_server, browser, pipeline_home):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from zhinao.tasks.provenance.trace import drop_record
    from zhinao.tasks.store import Store

    home, minhash, tok = pipeline_home
    store = Store(str(home / "store"), str(home / "catalog.sqlite"))
    record = drop_record(store, store.resolve(minhash.ref)).to_pylist()
    dup = next(r for r in record if r["drop_reason"] == "near_duplicate")
    wait = WebDriverWait(browser, 30)
    browser.get(ui_server)
    box = browser.find_element(By.NAME, "doc")
    box.send_keys(dup["url"], Keys.ENTER)                        # by URL, as a person would have it
    wait.until(ec.url_contains("/trace"))
    table = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "main table"))
    assert "near_duplicate" in table.text and minhash.ref in table.text
    shot(browser, "trace")
    twin = browser.find_element(By.CSS_SELECTOR, f"main table a[href='/trace?doc={dup['dup_of']}']")
    twin.click()
    wait.until(ec.url_contains(dup["dup_of"]))
    rows = browser.find_elements(By.CSS_SELECTOR, "main table tr")
    last = [r.text for r in rows if minhash.ref in r.text]
    assert last and "kept" in last[0]                           # the twin went on

    # the same from the command line, on the same home
    zhinao = Path(sys.executable).parent / "zhinao"
    out = subprocess.run([str(zhinao), "trace", dup["id"]], cwd=ROOT, env=os.environ | {"ZHINAO_HOME": str(home)},
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"duplicates kept document {dup['dup_of']}" in out.stdout and "DROPPED  near_duplicate" in out.stdout
