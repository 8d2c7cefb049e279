#!/usr/bin/env python3
"""The whole product end to end on its embedded defaults (`just demo`).

Builds both binaries, fetches the local models if they are missing, starts `cp-api` on SQLite and two
`dp-runtime`s against it, then plays the marketplace: a platform admin, a developer org that publishes the
FinOps agents, a customer org that installs them, a billing run that hands over to the anomaly detector over
A2A and waits for a human to approve a remediation. It prints the story as it goes and the results at the end.

Everything lives under data/demo/ (cleared at each start; the models under data/models/ stay). Ports: 8080
for the control plane when it is free, else any free port. Interactive, it keeps the stack up for you to look
around until Ctrl-C; otherwise (CI, a pipe) it stops everything once the run has ended. With DP_LLM_BASE_URL
(and DP_LLM_API_KEY, DP_LLM_MODEL) set, the `llm` nodes use that OpenAI-compatible API instead of the local
model. Standard library only.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "data" / "demo"
MODELS = ROOT / "data" / "models"
FINOPS = ROOT / "examples" / "finops"
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
PASSWORD = "demo-password-1"
PERIOD = "2025-11"
RUN_LIMIT_S = 600

BOLD, DIM, GREEN, YELLOW, RED, RESET = (
    ("\033[1m", "\033[2m", "\033[32m", "\033[33m", "\033[31m", "\033[0m")
    if sys.stdout.isatty()
    else ("",) * 6
)
STARTED = time.monotonic()


def say(text=""):
    print(text, flush=True)


def step(text):
    say(f"\n{BOLD}▶ {text}{RESET}  {DIM}[{time.monotonic() - STARTED:5.1f} s]{RESET}")


class Failed(Exception):
    pass


# ---------------------------------------------------------------------------------------------- processes


class Stack:
    """The processes the demo started; stopped on exit, Ctrl-C included."""

    def __init__(self):
        self.processes = []

    def start(self, name, args, env=None):
        log = open(DEMO / "logs" / f"{name}.log", "wb")
        process = subprocess.Popen(
            args,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append((name, process))
        return process

    def check(self):
        for name, process in self.processes:
            if process.poll() is not None:
                raise Failed(f"{name} exited with status {process.returncode}; see data/demo/logs/{name}.log")

    def stop(self):
        for _, process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for _, process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()


def free_port(preferred=None):
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise Failed("no free port on 127.0.0.1")


# ---------------------------------------------------------------------------------------------- HTTP


class Api:
    def __init__(self, base):
        self.base = base

    def call(self, method, path, token=None, body=None, content_type="application/json", headers=None):
        data = None
        if body is not None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", content_type)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                text = answer.read().decode()
        except urllib.error.HTTPError as error:
            problem = error.read().decode()
            raise Failed(f"{method} {path}: {error.code} {problem}") from None
        return json.loads(text) if text else None

    def get(self, path, token):
        return self.call("GET", path, token)

    def post(self, path, token, body=None, **options):
        return self.call("POST", path, token, {} if body is None else body, **options)


def wait_until(what, check, limit_s, stack, every_s=0.3):
    deadline = time.monotonic() + limit_s
    while True:
        stack.check()
        try:
            found = check()
        except (OSError, Failed):
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise Failed(f"{what}: nothing after {limit_s} s")
        time.sleep(every_s)


# ---------------------------------------------------------------------------------------------- the story


def build():
    step("Building cp-api and dp-runtime (release)")
    subprocess.run(
        ["cargo", "build", "--release", "--locked", "--quiet", "-p", "cp-api", "-p", "dp-runtime"],
        cwd=ROOT,
        check=True,
    )
    step("Local models (data/models/)")
    subprocess.run([str(ROOT / "scripts" / "models.sh")], cwd=ROOT, check=True)
    for model in ("all-MiniLM-L6-v2", "SmolLM2-135M-Instruct"):
        say(f"  {GREEN}✓{RESET} {model}")
    if not (FINOPS / "data" / f"aws-cur-{PERIOD}.csv").exists():
        subprocess.run([sys.executable, str(FINOPS / "data" / "generate.py")], cwd=ROOT, check=True)


def start_control_plane(stack):
    binary = TARGET / "release" / "cp-api"
    data = DEMO / "cp"
    step("Control plane: cp-api on SQLite (data/demo/cp/cp.sqlite)")
    subprocess.run([str(binary), "migrate", "--data-dir", str(data)], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    made = subprocess.run(
        [str(binary), "admin", "bootstrap", "--email", "admin@platform.example", "--password", PASSWORD,
         "--org", "Platform", "--data-dir", str(data)],
        cwd=ROOT, check=True, capture_output=True, text=True,
    )
    admin = json.loads(made.stdout)
    port = free_port(8080)
    base = f"http://127.0.0.1:{port}"
    stack.start("cp-api", [str(binary), "serve", "--bind", f"127.0.0.1:{port}", "--data-dir", str(data),
                           "--public-url", base, "--no-migrate"])
    api = Api(base)
    wait_until("cp-api to answer", lambda: api.get("/health/ready", None) is not None, 30, stack)
    say(f"  {GREEN}✓{RESET} {base}  (platform admin admin@platform.example; its API key is printed once by "
        f"`cp-api admin bootstrap`)")
    return api, admin["api_key"]


def user(api, email, org=None):
    body = {"email": email, "password": PASSWORD}
    if org:
        body["org"] = org
    created = api.post("/api/v1/auth/signup", None, body)
    login = api.post("/api/v1/auth/login", None, {"email": email, "password": PASSWORD})
    return login["access_token"], created.get("org_id")


def accounts(api):
    step("Accounts: a developer org and a customer org")
    developer, developer_org = user(api, "dev@aicloud.example", "AI Cloud")
    say(f"  {GREEN}✓{RESET} developer dev@aicloud.example, admin of org \"AI Cloud\"")
    operator, customer_org = user(api, "ops@acme.example", "Acme")
    approver, _ = user(api, "approver@acme.example")
    api.post(f"/api/v1/orgs/{customer_org}/members", operator, {"email": "approver@acme.example", "role": "approver"})
    say(f"  {GREEN}✓{RESET} customer ops@acme.example, admin of org \"Acme\"; approver@acme.example its approver")
    return developer, developer_org, operator, customer_org, approver


def publish(api, admin, developer, developer_org):
    step("Catalog: the developer submits the FinOps agents, the platform admin publishes them")
    published = {}
    for name in ("billing-normalizer", "anomaly-detector"):
        manifest = (FINOPS / f"{name}.yaml").read_text()
        draft = api.post(f"/api/v1/orgs/{developer_org}/agents", developer, manifest,
                         content_type="application/yaml")
        agent, version = draft["agent_id"], draft["version"]
        api.post(f"/api/v1/orgs/{developer_org}/agents/{agent}/versions/{version}/submit", developer)
        api.post(f"/api/v1/agents/{agent}/publish", admin, {"version": version})
        detail = api.get(f"/api/v1/agents/{agent}", None)
        tools = detail["manifest"].get("tools", [])
        scopes = sorted({scope for tool in tools for scope in tool.get("scopes", [])})
        published[name] = (agent, version, scopes)
        say(f"  {GREEN}✓{RESET} {agent} {version}: draft → in review → published (asks for {', '.join(scopes) or 'no scopes'})")
    return published


def install(api, stack, operator, org, published):
    step("Installs: the customer installs both (SaaS), granting what they ask; a data plane for each")
    api_key = api.post("/api/v1/me/api-keys", operator, {"name": "demo data planes (A2A)"})
    installs = {}
    for name, (agent, version, scopes) in published.items():
        made = api.post(f"/api/v1/orgs/{org}/install", operator, {
            "agent_id": agent, "version": version, "deployment_type": "saas", "granted_permissions": scopes,
        })
        installs[name] = made
        data = DEMO / f"dp-{name}"
        data.mkdir(parents=True, exist_ok=True)
        env = {
            "DP_CONTROL_PLANE_URL": api.base,
            "DP_TOKEN": made["credential"],
            "DP_A2A_TOKEN": api_key["api_key"],
            "DP_LISTEN": f"127.0.0.1:{free_port()}",
            "DP_INSTANCE_ID": f"dp-{name}",
            "DP_DATA_DIR": str(data),
            "DP_MODEL_DIR": str(MODELS / "all-MiniLM-L6-v2"),
            "DP_LLM_MODEL_DIR": str(MODELS / "SmolLM2-135M-Instruct"),
            "DP_BILLING_ROOT": str(FINOPS),
            "DP_REPORTS_ROOT": str(DEMO / "reports"),
            # Two data planes and the control plane share this machine: one thread each for the local model.
            "CANDLE_NUM_THREADS": os.environ.get("CANDLE_NUM_THREADS", "1"),
        }
        stack.start(f"dp-{name}", [str(TARGET / "release" / "dp-runtime"), "serve"], env)
    for name, made in installs.items():
        wait_until(f"the {name} deployment to be ready",
                   lambda: api.get(f"/api/v1/deployments/{made['id']}", operator)["state"] == "ready", 60, stack)
        say(f"  {GREEN}✓{RESET} {name}: deployment {made['id']} ready (its data plane registered, "
            f"logs in data/demo/logs/dp-{name}.log)")
    llm = os.environ.get("DP_LLM_BASE_URL")
    say(f"  {DIM}llm nodes run on {llm if llm else 'the local SmolLM2-135M-Instruct, in-process'}{RESET}")
    return installs, api_key["api_key"]


class Watch:
    """Prints each node of a run (and of its child runs) as it finishes."""

    def __init__(self, api, token):
        self.api, self.token, self.seen = api, token, set()

    def poll(self, run, label):
        events = self.api.get(f"/api/v1/runs/{run}/events", self.token)["items"]
        for event in events:
            key = (run, event.get("attempt"), event.get("seq"))
            if key in self.seen or event.get("type") != "finished" or not event.get("node"):
                continue
            self.seen.add(key)
            mark = {"succeeded": f"{GREEN}✓", "skipped": f"{DIM}–", "suspended": f"{YELLOW}⏸"}.get(
                event["status"], f"{RED}✗")
            counters = " ".join(f"{k}={v}" for k, v in event.get("counters", {}).items())
            message = event.get("message") or ""
            say(f"    {mark}{RESET} {label:<10} {event['node']:<10} {event['duration_ms']:>6} ms  {counters}"
                f"{DIM}{'  ' + message[:90] if message and event['status'] != 'succeeded' else ''}{RESET}")


def run_the_pair(api, stack, operator, approver, org, installs):
    step(f"A run: the billing normalizer on the sample exports of {PERIOD}, handing over to the detector")
    normalizer, detector = installs["billing-normalizer"], installs["anomaly-detector"]
    inputs = {"billing_source": "data", "period": PERIOD, "detector": detector["id"]}
    run = api.post(f"/api/v1/deployments/{normalizer['id']}/runs", operator, {"inputs": inputs},
                   headers={"Idempotency-Key": f"demo-{PERIOD}"})
    run_id = run["id"]
    say(f"  POST /api/v1/deployments/{normalizer['id']}/runs → run {run_id} ({run['state']})")
    watch = Watch(api, operator)
    approved = False
    deadline = time.monotonic() + RUN_LIMIT_S
    last_note = 0.0
    while True:
        stack.check()
        view = api.get(f"/api/v1/runs/{run_id}", operator)
        watch.poll(run_id, "normalizer")
        for child in view.get("child_runs") or []:
            watch.poll(child["id"], "detector")
        if view["state"] in ("succeeded", "failed", "cancelled", "remediated"):
            return view
        if not approved:
            pending = api.get(f"/api/v1/orgs/{org}/approvals?state=pending", approver)["items"]
            if pending:
                approve(api, approver, org, pending[0])
                approved = True
        if time.monotonic() > deadline:
            raise Failed(f"the run did not end within {RUN_LIMIT_S} s (state {view['state']})")
        if time.monotonic() - last_note > 10:
            states = ", ".join(f"detector {c['state']}" for c in view.get("child_runs") or [])
            say(f"    {DIM}… {view['state']}{'; ' + states if states else ''} "
                f"({time.monotonic() - STARTED:.0f} s){RESET}")
            last_note = time.monotonic()
        time.sleep(0.5)


def approve(api, approver, org, approval):
    actions = approval.get("action", {}).get("input", {}).get("actions", [])
    say(f"  {YELLOW}⏸ approval needed{RESET} ({approval.get('reason') or 'a high-risk tool'}):")
    for action in actions:
        say(f"      {action.get('action')} {action.get('resource')}: {action.get('anomaly')}; "
            f"saves ${action.get('saving')}")
    api.post(f"/api/v1/orgs/{org}/approvals/{approval['id']}/approve", approver,
             {"comment": "Rightsizing approved for the EC2 spike."})
    say(f"  {GREEN}✓{RESET} approver@acme.example approved it; the detector resumes from its checkpoint")


def results(api, operator, org, view, installs, api_key):
    step(f"The run ended {BOLD}{view['state']}{RESET}")
    child = (view.get("child_runs") or [{}])[0]
    child_view = api.get(f"/api/v1/runs/{child['id']}", operator) if child else {}
    for label, run in (("normalizer", view), ("detector (child run over A2A)", child_view)):
        if not run:
            continue
        say(f"  {BOLD}timeline: {label}{RESET}, {run['state']}")
        for entry in run.get("timeline") or []:
            if not entry["node"]:
                continue
            say(f"    {entry['node']:<10} attempt {entry['attempt']}  {entry['status']:<9} "
                f"{entry['duration_ms']:>6} ms")

    outputs = view.get("outputs") or {}
    detected = (outputs.get("handoff") or {}).get("outputs") or {}
    say(f"\n  {BOLD}memory{RESET}")
    for label, run in (("normalizer", view), ("detector", child_view)):
        usage = (run or {}).get("usage") or {}
        units = usage.get("units") or {}
        say(f"    {label:<10} {units.get('memory_hits', 0)} memories recalled, {units.get('memory_writes', 0)} written "
            f"(data/demo/dp-*/memory.sqlite, MiniLM embeddings)")

    say(f"\n  {BOLD}billing{RESET}: {outputs.get('records', '?')} records, total ${outputs.get('total_cost', '?')}")
    say(f"  {BOLD}anomalies and recommendations{RESET}")
    for recommendation in detected.get("recommendations", []):
        say(f"    {recommendation['action']:<11} {recommendation['anomaly']} (saves ${recommendation['saving']})")
    say(f"    remediated: {', '.join(detected.get('remediated') or []) or 'nothing'}")
    if detected.get("summary"):
        say(f"  {BOLD}the detector's explanation{RESET} {DIM}(its llm node){RESET}")
        summary = " ".join(detected["summary"].split())
        if "." in summary:  # a small model may stop mid-sentence at its token limit
            summary = summary[: summary.rindex(".") + 1]
        say(textwrap.fill(summary, 110, initial_indent="    ",
                          subsequent_indent="    "))

    say(f"\n  {BOLD}cost{RESET} (customer charge, developer share, platform share)")
    for label, run in (("normalizer", view), ("detector", child_view)):
        cost = (run or {}).get("cost")
        if cost:
            share = cost["developer_share"] / 100
            say(f"    {label:<10} ${cost['total']:>8}  developer {share:.0f}% ${cost['developer']:>8}  "
                f"platform {100 - share:.0f}% ${cost['platform']:>8}")
    billing = api.get(f"/api/v1/orgs/{org}/billing", operator)
    usage = billing["usage"]
    say(f"  {BOLD}invoice {usage['period']} ({usage['state']}){RESET}: total ${usage['total']}, developers "
        f"${usage['developer']}, platform ${usage['platform']}")
    for line in usage["lines"]:
        unit = f" {line['unit']}" if line.get("unit") else ""
        say(f"    {line['agent']:<40} {line['kind']:<12} {line['quantity']:>6}{unit:<8} ${line['amount']:>9}")

    base = api.base
    say(f"\n  {BOLD}look around{RESET}")
    say(f"    API docs         {base}/api/docs")
    say(f"    the run          curl -s -H 'Authorization: Bearer {api_key}' {base}/api/v1/runs/{view['id']}")
    say(f"    its live events  curl -N -H 'Accept: text/event-stream' -H 'Authorization: Bearer {api_key}' "
        f"{base}/api/v1/runs/{view['id']}/events")
    say(f"    the detector     {base}/a2a/{installs['anomaly-detector']['id']}/.well-known/agent-card.json (A2A card)")
    say(f"    metrics          {base}/metrics")


def main():
    stack = Stack()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        build()
        if DEMO.exists():
            shutil.rmtree(DEMO)
        (DEMO / "logs").mkdir(parents=True)
        api, admin = start_control_plane(stack)
        developer, developer_org, operator, org, approver = accounts(api)
        published = publish(api, admin, developer, developer_org)
        installs, api_key = install(api, stack, operator, org, published)
        view = run_the_pair(api, stack, operator, approver, org, installs)
        results(api, operator, org, view, installs, api_key)
        say(f"\n{DIM}demo took {time.monotonic() - STARTED:.0f} s{RESET}")
        if view["state"] != "remediated":
            raise Failed(f"the run ended {view['state']}: {view.get('failure_reason')}")
        if sys.stdin.isatty() and sys.stdout.isatty():
            say(f"{BOLD}Everything is still running; Ctrl-C stops it.{RESET}")
            while True:
                stack.check()
                time.sleep(1)
        return 0
    except KeyboardInterrupt:
        say("\nstopping…")
        return 130
    except (Failed, subprocess.CalledProcessError) as error:
        say(f"\n{RED}demo failed:{RESET} {error}")
        return 1
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
