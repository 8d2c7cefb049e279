#!/usr/bin/env python3
"""Checks the deployment files with the real tools: the Helm charts lint (strict) and render with Helm's own
engine (helm-python-sdk wraps Helm v4's Go SDK), the rendered manifests pass strict Kubernetes schema
validation (kubernetes-validate --strict) and the restricted security profile, values that make no sense
fail with a message, the Terraform is `terraform fmt`-clean, parses (python-hcl2) and documents every
variable, and each binary's Dockerfile (read by Docker's own parser) is multi-stage, ends on a slim image and
runs as a non-root user.

    deploy-checks.py repo          the repository's charts/, terraform/ and deploy/docker/
    deploy-checks.py bundle DIR    an unpacked BYOC bundle from the control plane

Run it with the Python that scripts/deploy-tools.sh prints. Exit status 1 naming every failure.
"""

import glob
import os
import subprocess
import sys
import tempfile

import dockerfile
import hcl2
import helm_python as helm
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BIN = os.path.dirname(sys.executable)

failures = []


def ok(message):
    print(f"ok    {message}")


def fail(message):
    failures.append(message)
    print(f"FAIL  {message}")


def lint(chart, values, label):
    """helm lint --strict: every warning or error is a failure."""
    report = helm.lint(chart, values, strict=True, namespace="agent-marketplace")
    problems = [m for m in report["messages"] if m["severity"] >= 2] + [
        {"path": "", "error": e} for e in report["errors"]
    ]
    if problems:
        fail(f"helm lint {label}: " + "; ".join(f"{p['path']}: {p['error'].strip()}" for p in problems))
        return False
    ok(f"helm lint --strict {label}")
    return True


def render(chart, values, label):
    """The chart's manifests as Kubernetes objects, as `helm template` makes them."""
    with helm.Chart.load(chart) as loaded:
        rendered = loaded.render(values, name="dp", namespace="agent-marketplace", is_install=True)
    objects = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        for document in yaml.safe_load_all(text):
            if document:
                objects.append((path, document))
    ok(f"helm render {label}: {len(objects)} objects ({', '.join(sorted({o['kind'] for _, o in objects}))})")
    return objects


def validate(objects, label):
    """kubernetes-validate --strict over every rendered object."""
    with tempfile.TemporaryDirectory() as folder:
        files = []
        for index, (path, document) in enumerate(objects):
            name = os.path.join(folder, f"{index:02d}-{os.path.basename(path)}")
            with open(name, "w") as out:
                yaml.safe_dump(document, out)
            files.append(name)
        result = subprocess.run(
            [os.path.join(BIN, "kubernetes-validate"), "--strict", "--quiet", *files],
            capture_output=True,
            text=True,
        )
    if result.returncode != 0:
        fail(f"kubernetes-validate --strict {label}:\n{result.stdout}{result.stderr}")
    else:
        ok(f"kubernetes-validate --strict {label}: {len(files)} objects valid")


def restricted(objects, label):
    """Every pod runs non-root, with a read-only root file system, no capabilities and the runtime's
    seccomp profile; the charts never carry a Secret."""
    problems = []
    for path, obj in objects:
        if obj["kind"] == "Secret":
            problems.append(f"{path}: renders a Secret; credentials are referenced, never held")
        pod = None
        if obj["kind"] in ("Deployment", "StatefulSet", "Job"):
            pod = obj["spec"]["template"]["spec"]
        if pod is None:
            continue
        context = pod.get("securityContext", {})
        if context.get("runAsNonRoot") is not True:
            problems.append(f"{path}: pod may run as root")
        if context.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{path}: pod has no RuntimeDefault seccomp profile")
        for container in pod["containers"]:
            security = container.get("securityContext", {})
            if security.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{path}: {container['name']} has a writable root file system")
            if security.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{path}: {container['name']} may escalate privileges")
            if security.get("capabilities", {}).get("drop") != ["ALL"]:
                problems.append(f"{path}: {container['name']} keeps capabilities")
            if "resources" not in container:
                problems.append(f"{path}: {container['name']} has no resources")
    policies = [obj for _, obj in objects if obj["kind"] == "NetworkPolicy"]
    for policy in policies:
        spec = policy["spec"]
        if sorted(spec.get("policyTypes", [])) != ["Egress", "Ingress"]:
            problems.append(f"NetworkPolicy {policy['metadata']['name']} does not govern both directions")
        if any("ports" not in rule for rule in spec.get("ingress", []) + spec.get("egress", [])):
            problems.append(f"NetworkPolicy {policy['metadata']['name']} has a rule open on every port")
    if problems:
        fail(f"restricted profile {label}: " + "; ".join(problems))
    else:
        ok(f"restricted profile {label}")


