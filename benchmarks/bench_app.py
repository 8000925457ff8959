"""Web app benchmark (run by hand, not a test):

    .venv/bin/python benchmarks/bench_app.py --workspace WS [--runs 3] [--questions 6]

WS must be a built workspace with the demo users (`guanxi demo --workspace WS`).

1. Start-up: `python app.py --workspace WS --port P` in a subprocess, timed until the page
   answers HTTP 200, `--runs` times; the same for a bare Gradio Blocks app (one Textbox, the
   same launch options) as the baseline — the ratio is printed.
2. Answers: log in with gradio_client as `manager` right after the page is up and time the
   first question through the `/ask` API (client round trip, the figure a user waits for),
   then a few more; also the time the app logs for its background warm-up.
3. Optionally (--browser) a real Chromium: page load → log in → ask → answer text and chart
   shown, the way a manager sees it.
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ENV = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
QUESTIONS = ["各省份的销售额", "哪些客户有流失风险？", "What do people buy together with green tea?",
             "上个季度投诉最多的问题是什么？", "What is the repurchase rate?", "每月销售额趋势",
             "Which customer segments do we have?", "复购率是多少？"]

BARE_APP = """
import os, sys
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
import gradio as gr
with gr.Blocks(analytics_enabled=False) as demo:
    gr.Textbox()
demo.launch(server_name="127.0.0.1", server_port=int(sys.argv[1]), auth=lambda u, p: True, quiet=True)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], port: int, log: Path, timeout: float = 120) -> tuple[subprocess.Popen, float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    while time.perf_counter() - t0 < timeout:
        try:
            urllib.request.urlopen(url, timeout=2)
            return proc, time.perf_counter() - t0
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"{cmd} exited:\n{log.read_text()}")
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"{cmd} did not start in {timeout} s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def warmup_seconds(log: Path, wait: float = 60) -> str:
    t0 = time.time()
    while time.time() - t0 < wait:
        for line in log.read_text().splitlines():
            if "warm-up" in line:
                return line.split("warm-up", 1)[1].strip()
        time.sleep(0.2)
    return "not reported"


def browser_first_answer(url: str) -> dict:
    from playwright.sync_api import expect, sync_playwright
    out = {}
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = b.new_page(viewport={"width": 1400, "height": 1000})
        t0 = time.perf_counter()
        page.goto(url)
        page.get_by_label("username").fill("manager")
        page.get_by_label("password").fill("guanxi-manager")
        page.get_by_role("button", name="Login").click()
        expect(page.locator("#whoami")).to_contain_text("manager", timeout=60_000)
        out["page_loaded_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        page.fill("#question textarea", "各省份的销售额")
        page.click("#send")
        expect(page.locator("#chatbot")).to_contain_text("按省份", timeout=60_000)
        out["answer_text_s"] = time.perf_counter() - t1
        expect(page.locator("#chatbot .js-plotly-plot").first).to_be_visible(timeout=60_000)
        out["answer_with_chart_s"] = time.perf_counter() - t1
        b.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workspace", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--questions", type=int, default=6)
    ap.add_argument("--browser", action="store_true", help="also time a real Chromium session")
    args = ap.parse_args()
    from gradio_client import Client

    tmp = Path(tempfile.mkdtemp(prefix="bench-app-"))
    bare_py = tmp / "bare_app.py"
    bare_py.write_text(BARE_APP)
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    bare, app_starts, first, later, warm, browser = [], [], [], [], [], []
    for run in range(args.runs):
        port = free_port()
        proc, dt = start([sys.executable, str(bare_py), str(port)], port, tmp / "bare.log")
        bare.append(dt)
        stop(proc)

        port = free_port()
        log = tmp / f"app-{run}.log"
        proc, dt = start([sys.executable, str(ROOT / "app.py"), "--workspace", args.workspace, "--port", str(port)],
                         port, log)
        app_starts.append(dt)
        try:
            url = f"http://127.0.0.1:{port}"
            t0 = time.perf_counter()
            client = Client(url, auth=("manager", "guanxi-manager"), verbose=False)
            login = time.perf_counter() - t0
            t0 = time.perf_counter()
            client.predict(QUESTIONS[0], api_name="/ask")
            first.append(time.perf_counter() - t0)
            for q in QUESTIONS[1:args.questions]:
                t0 = time.perf_counter()
                client.predict(q, api_name="/ask")
                later.append(time.perf_counter() - t0)
            warm.append(warmup_seconds(log))
            if args.browser:
                browser.append(browser_first_answer(url))
            print(f"run {run + 1}: bare Gradio {bare[-1]:.2f} s · app up {app_starts[-1]:.2f} s · log-in {login:.2f} s"
                  f" · first answer {first[-1]:.2f} s (right after start) · warm-up {warm[-1]}", flush=True)
        finally:
            stop(proc)

    med = statistics.median
    print("\nstart-up until the page answers (median of runs):")
    print(f"  bare Gradio Blocks app : {med(bare):6.2f} s")
    print(f"  Guanxi app             : {med(app_starts):6.2f} s   ratio {med(app_starts) / med(bare):.2f}× the bare app"
          f"   (target ≤ 15 s)")
    print("answers through /ask (client round trip):")
    print(f"  first question right after start : median {med(first):.2f} s, max {max(first):.2f} s   (target ≤ 2 s)")
    if later:
        print(f"  later questions                  : median {med(later):.2f} s, max {max(later):.2f} s"
              f"  ({len(later)} answers)")
    if browser:
        for key in ("page_loaded_s", "answer_text_s", "answer_with_chart_s"):
            vals = [b[key] for b in browser]
            print(f"  browser {key:<20}: median {med(vals):.2f} s, max {max(vals):.2f} s")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
