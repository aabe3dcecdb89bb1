#!/usr/bin/env python3
"""`make bench`: the filter's cost against Envoy passthrough and against LiteLLM, side by side.

Everything runs in one go, on this machine, against one fake Bedrock:
  upstream   Envoy answering from memory with fixed Converse / ConverseStream bodies
             (bench/upstream.yaml, bodies from bench/gen_data.py); measured alone first
  passthrough (A) the gateway's own envoy/envoy.yaml, rendered as envoy/gateway.py renders it,
             with the wasm filter entry removed; clients send the Converse requests the filter
             would have produced, straight to /model/{id}/converse[-stream]
  floors     the passthrough config with bench/noop-filter: doing nothing (the cost of any Wasm
             filter), and going through the motions a translating filter cannot skip (hold the
             headers for the body, write body and headers back, hold and write back the answer)
  filter     the same rendered config with the filter, signing with static dummy keys
  LiteLLM    the LiteLLM proxy (bench/.venv-litellm) with its Bedrock Converse provider

Both Envoys run one worker thread pinned to CPU 0, and so does LiteLLM (one process); the load
generators and the fake Bedrock share CPU 1. Rounds alternate A, filter, LiteLLM so drift in
the machine's load hits all three alike. Results: a Markdown report on stdout and in
target/bench/results.md, raw numbers in target/bench/results.json.
"""

import argparse
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "envoy"))
import gateway  # noqa: E402  (the renderer `make run` uses)

sys.path.insert(0, str(ROOT / "bench"))
from gen_data import MODEL_FIRST, MODEL_LONG, MODEL_SHORT, MODEL_SLOW  # noqa: E402

OUT = ROOT / "target" / "bench"
DATA = OUT / "data"
TOOLS = ROOT / "target" / "bench-tools" / "release" / "bench-tools"
TOOLS_WASM = ROOT / "target" / "bench-tools" / "wasm32-wasip1" / "release" / "bench-tools.wasm"
ENVOY = ROOT / ".venv" / "bin" / "envoy"
LITELLM = ROOT / "bench" / ".venv-litellm" / "bin" / "litellm"
WRK_SCRIPT = ROOT / "bench" / "wrk.lua"
NOOP_WASM = ROOT / "target" / "bench-noop" / "wasm32-wasip1" / "release" / "noop_filter.wasm"
CLIENT_KEY = "bench-key"
LITELLM_KEY = "sk-" + CLIENT_KEY
SERVER_CPU, CLIENT_CPU = "0", "1"
STREAM_DONE = "data: [DONE]"
# The passthrough client reads raw event-stream frames; the last one is the metadata event.
EVENTSTREAM_DONE = "metadata"


# bench/noop-filter's configuration per floor (any other configuration makes it do nothing).
FLOOR_LEVELS = {"rewrite floor": "response"}
# Measured for requests/s only: the rewrite floor holds whole response bodies, streams too.
NONSTREAM_ONLY = {"rewrite floor"}

# 1-minute load average when each phase starts: other work on the machine shows up here.
PHASE_LOAD = {}


def log(msg):
    if not msg.startswith("WARNING"):
        PHASE_LOAD[msg.split(":")[0]] = round(os.getloadavg()[0], 2)
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def pinned(cpu, cmd):
    return ["taskset", "-c", cpu, *cmd] if (os.cpu_count() or 1) >= 2 else cmd