def check_chart(chart, scenarios):
    for label, values in scenarios:
        label = f"{os.path.basename(chart)} ({label})"
        if not lint(chart, values, label):
            continue
        try:
            objects = render(chart, values, label)
        except helm.HelmError as error:
            fail(f"helm render {label}: {error}")
            continue
        validate(objects, label)
        restricted(objects, label)


def refuses(chart, cases):
    """Each nonsense values set fails `helm lint --strict` and `helm template` with a message naming the
    problem. (Rules across fields are template `fail`s, which Helm's lint mode only logs; the chart's
    templates/validate.yaml makes lint report them too.)"""
    for label, values, expected in cases:
        name = f"{os.path.basename(chart)} refuses {label}"
        report = helm.lint(chart, values, strict=True, namespace="agent-marketplace")
        linted = " ".join(report["errors"])
        try:
            with helm.Chart.load(chart) as loaded:
                loaded.render(values, name="dp", namespace="agent-marketplace", is_install=True)
            rendered = ""
        except helm.HelmError as error:
            rendered = str(error)
        if expected not in linted:
            fail(f"{name}: helm lint --strict should fail mentioning {expected!r}; it said {linted!r}")
        elif expected not in rendered:
            fail(f"{name}: helm template should fail mentioning {expected!r}; it said {rendered!r}")
        else:
            ok(f"{name} at helm lint and helm template: {rendered.strip().splitlines()[-1].strip()}")


def terraform(folder):
    result = subprocess.run(
        [os.path.join(BIN, "terraform"), "fmt", "-check", "-recursive", "-diff", folder],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        fail(f"terraform fmt -check -recursive {folder}:\n{result.stdout}{result.stderr}")
    else:
        ok(f"terraform fmt -check -recursive {folder}")
    files = sorted(glob.glob(os.path.join(folder, "**", "*.tf"), recursive=True))
    undocumented = []
    for name in files:
        try:
            with open(name) as source:
                parsed = hcl2.load(source)
        except Exception as error:  # python-hcl2 raises lark's errors, among others
            fail(f"python-hcl2 {name}: {error}")
            continue
        for block in parsed.get("variable", []):
            for variable, body in block.items():
                variable = variable.strip('"')
                missing = [key for key in ("description", "type") if key not in body]
                if missing:
                    undocumented.append(f"{name}: {variable} has no {' or '.join(missing)}")
    ok(f"python-hcl2 parses {len(files)} .tf files under {folder}")
    if undocumented:
        fail("undocumented variables: " + "; ".join(undocumented))
    else:
        ok(f"every variable under {folder} has a description and a type")


def dockerfiles(folder):
    names = sorted(glob.glob(os.path.join(folder, "*.Dockerfile")))
    for binary in ("cp-api", "dp-runtime"):
        if os.path.join(folder, f"{binary}.Dockerfile") not in names:
            fail(f"{folder} has no {binary}.Dockerfile")
    for name in names:
        try:
            commands = dockerfile.parse_file(name)
        except dockerfile.GoParseError as error:
            fail(f"{name}: {error}")
            continue
        stages = [c for c in commands if c.cmd == "FROM"]
        final = commands[commands.index(stages[-1]):] if stages else []
        users = [c.value[0] for c in final if c.cmd == "USER"]
        problems = []
        if len(stages) < 2:
            problems.append("not multi-stage")
        if stages and not any(word in stages[-1].value[0] for word in ("slim", "distroless", "alpine")):
            problems.append(f"the runtime image {stages[-1].value[0]} is not a slim one")
        if not users or users[-1].split(":")[0] in ("root", "0"):
            problems.append("the runtime stage runs as root")
        if not any(c.cmd == "COPY" and "--from=build" in c.flags for c in final):
            problems.append("the runtime stage does not take the binary from the build stage")
        if problems:
            fail(f"{os.path.basename(name)}: " + "; ".join(problems))
        else:
            ok(f"{os.path.basename(name)}: {len(stages)} stages, runs on {stages[-1].value[0]} as {users[-1]}")


def declared(folder):
    """The root module's variables: name → whether it has a default."""
    names = {}
    for name in glob.glob(os.path.join(folder, "*.tf")):
        with open(name) as source:
            for block in hcl2.load(source).get("variable", []):
                for variable, body in block.items():
                    names[variable.strip('"')] = "default" in body
    return names


GOOD_DATA_PLANE = [
    ("defaults: embedded store", None),
    (
        "external Qdrant, autoscaling on queue depth, LLM key",
        {
            "deploymentId": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
            "memory": {"backend": "qdrant", "qdrant": {"url": "http://qdrant.qdrant.svc:6334",
                                                       "apiKeySecret": {"name": "qdrant", "key": "api-key"}}},
            "llm": {"baseUrl": "https://llm.example.com/v1", "model": "gpt-4.1",
                    "apiKeySecret": {"name": "llm", "key": "api-key"}},
            "autoscaling": {"enabled": True, "queueDepth": {"enabled": True}},
            "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/dp"}},
            "image": {"repository": "registry.example.com/dp-runtime", "digest": "sha256:" + "a" * 64},
            "telemetry": {"otlpEndpoint": "http://otel-collector.observability:4317", "metricExportIntervalMs": 15000},
        },
    ),
]

BAD_DATA_PLANE = [
    ("replicas below zero", {"replicaCount": -1}, "/replicaCount"),
    ("a memory quantity that is not one", {"resources": {"requests": {"memory": "512MB"}}}, "512MB"),
    (
        "memory requests above limits",
        {"resources": {"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}}},
        "resources.requests.memory (2Gi) is above resources.limits.memory (1Gi)",
    ),
    (
        "CPU requests above limits",
        {"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1500m"}}},
        "resources.requests.cpu (2) is above resources.limits.cpu (1500m)",
    ),
    ("several replicas on the embedded store", {"replicaCount": 3}, "embedded memory store"),
    (
        "more autoscaling minimum than maximum",
        {"memory": {"backend": "qdrant", "qdrant": {"url": "http://q:6334"}},
         "autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 2}},
        "autoscaling.minReplicas (5) is above autoscaling.maxReplicas (2)",
    ),
    ("an unknown memory backend", {"memory": {"backend": "redis"}}, "/memory/backend"),
    ("the Qdrant backend without a URL", {"memory": {"backend": "qdrant"}}, "memory.qdrant.url is empty"),
    ("a collector that is not a URL", {"telemetry": {"otlpEndpoint": "otel-collector:4317"}}, "/telemetry/otlpEndpoint"),
]

GOOD_CONTROL_PLANE = [
    ("defaults", None),
    (
        "ingress, signing key, SaaS data planes",
        {
            "ingress": {"enabled": True, "className": "nginx",
                        "tls": [{"secretName": "api-tls", "hosts": ["api.agent-marketplace.dev"]}]},
            "signingKey": {"existingSecret": "cp-api-signing-key"},
            "telemetry": {"otlpEndpoint": "http://otel-collector.observability:4317"},
            "saasDataPlanes": {
                "enabled": True,
                "qdrantUrl": "http://qdrant.qdrant.svc:6334",
                "deployments": [{"name": "finops-normalizer", "deploymentId": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
                                 "credentialSecret": "dp-finops-normalizer", "replicas": 2,
                                 "resources": {"requests": {"cpu": "1", "memory": "1Gi"},
                                               "limits": {"cpu": "1", "memory": "1Gi"}}}],
            },
        },
    ),
]

BAD_CONTROL_PLANE = [
    ("replicas below zero", {"replicaCount": -2}, "/replicaCount"),
    ("no database Secret", {"database": {"existingSecret": ""}}, "/database/existingSecret"),
    (
        "memory requests above limits",
        {"resources": {"requests": {"memory": "1Gi"}, "limits": {"memory": "512Mi"}}},
        "resources.requests.memory (1Gi) is above resources.limits.memory (512Mi)",
    ),
    ("SaaS data planes without Qdrant",
     {"saasDataPlanes": {"enabled": True, "deployments": [
         {"name": "a", "deploymentId": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "credentialSecret": "a"}]}},
     "saasDataPlanes.qdrantUrl is required"),
]


def telemetry(chart):
    """The collector setting reaches dp-runtime's environment and opens egress to it, and only when set."""
    endpoint = "http://otel-collector.observability:4317"
    for values, expected in ((None, None), ({"telemetry": {"otlpEndpoint": endpoint}}, endpoint)):
        objects = render(chart, values, f"telemetry {'on' if expected else 'off'}")
        config = next(obj for _, obj in objects if obj["kind"] == "ConfigMap")["data"]
        policy = next(obj for _, obj in objects if obj["kind"] == "NetworkPolicy")["spec"]
        ports = {port["port"] for rule in policy["egress"] for port in rule["ports"]}
        if config.get("OTEL_EXPORTER_OTLP_ENDPOINT") != expected:
            fail(f"telemetry: OTEL_EXPORTER_OTLP_ENDPOINT is {config.get('OTEL_EXPORTER_OTLP_ENDPOINT')!r}, not {expected!r}")
        elif (4317 in ports) != bool(expected):
            fail(f"telemetry: egress to the collector's port is {'missing' if expected else 'open without a collector'}")
        else:
            ok(f"telemetry {'on: the collector is in the environment and the egress rules' if expected else 'off: no collector, no egress to one'}")


def repo():
    check_chart(os.path.join(ROOT, "charts", "data-plane"), GOOD_DATA_PLANE)
    telemetry(os.path.join(ROOT, "charts", "data-plane"))
    refuses(os.path.join(ROOT, "charts", "data-plane"), BAD_DATA_PLANE)
    check_chart(os.path.join(ROOT, "charts", "control-plane"), GOOD_CONTROL_PLANE)
    refuses(os.path.join(ROOT, "charts", "control-plane"), BAD_CONTROL_PLANE)
    terraform(os.path.join(ROOT, "terraform"))
    dockerfiles(os.path.join(ROOT, "deploy", "docker"))


def bundle(folder):
    with open(os.path.join(folder, "values.yaml")) as source:
        values = yaml.safe_load(source)
    check_chart(os.path.join(folder, "charts", "data-plane"), [("the bundle's values.yaml", values)])
    terraform(os.path.join(folder, "terraform"))
    tfvars = os.path.join(folder, "terraform.tfvars")
    with open(tfvars) as source:
        assigned = {name.strip('"') for name in hcl2.load(source) if not name.startswith("__")}
    readme = open(os.path.join(folder, "README.md")).read()
    clouds = [cloud for cloud in ("gke", "eks", "aks") if f"terraform -chdir=terraform/{cloud} apply" in readme]
    if len(clouds) != 1:
        fail(f"README.md names {clouds or 'no'} root module(s) to apply")
        return
    variables = declared(os.path.join(folder, "terraform", clouds[0]))
    unknown = assigned - set(variables)
    unset = {name for name, has_default in variables.items() if not has_default} - assigned
    if unknown or unset:
        fail(f"terraform.tfvars for terraform/{clouds[0]}: sets undeclared {sorted(unknown)}, "
             f"leaves required {sorted(unset)} unset")
    else:
        ok(f"terraform.tfvars parses and sets {len(assigned)} of terraform/{clouds[0]}'s variables, "
           "every required one among them")
    values_file = os.path.normpath(os.path.join(folder, "terraform", clouds[0], "../../values.yaml"))
    if not os.path.exists(values_file):
        fail("terraform.tfvars's values_file does not lead to the bundle's values.yaml")


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "repo":
        repo()
    elif len(sys.argv) == 3 and sys.argv[1] == "bundle":
        bundle(sys.argv[2])
    else:
        sys.exit(__doc__)
    print(f"deploy checks: {len(failures)} failed" if failures else "deploy checks: all passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