class Processes:
    """Servers started by this run; each is stopped by its own PID at exit."""

    def __init__(self):
        self.procs = []

    def start(self, name, cmd, env, cwd=None):
        logfile = open(OUT / f"{name}.log", "w")
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=logfile,
                                start_new_session=True)
        self.procs.append(proc)
        return proc

    def stop_all(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_until(check, what, proc, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited early (code {proc.returncode}); see {OUT}/*.log")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{what} did not come up in {timeout}s; see {OUT}/*.log")


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def start_envoy(procs, name, config_text, env):
    config = OUT / f"{name}.yaml"
    config.write_text(config_text)
    admin_file = OUT / f"{name}.admin"
    admin_file.unlink(missing_ok=True)
    cmd = [str(ENVOY), "-c", str(config), "--concurrency", "1", "--use-dynamic-base-id",
           "--admin-address-path", str(admin_file), "-l", "warning"]
    cpu = CLIENT_CPU if name == "upstream" else SERVER_CPU
    proc = procs.start(name, pinned(cpu, cmd), env)
    wait_until(lambda: admin_file.exists() and admin_file.read_text().strip()
               and http_get(f"http://{admin_file.read_text().strip()}/ready").strip() == "LIVE",
               name, proc)
    return proc, admin_file.read_text().strip()


def render(template, env):
    out = subprocess.run(["sh", str(ROOT / "envoy" / "render.sh"), str(template)], env=env,
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(out.stderr.strip())
    return out.stdout


def without_wasm_filter(config_text):
    """The rendered gateway config minus its one wasm HTTP filter entry (up to the router)."""
    lines = config_text.splitlines(keepends=True)
    starts = [i for i, l in enumerate(lines) if l.strip() == "- name: envoy.filters.http.wasm"]
    ends = [i for i, l in enumerate(lines) if l.strip() == "- name: envoy.filters.http.router"]
    if len(starts) != 1 or len(ends) != 1 or ends[0] <= starts[0]:
        raise SystemExit("envoy/envoy.yaml changed shape: cannot find its one wasm filter entry")
    return "".join(lines[:starts[0]] + lines[ends[0]:])


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def envoy_memory(admin):
    mem = json.loads(http_get(f"http://{admin}/memory"))
    return {"allocated": int(mem.get("allocated", 0)), "heap_size": int(mem.get("heap_size", 0))}


def wasm_stats(admin):
    stats = {}
    for line in http_get(f"http://{admin}/stats?filter=wasm").splitlines():
        name, _, value = line.partition(": ")
        if value.strip().isdigit():
            stats[name] = int(value)
    return stats


def run_wrk(url, body, auth, connections, seconds):
    env = dict(os.environ, BENCH_BODY=str(body), BENCH_AUTH=auth or "")
    cmd = pinned(CLIENT_CPU, ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
                              "-s", str(WRK_SCRIPT), url])
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    line = next((l for l in out.stdout.splitlines() if l.startswith("BENCH ")), None)
    if line is None:
        raise SystemExit(f"wrk failed for {url}: {out.stdout}{out.stderr}")
    r = json.loads(line[len("BENCH "):])
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["errors"] = sum(r[k] for k in ("connect_errors", "read_errors", "write_errors",
                                      "status_errors", "timeouts"))
    return r


def run_tool(*args):
    out = subprocess.run(pinned(CLIENT_CPU, [str(TOOLS), *args]), capture_output=True, text=True,
                         check=False)
    if out.returncode != 0:
        raise SystemExit(out.stderr.strip() or f"bench-tools {args[0]} failed")
    return out.stdout


class Target:
    """One server under test and how to ask it for each kind of answer."""

    def __init__(self, name, port, auth, paths, bodies, done):
        self.name, self.port, self.auth = name, port, auth
        self.paths, self.bodies, self.done = paths, bodies, done

    def url(self, kind):
        return f"http://127.0.0.1:{self.port}{self.paths[kind]}"

    def stream_args(self, kind):
        args = ["--addr", f"127.0.0.1:{self.port}", "--path", self.paths[kind],
                "--body", str(self.bodies[kind]), "--expect", self.done]
        if self.auth:
            args += ["--header", f"authorization: Bearer {self.auth}"]
        return args


def median(values):
    return statistics.median(values) if values else float("nan")


def machine_facts():
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    envoy_version = subprocess.run([str(ENVOY), "--version"], capture_output=True, text=True).stdout
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": model, "cores": os.cpu_count(), "memory_gib": round(mem_kib / 1048576, 1),
        "kernel": platform.release(),
        "envoy": (re.search(r"/(\d+\.\d+\.\d+)/", envoy_version) or re.search(r"(.*)", envoy_version.strip())).group(1),
        "load_before": os.getloadavg(),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=3, help="length of one wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per measurement")
    parser.add_argument("--streams", type=int, default=1000, help="concurrent streams for the memory figure")
    parser.add_argument("--no-litellm", action="store_true", help="skip LiteLLM")
    parser.add_argument("--concurrency", default="1,16,64", help="wrk connection counts")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=WASM",
                        help="also measure the filter built as this .wasm (e.g. another opt-level)")
    parser.add_argument("--parts", default="streams,memory,micro", help="what to run besides "
                        "non-streaming (comma-separated: streams, memory, micro)")
    args = parser.parse_args()

    for need, hint in ((ENVOY, "make py-deps"), (TOOLS, "make bench"), (NOOP_WASM, "make bench"),
                       (gateway.WASM, "make build")):
        if not Path(need).exists():
            raise SystemExit(f"{need} is missing: run `{hint}`")
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: `apt-get install wrk` (make bench does it)")
    use_litellm = not args.no_litellm
    if use_litellm and not LITELLM.exists():
        raise SystemExit(f"{LITELLM} is missing: run `make bench` (it installs LiteLLM there)")
    # 1,000 streams need about 3,000 sockets between the client, Envoy and the fake Bedrock.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))

    OUT.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, str(ROOT / "bench" / "gen_data.py"), str(DATA)], check=True,
                   stdout=subprocess.DEVNULL)
    facts = machine_facts()
    if facts["load_before"][0] > 0.5:
        log(f"WARNING: load average {facts['load_before'][0]:.2f}: other work is running; "
            "ratios hold up better than absolute numbers, but take final numbers on a quiet machine")

    procs = Processes()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    results = {"machine": facts}
    try:
        results.update(measure(procs, args, use_litellm))
    finally:
        procs.stop_all()
    results["machine"]["load_after"] = os.getloadavg()
    results["machine"]["load_by_phase"] = PHASE_LOAD
    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    report = markdown(results)
    (OUT / "results.md").write_text(report)
    print(report)


def measure(procs, args, use_litellm):
    workdir = Path(tempfile.mkdtemp(prefix="bench-", dir=OUT))
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "API_KEY"))}

    # The fake Bedrock.
    up_port = gateway.free_port()
    up_env = dict(base_env, UPSTREAM_PORT=str(up_port), UPSTREAM_ADMIN_PORT="0", DATA_DIR=str(DATA))
    start_envoy(procs, "upstream", render(ROOT / "bench" / "upstream.yaml", up_env), up_env)
    bedrock_url = f"http://127.0.0.1:{up_port}"

    # The gateway's config, rendered as envoy/gateway.py renders it, with and without the filter.
    gw_env = dict(base_env, API_KEY=CLIENT_KEY, AWS_REGION="us-east-1",
                  AWS_ACCESS_KEY_ID="AKIDBENCHMARKKEY",
                  AWS_SECRET_ACCESS_KEY="benchmark-secret-not-a-real-key",
                  AWS_ENDPOINT_URL_BEDROCK_RUNTIME=bedrock_url)
    # Gateways: (name, .wasm or None for no filter, whether it translates OpenAI requests).
    gateways = [("passthrough", None, False), ("wasm floor", NOOP_WASM, False),
                ("rewrite floor", NOOP_WASM, False), ("filter", gateway.WASM, True)]
    for variant in args.variant:
        name, _, path = variant.partition("=")
        gateways.append((name, Path(path), True))
    servers, ports = {}, {}
    for name, wasm, _ in gateways:
        env = dict(gw_env, PORT=str(gateway.free_port()), ADMIN_PORT="0")
        if wasm:
            env["WASM_PATH"] = str(wasm)
        env.update(gateway.render_vars(env, workdir))
        if name in FLOOR_LEVELS:
            env["PLUGIN_CONFIG"] = FLOOR_LEVELS[name]
        config = render(ROOT / "envoy" / "envoy.yaml", env)
        servers[name] = start_envoy(procs, name.replace(" ", "-"), config if wasm else without_wasm_filter(config), env)
        ports[name] = env["LISTEN_PORT"]

    if use_litellm:
        l_port = gateway.free_port()
        l_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(workdir),
                 "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR",
                 "BEDROCK_URL": bedrock_url, "CLIENT_KEY": CLIENT_KEY}
        l_config = workdir / "litellm.yaml"
        l_config.write_text(render(ROOT / "bench" / "litellm.yaml", l_env))
        # Only what LiteLLM needs: no credentials of this machine reach it.
        proc = procs.start("litellm", pinned(SERVER_CPU, [str(LITELLM), "--config", str(l_config),
                                                           "--host", "127.0.0.1", "--port", str(l_port)]),
                           l_env, cwd=workdir)
        wait_until(lambda: http_get(f"http://127.0.0.1:{l_port}/health/liveliness") is not None,
                   "litellm", proc, timeout=120)
        servers["litellm"] = (proc, None)

    # Request bodies: OpenAI JSON for the filter and LiteLLM, the filter's own Converse
    # translation of it for the passthrough.
    openai = {"json": DATA / "chat.json", "first": DATA / "chat-stream-first.json",
              "short": DATA / "chat-stream.json", "long": DATA / "chat-stream-long.json",
              "slow": DATA / "chat-stream-slow.json"}
    converse, converse_paths = {}, {}
    for kind, body in openai.items():
        converse[kind] = workdir / f"converse-{kind}.json"
        converse_paths[kind] = run_tool("translate", "--body", str(body), "--out", str(converse[kind])).strip()
    chat_paths = {kind: "/v1/chat/completions" for kind in openai}
    targets = {}
    for name, _, translates in gateways:
        targets[name] = (Target(name, ports[name], CLIENT_KEY, chat_paths, openai, STREAM_DONE) if translates
                         else Target(name, ports[name], None, converse_paths, converse, EVENTSTREAM_DONE))
    if use_litellm:
        targets["litellm"] = Target("litellm", l_port, LITELLM_KEY, chat_paths, openai, STREAM_DONE)
    upstream = Target("upstream", up_port, None, converse_paths, converse, EVENTSTREAM_DONE)
    names = list(targets)
    results = {"config": {"wrk_seconds": args.seconds, "rounds": args.rounds, "streams": args.streams},
               "names": names}

    def memory_of(name):
        proc, admin = servers[name]
        m = {"rss_kib": rss_kib(proc.pid)}
        if admin:
            m.update(envoy_memory(admin))
        return m

    # Warm every path once (the filter's VM, LiteLLM's imports) and check the answers.
    for t in targets.values():
        for kind in ("first", "short", "long"):
            run_tool("stream", *t.stream_args(kind), "--count", "1", "--warmup", "0")
        run_wrk(t.url("json"), t.bodies["json"], t.auth, 4, 1)
    results["memory_rest"] = {n: memory_of(n) for n in names}
    results["wasm_stats_rest"] = wasm_stats(servers["filter"][1])

    # The fake Bedrock alone, to show it is not the limit.
    log("non-streaming: upstream alone")
    levels = [int(c) for c in args.concurrency.split(",")]
    results["upstream"] = {c: run_wrk(upstream.url("json"), upstream.bodies["json"], None, c, args.seconds)
                           for c in levels}

    log("non-streaming: " + " / ".join(names))
    nonstream = {n: {c: [] for c in levels} for n in names}
    for c in levels:
        for _ in range(args.rounds):
            for n, t in targets.items():
                nonstream[n][c].append(run_wrk(t.url("json"), t.bodies["json"], t.auth, c, args.seconds))
    results["nonstream"] = nonstream

    results["wasm_bytes"] = gateway.WASM.stat().st_size
    streamed = {n: t for n, t in targets.items() if n not in NONSTREAM_ONLY}
    if "streams" in args.parts:
        results.update(measure_streams(streamed, args))
    if "memory" in args.parts:
        results.update(measure_memory(streamed, args, memory_of, servers))
    if "micro" in args.parts:
        log("translation core micro-benchmarks")
        runs = {"native": [str(TOOLS)]}
        if TOOLS_WASM.exists() and shutil.which("node"):
            runs["wasm"] = ["node", "--no-warnings", str(ROOT / "bench" / "tools" / "wasi-run.mjs"),
                            str(TOOLS_WASM), str(DATA)]
        micro = {}
        for kind, cmd in runs.items():
            out = subprocess.run(pinned(SERVER_CPU, [*cmd, "micro", "--data", str(DATA)]),
                                 capture_output=True, text=True, check=True).stdout
            for line in filter(str.strip, out.splitlines()):
                b = json.loads(line)
                micro.setdefault(b["name"], {"name": b["name"], "per": b["per"]})[kind] = b["ns"]
        results["micro"] = list(micro.values())
    return results


def measure_streams(targets, args):
    log("streaming: first chunk and per-delta cost")
    streams = {n: {k: {"first_us": [], "total_us": []} for k in ("first", "short", "long")} for n in targets}
    plan = {"first": 20, "short": 20, "long": 4}
    for _ in range(args.rounds):
        for kind, count in plan.items():
            for n, t in targets.items():
                # LiteLLM takes seconds per long stream.
                runs = 1 if n == "litellm" and kind == "long" else count
                r = json.loads(run_tool("stream", *t.stream_args(kind), "--count", str(runs), "--warmup", "0"))
                streams[n][kind]["first_us"] += r["first_us"]
                streams[n][kind]["total_us"] += r["total_us"]
                streams[n][kind]["body_bytes"] = r["body_bytes"]
    return {"streams": streams}


def measure_memory(targets, args, memory_of, servers):
    log(f"memory under {args.streams} concurrent streams")
    load = {n: hold_streams(t, args.streams, lambda n=n: memory_of(n)) for n, t in targets.items()}
    return {"memory_load": load, "memory_after": {n: memory_of(n) for n in targets},
            "wasm_stats_after": wasm_stats(servers["filter"][1])}


def hold_streams(target, count, sample):
    """Opens `count` trickling streams; samples memory once all have their first bytes."""
    cmd = pinned(CLIENT_CPU, [str(TOOLS), "hold", *target.stream_args("slow"), "--count", str(count)])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready = proc.stdout.readline().split()
    started = int(ready[1]) if len(ready) == 2 and ready[0] == "ready" else 0
    samples = []
    for _ in range(5):
        samples.append(sample())
        time.sleep(0.4)
    rest, err = proc.communicate(timeout=120)
    summary = json.loads(rest.strip().splitlines()[-1]) if rest.strip() else {"error": err.strip()}
    peak = max(samples, key=lambda m: m["rss_kib"])
    return {"started": started, "summary": summary, "peak": peak, "samples": samples}


# ---------------------------------------------------------------- report

def fmt(x, digits=0):
    if x is None or x != x:
        return "–"
    return f"{x:,.{digits}f}"


LABELS = {"passthrough": "Envoy passthrough (A)", "wasm floor": "A + empty Wasm filter",
          "rewrite floor": "A + Wasm rewrite floor",
          "filter": "**filter**", "litellm": "LiteLLM"}


def markdown(r):
    m, cfg = r["machine"], r["config"]
    names = r["names"]
    streamed = [n for n in names if n not in NONSTREAM_ONLY]
    label = lambda n: LABELS.get(n, n)  # noqa: E731
    lines = [
        f"Measured {m['date']} on {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, Linux {m['kernel']}, "
        f"Envoy {m['envoy']}; 1-minute load average {m['load_before'][0]:.2f} before, "
        + ", ".join(f"{load} at {phase}" for phase, load in m.get("load_by_phase", {}).items()) + ". "
        "Each Envoy runs one worker and LiteLLM one process, pinned to CPU 0; the load generators and the fake "
        f"Bedrock share CPU 1. Medians of {cfg['rounds']} alternating rounds of {cfg['wrk_seconds']} s.",
        "",
        "**Non-streaming chat completions** (wrk, keep-alive connections)",
        "",
        "| concurrency | server | req/s | ÷ passthrough | p50 ms | p50 added ms | p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    goals = {}
    for c in r["upstream"]:
        med = {n: {k: median([x[k] for x in r["nonstream"][n][c]]) for k in ("rps", "p50_us", "p99_us")}
               for n in names}
        errors = {n: sum(x["errors"] for x in r["nonstream"][n][c]) for n in names}
        a = med["passthrough"]
        up = r["upstream"][c]
        lines.append(f"| {c} | fake Bedrock alone | {fmt(up['rps'])} | | {up['p50_us'] / 1000:.3f} | | "
                     f"{up['p99_us'] / 1000:.2f} |")
        for n in names:
            x = med[n]
            ratio = x["rps"] / a["rps"]
            note = ""
            if n == "litellm":
                note = f" (filter does {med['filter']['rps'] / x['rps']:.1f}×)"
            if errors[n]:
                note += f" ({errors[n]} errors)"
            bold = "**" if n == "filter" else ""
            lines.append(f"| {c} | {label(n)} | {fmt(x['rps'])}{note} | {bold}{ratio:.2f}×{bold} | "
                         f"{x['p50_us'] / 1000:.3f} | {(x['p50_us'] - a['p50_us']) / 1000:+.3f} | "
                         f"{x['p99_us'] / 1000:.2f} |")
        f = med["filter"]
        goals[c] = (f["rps"] / a["rps"], (f["p50_us"] - a["p50_us"]) / 1000,
                    f["rps"] / med["litellm"]["rps"] if "litellm" in med else None)

    per, ttft = {}, None
    if "streams" in r:
        s = r["streams"]
        ms = lambda n, kind, key: median(s[n][kind][key]) / 1000  # noqa: E731
        lines += ["", "**Streaming** (one stream at a time; medians; in brackets: minus passthrough)", "",
                  "| | " + " | ".join(label(n) for n in streamed) + " |", "|---|" + "---|" * len(streamed)]

        def row(title, kind, key, digits=3):
            a = ms("passthrough", kind, key)
            cells = []
            for n in streamed:
                v = ms(n, kind, key)
                cells.append(f"{v:.{digits}f}" if n == "passthrough" else f"{v:.{digits}f} ({v - a:+.{digits}f})")
            return f"| {title} | " + " | ".join(cells) + " |"

        lines.append(row("time to first chunk, ms: first token event alone", "first", "first_us"))
        lines.append(row("time to first chunk, ms: 100 deltas in one burst", "short", "first_us"))
        lines.append(row("100-delta stream, total ms", "short", "total_us"))
        lines.append(row("10,000-delta stream, total ms", "long", "total_us", 1))
        for title, kind, n_deltas in (("100", "short", 100), ("10,000", "long", 10_000)):
            a = ms("passthrough", kind, "total_us")
            cells = ["–" if n == "passthrough" else f"{(ms(n, kind, 'total_us') - a) * 1000 / n_deltas:.2f}"
                     for n in streamed]
            per[title] = (ms("filter", kind, "total_us") - a) * 1000 / n_deltas
            lines.append(f"| added µs per delta, {title}-delta stream | " + " | ".join(cells) + " |")
        ttft = ms("filter", "first", "first_us") - ms("passthrough", "first", "first_us")

    if "micro" in r:
        lines += ["", "**Translation core alone** (same code and opt-level as the shipped .wasm; median of "
                  "10 ms batches; Wasm = built for wasm32-wasip1 and run by Node's V8, the engine Envoy embeds)", "",
                  "| operation | native | Wasm (V8) |", "|---|---|---|"]
        us = lambda b, k: f"{b[k] / 1000:.2f} µs" if k in b else "–"  # noqa: E731
        for b in r["micro"]:
            lines.append(f"| {b['name']} | {us(b, 'native')} | {us(b, 'wasm')} per {b['per']} |")
    lines += ["", f"`.wasm` size: {r['wasm_bytes']:,} bytes ({r['wasm_bytes'] / 1048576:.2f} MiB)."]

    if "memory_load" in r:
        load, rest = r["memory_load"], r["memory_rest"]
        streams = cfg["streams"]
        lines += ["", "**Memory** (RSS of the process; Envoy's heap from its admin `/memory`)", "",
                  "| | " + " | ".join(label(n) for n in streamed) + " |", "|---|" + "---|" * len(streamed)]
        mib = lambda kib: f"{kib / 1024:.1f} MiB"  # noqa: E731

        def mem_row(title, get):
            return f"| {title} | " + " | ".join(get(n) for n in streamed) + " |"

        lines.append(mem_row("RSS at rest, after warm-up", lambda n: mib(rest[n]["rss_kib"])))
        lines.append(mem_row(f"RSS with {streams} streams open", lambda n: mib(load[n]["peak"]["rss_kib"]) + (
            "" if load[n]["started"] == streams else f" (only {load[n]['started']} started)")))
        lines.append(mem_row("RSS per open stream", lambda n: (
            f"{(load[n]['peak']['rss_kib'] - rest[n]['rss_kib']) / max(load[n]['started'], 1):.1f} KiB")))
        lines.append(mem_row("Envoy heap at rest → with streams", lambda n: (
            f"{rest[n]['allocated'] / 1048576:.1f} → {load[n]['peak']['allocated'] / 1048576:.1f} MiB"
            if "allocated" in rest[n] else "–")))
        lines.append(mem_row("RSS after every run", lambda n: mib(r["memory_after"][n]["rss_kib"])))
        failed = {n: load[n]["summary"].get("failed") for n in streamed if load[n]["summary"].get("failed")}
        if failed:
            lines.append(f"\nStreams that failed during the memory run: {failed}")

    lines += ["", "**Goals**", "", "| goal | measured | met |", "|---|---|---|"]
    ok = lambda b: "yes" if b else "**no**"  # noqa: E731
    levels = sorted(goals)
    peak = lambda n: max(median([x["rps"] for x in r["nonstream"][n][c]]) for c in levels)  # noqa: E731
    per_level = lambda i: ", ".join(f"{goals[c][i]:.2f}×" if i == 0 else f"{goals[c][i]:.1f}×"  # noqa: E731
                                    for c in levels)
    capacity = peak("filter") / peak("passthrough")
    floors = "".join(f"; {label(n)}: {peak(n) / peak('passthrough'):.2f}×" for n in ("wasm floor", "rewrite floor")
                     if n in names)
    lines.append(f"| filter ≥ 0.85× passthrough req/s | {capacity:.2f}× at peak ({fmt(peak('filter'))} vs "
                 f"{fmt(peak('passthrough'))}); {per_level(0)} at concurrency {', '.join(map(str, levels))}"
                 f"{floors} | {ok(capacity >= 0.85)} |")
    low = levels[0]
    lines.append(f"| ≤ 0.2 ms added p50 | {goals[low][1]:+.3f} ms at concurrency {low} | {ok(goals[low][1] <= 0.2)} |")
    if ttft is not None:
        lines.append(f"| ≤ 1 ms added time to first token | {ttft:+.3f} ms | {ok(ttft <= 1)} |")
        flat = per["10,000"] <= per["100"] * 1.25
        lines.append(f"| per-delta cost flat with stream length | {per['100']:.2f} µs (100 deltas), "
                     f"{per['10,000']:.2f} µs (10,000) | {ok(flat)} |")
    if goals[low][2] is not None:
        vs_litellm = peak("filter") / peak("litellm")
        lines.append(f"| ≥ 10× LiteLLM req/s | {vs_litellm:.1f}× at peak ({fmt(peak('filter'))} vs "
                     f"{fmt(peak('litellm'))}); {per_level(2)} at concurrency {', '.join(map(str, levels))} | "
                     f"{ok(vs_litellm >= 10)} |")
    lines.append("")
    lines.append("Peak = each server's best median req/s over the concurrency levels (its capacity on one core); "
                 "at concurrency 1, req/s is bound by round-trip latency rather than CPU.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
