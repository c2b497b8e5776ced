#!/usr/bin/env python3
"""Offline validation of Haven's deployment artefacts. Run through deploy/check-chart.sh, which pins the
tools: helm-python-sdk (Helm 4 embedded: schema, lint, render) and kubernetes-validate (bundled
Kubernetes JSON schemas). No cluster, no Docker and no network are needed.

Chart: renders helm/haven with the default values, deploy/values-production.yaml and a minimal variant;
lints it strictly; validates every manifest against the Kubernetes schemas in strict mode; asserts the
project's rules on every workload and component (probes, resources, securityContext, pinned images, one
NetworkPolicy, PodDisruptionBudget and HorizontalPodAutoscaler per component, the ingress rules between
components that DESIGN.md allows). Compose: parses deploy/compose.yaml and checks that every Haven
service runs a role the binary's `serve` accepts (`$HAVEN_BIN serve --help` when HAVEN_BIN is set, else
the clap enum in crates/cli/src/main.rs), that the migrations run first, and that every image is pinned.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import kubernetes_validate.utils as kv
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "helm" / "haven"
PRODUCTION_VALUES = ROOT / "deploy" / "values-production.yaml"
COMPOSE = ROOT / "deploy" / "compose.yaml"
CLI_MAIN = ROOT / "crates" / "cli" / "src" / "main.rs"
EXAMPLE_CONFIG = ROOT / "deploy" / "haven.example.toml"
CONFIG_SOURCES = [
    ROOT / "crates" / "platform" / "src" / "config.rs",
    ROOT / "crates" / "cli" / "src" / "main.rs",
    ROOT / "crates" / "cli" / "src" / "suite.rs",
    ROOT / "crates" / "platform" / "src" / "telemetry" / "mod.rs",
]
# Variables the tracing and learning services are configured by. They are being added to config.rs
# together with those services; once they are there this list is redundant, never wrong.
DECLARED_HAVEN_VARS = {
    "HAVEN_FAMILY_TRACING_DATABASE_URL",
    "HAVEN_LEARNING_DATABASE_URL",
    "HAVEN_FAMILY_TRACING_LISTEN",
    "HAVEN_LEARNING_LISTEN",
    "HAVEN_IDENTITY_URL",
    "HAVEN_FAMILY_TRACING_URL",
    "HAVEN_LEARNING_URL",
}
# The oldest Kubernetes the chart is validated for, and the newest the pinned schema bundle has.
KUBE_MIN = "1.31"
KUBE_NEWEST = kv.major_minor(kv.latest_version())
RUN_AS_USER = 65532
WORKLOAD_KINDS = {"Deployment", "Job", "StatefulSet", "DaemonSet", "CronJob"}
COMPONENTS = {  # values key -> component label and `haven serve` role
    "gateway": "gateway",
    "identity": "identity",
    "familyTracing": "family-tracing",
    "learning": "learning",
}
# Who may call whom (DESIGN.md section 1; family tracing fetches a consenting child's match profile
# from identity). The gateway is the only component reachable from outside.
ALLOWED_CALLERS = {
    "identity": {"gateway", "family-tracing"},
    "family-tracing": {"gateway"},
    "learning": {"gateway"},
}


class Check:
    """Collects failures instead of stopping at the first, and counts the rules it evaluated."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.rules = 0

    def rule(self, ok: bool, message: str) -> bool:
        self.rules += 1
        if not ok:
            self.failures.append(message)
        return ok


# ----------------------------------------------------------------------------------------------- chart


def render(values: dict[str, Any] | None, release: str, namespace: str) -> list[dict[str, Any]]:
    with helm.Chart.load(CHART) as chart:
        chart.validate_schema(values)
        rendered = chart.render(values, name=release, namespace=namespace, is_install=True)
    docs: list[dict[str, Any]] = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt") or not text.strip():
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                doc.setdefault("metadata", {})
                doc["metadata"].setdefault("annotations", {})
                doc["_source"] = path
                docs.append(doc)
    return docs


def lint(values: dict[str, Any] | None, check: Check, label: str) -> None:
    report = helm.lint(CHART, values, strict=True, kube_version=f"v{KUBE_MIN}.0")
    for error in report.get("errors") or []:
        check.rule(False, f"{label}: helm lint: {error}")
    for message in report.get("messages") or []:
        # 1 = info (e.g. "icon is recommended"); strict lint fails on warnings and errors.
        check.rule(
            message.get("severity", 0) < 2,
            f"{label}: helm lint {message.get('path')}: {message.get('error')}",
        )


def validate_schemas(doc: dict[str, Any], check: Check, label: str) -> None:
    manifest = {k: v for k, v in doc.items() if k != "_source"}
    if not manifest["metadata"].get("annotations"):
        manifest["metadata"] = {k: v for k, v in manifest["metadata"].items() if k != "annotations"}
    where = f"{label}: {doc['_source']}: {doc['kind']}/{doc['metadata'].get('name')}"
    for version in dict.fromkeys([KUBE_MIN, KUBE_NEWEST]):
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
            check.rule(True, "")
        except kv.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            check.rule(False, f"{where}: invalid for Kubernetes {version}: {path}: {e.message}")
        except kv.SchemaNotFoundError as e:
            check.rule(False, f"{where}: {e.message}")


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    spec = doc["spec"]
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


def image_pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    return ":" in last and last.rsplit(":", 1)[1] not in ("", "latest")


def check_workload(doc: dict[str, Any], check: Check, label: str, roles: set[str] | None) -> None:
    kind, name = doc["kind"], doc["metadata"]["name"]
    where = f"{label}: {kind}/{name}"
    spec = pod_spec(doc)
    pod_sc = spec.get("securityContext") or {}
    check.rule(pod_sc.get("runAsNonRoot") is True, f"{where}: pod securityContext.runAsNonRoot is not true")
    check.rule(pod_sc.get("runAsUser") == RUN_AS_USER, f"{where}: pod runAsUser is not {RUN_AS_USER}")
    check.rule(
        (pod_sc.get("seccompProfile") or {}).get("type") == "RuntimeDefault",
        f"{where}: pod seccompProfile is not RuntimeDefault",
    )
    check.rule(
        spec.get("automountServiceAccountToken") is False,
        f"{where}: automountServiceAccountToken is not false",
    )
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    containers = (spec.get("initContainers") or []) + (spec.get("containers") or [])
    check.rule(bool(containers), f"{where}: no containers")
    for c in containers:
        cw = f"{where} container {c.get('name')}"
        image = str(c.get("image", ""))
        check.rule(image_pinned(image), f"{cw}: image {image!r} is not pinned to a tag (or is :latest)")
        resources = c.get("resources") or {}
        for part in ("requests", "limits"):
            for res in ("cpu", "memory"):
                check.rule(
                    bool((resources.get(part) or {}).get(res)),
                    f"{cw}: resources.{part}.{res} missing",
                )
        sc = c.get("securityContext") or {}
        check.rule(
            sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True,
            f"{cw}: runAsNonRoot is not true",
        )
        check.rule(
            sc.get("runAsUser", pod_sc.get("runAsUser")) == RUN_AS_USER,
            f"{cw}: runAsUser is not {RUN_AS_USER}",
        )
        check.rule(sc.get("readOnlyRootFilesystem") is True, f"{cw}: readOnlyRootFilesystem is not true")
        check.rule(
            sc.get("allowPrivilegeEscalation") is False, f"{cw}: allowPrivilegeEscalation is not false"
        )
        check.rule(sc.get("privileged") is not True, f"{cw}: privileged")
        caps = sc.get("capabilities") or {}
        check.rule("ALL" in (caps.get("drop") or []), f"{cw}: capabilities.drop lacks ALL")
        check.rule(not caps.get("add"), f"{cw}: capabilities.add is not empty")
        seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
        check.rule(seccomp == "RuntimeDefault", f"{cw}: seccompProfile is not RuntimeDefault")
        # With a read-only root, the data dir must sit on a writable emptyDir.
        env = {e["name"]: e.get("value") for e in c.get("env") or []}
        data_dir = env.get("HAVEN_DATA_DIR")
        writable = [
            m["mountPath"]
            for m in c.get("volumeMounts") or []
            if "emptyDir" in volumes.get(m["name"], {}) and not m.get("readOnly")
        ]
        check.rule(
            data_dir is not None and any(data_dir.startswith(p.rstrip("/") + "/") for p in writable),
            f"{cw}: HAVEN_DATA_DIR {data_dir!r} is not on a writable emptyDir",
        )
        args = [str(a) for a in (c.get("command") or []) + (c.get("args") or [])]
        if kind == "Job":
            check.rule(args[:1] == ["migrate"], f"{cw}: a Job must run `haven migrate`, runs {args}")
            continue
        ports = {p.get("containerPort") for p in c.get("ports") or []}
        for probe in ("readinessProbe", "livenessProbe"):
            grpc = (c.get(probe) or {}).get("grpc") or {}
            check.rule(
                grpc.get("port") in ports,
                f"{cw}: {probe} is not a gRPC probe on a container port ({grpc or 'missing'})",
            )
        if kind == "Deployment":
            check.rule(
                len(args) == 2 and args[0] == "serve" and (roles is None or args[1] in roles),
                f"{cw}: runs {args}, not `serve <role>` with a role the binary accepts {sorted(roles or [])}",
            )


def selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A matchLabels-only selector (all the chart uses) against a pod's labels."""
    if selector is None:
        return False
    if selector.get("matchExpressions"):
        return False
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def check_chart(docs: list[dict[str, Any]], values: dict[str, Any], check: Check, label: str,
                roles: set[str] | None) -> None:
    merged = values
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
        for image in re.findall(r"image:\s*(\S+)", yaml.safe_dump(doc)):
            check.rule(not image.strip("'\"").endswith(":latest"), f"{label}: image {image} uses :latest")
    for doc in docs:
        if doc["kind"] in WORKLOAD_KINDS:
            check_workload(doc, check, label, roles)
    for sa in by_kind.get("ServiceAccount", []):
        check.rule(
            sa.get("automountServiceAccountToken") is False,
            f"{label}: ServiceAccount/{sa['metadata']['name']} mounts its token",
        )

    deployments = {
        d["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component"): d
        for d in by_kind.get("Deployment", [])
    }
    policies = by_kind.get("NetworkPolicy", [])
    np_enabled = merged["networkPolicy"]["enabled"]
    if np_enabled:
        release_labels = None
        for d in deployments.values():
            release_labels = d["spec"]["template"]["metadata"]["labels"]
            break
        default_deny = [
            p for p in policies
            if "Ingress" in p["spec"].get("policyTypes", [])
            and not p["spec"].get("ingress")
            and "app.kubernetes.io/component" not in (p["spec"]["podSelector"].get("matchLabels") or {})
        ]
        check.rule(
            bool(default_deny) and release_labels is not None
            and selects(default_deny[0]["spec"]["podSelector"], release_labels),
            f"{label}: no default-deny ingress NetworkPolicy for the release",
        )

    for key, component in COMPONENTS.items():
        enabled = merged["components"][key]["enabled"]
        d = deployments.get(component)
        if not check.rule(
            (d is not None) == enabled,
            f"{label}: component {component} enabled={enabled} but Deployment "
            f"{'present' if d else 'absent'}",
        ) or d is None:
            continue
        pod_labels = d["spec"]["template"]["metadata"]["labels"]
        name = d["metadata"]["name"]
        c = merged["components"][key]
        if c["autoscaling"]["enabled"]:
            check.rule(
                any(h["spec"]["scaleTargetRef"]["name"] == name
                    and h["spec"]["scaleTargetRef"]["kind"] == "Deployment"
                    for h in by_kind.get("HorizontalPodAutoscaler", [])),
                f"{label}: no HorizontalPodAutoscaler for {name}",
            )
        if c["pdb"]["enabled"]:
            check.rule(
                any(selects(p["spec"].get("selector"), pod_labels)
                    for p in by_kind.get("PodDisruptionBudget", [])),
                f"{label}: no PodDisruptionBudget for {name}",
            )
        check.rule(
            any(selects(s["spec"].get("selector") and {"matchLabels": s["spec"]["selector"]}, pod_labels)
                for s in by_kind.get("Service", [])),
            f"{label}: no Service for {name}",
        )
        if not np_enabled:
            continue
        own = [p for p in policies
               if "app.kubernetes.io/component" in (p["spec"]["podSelector"].get("matchLabels") or {})
               and selects(p["spec"]["podSelector"], pod_labels)
               and "Ingress" in p["spec"].get("policyTypes", [])]
        if not check.rule(len(own) == 1, f"{label}: {len(own)} ingress NetworkPolicies for {name}, want 1"):
            continue
        rules = own[0]["spec"].get("ingress") or []
        ports = {p.get("port") for r in rules for p in r.get("ports") or []}
        check.rule(ports <= {c["port"], "grpc"}, f"{label}: NetworkPolicy of {name} opens ports {ports}")
        if component == "gateway":
            if not merged["networkPolicy"]["gatewayFrom"]:
                check.rule(
                    any(not r.get("from") for r in rules),
                    f"{label}: the gateway's NetworkPolicy does not admit traffic from outside",
                )
            continue
        callers: set[str] = set()
        for r in rules:
            peers = r.get("from")
            if not check.rule(bool(peers), f"{label}: NetworkPolicy of {name} admits anyone"):
                continue
            for peer in peers:
                ok = (set(peer) == {"podSelector"}
                      and peer["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/instance")
                      == pod_labels["app.kubernetes.io/instance"])
                if check.rule(ok, f"{label}: NetworkPolicy of {name} admits a peer outside the release: {peer}"):
                    callers.add(peer["podSelector"]["matchLabels"].get("app.kubernetes.io/component"))
        expected = {
            COMPONENTS[k] for k in COMPONENTS
            if merged["components"][k]["enabled"] and COMPONENTS[k] in ALLOWED_CALLERS[component]
        }
        check.rule(
            callers == expected,
            f"{label}: {name} admits {sorted(callers)}, the design allows exactly {sorted(expected)}",
        )

    jobs = by_kind.get("Job", [])
    if merged["migrations"]["enabled"]:
        hooks = [
            j for j in jobs
            if {"pre-install", "pre-upgrade"}
            <= set(j["metadata"]["annotations"].get("helm.sh/hook", "").split(","))
        ]
        check.rule(len(hooks) == 1, f"{label}: no pre-install,pre-upgrade migration Job")
    if merged["ingress"]["enabled"]:
        ingresses = by_kind.get("Ingress", [])
        check.rule(
            len(ingresses) == 1 and bool(ingresses[0]["spec"].get("tls")),
            f"{label}: ingress enabled but no Ingress with TLS rendered",
        )


def self_test(docs: list[dict[str, Any]], check: Check) -> None:
    """The rules must catch what they are for: break a rendered Deployment and expect failures."""
    deployment = copy.deepcopy(next(d for d in docs if d["kind"] == "Deployment"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["image"] = "haven:latest"
    del container["readinessProbe"]
    container["securityContext"]["readOnlyRootFilesystem"] = False
    del container["resources"]["limits"]
    probe = Check()
    check_workload(deployment, probe, "self-test", None)
    wanted = ["not pinned", "readinessProbe", "readOnlyRootFilesystem", "resources.limits.cpu"]
    for word in wanted:
        check.rule(
            any(word in f for f in probe.failures),
            f"self-test: the workload rules did not catch a broken {word}",
        )
    try:
        with helm.Chart.load(CHART) as chart:
            chart.validate_schema({"image": {"tag": "latest"}})
        check.rule(False, "self-test: values.schema.json accepted image.tag=latest")
    except helm.HelmError:
        check.rule(True, "")


def check_values_documented(check: Check) -> None:
    """Every value in values.yaml is named in the chart's README (component values as components.<name>)."""
    readme = (CHART / "README.md").read_text()
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())

    def walk(node: Any, path: list[str]) -> None:
        if isinstance(node, dict) and node and not (path and path[-1] in OPAQUE_VALUES):
            for key, value in node.items():
                walk(value, path + [key])
            return
        if len(path) >= 2 and path[0] == "components":
            path = ["components", "<name>"] + path[2:]
        name = ".".join(path)
        check.rule(f"`{name}`" in readme, f"helm/haven/README.md does not document the value {name}")

    walk(defaults, [])


# Values documented as a whole rather than field by field.
OPAQUE_VALUES = {"resources", "readinessProbe", "livenessProbe", "podSecurityContext",
                 "containerSecurityContext"}


# --------------------------------------------------------------------------------------------- binary


def kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def serve_roles() -> tuple[set[str], str]:
    """The roles `haven serve` accepts, from the built binary if HAVEN_BIN is set, else from the source."""
    binary = os.environ.get("HAVEN_BIN")
    if binary:
        out = subprocess.run([binary, "serve", "--help"], capture_output=True, text=True, check=False)
        text = out.stdout + out.stderr
        m = re.search(r"\[possible values: ([^\]]+)\]", text)
        if out.returncode != 0 or not m:
            sys.exit(f"check-chart: `{binary} serve --help` did not list its possible values:\n{text}")
        return {v.strip() for v in m.group(1).split(",")}, f"{binary} serve --help"
    src = CLI_MAIN.read_text()
    m = re.search(r"\bServe\s*\{(.*?)\}", src, re.S)
    if not m:
        sys.exit(f"check-chart: no `Serve {{ .. }}` subcommand in {CLI_MAIN}")
    field = re.search(r"\w+\s*:\s*(?:Option<\s*)?([A-Z]\w*)", re.sub(r"#\[[^\]]*\]", "", m.group(1)))
    if not field:
        sys.exit(f"check-chart: cannot tell the type of the serve argument in {CLI_MAIN}")
    enum_name = field.group(1)
    m = re.search(r"\benum\s+" + enum_name + r"\s*\{(.*?)\n\}", src, re.S)
    if not m:
        sys.exit(f"check-chart: no `enum {enum_name}` in {CLI_MAIN}")
    body = re.sub(r"//[^\n]*", "", m.group(1))
    roles: set[str] = set()
    pending_name: str | None = None
    skip = False
    for token in re.finditer(r"#\[(\w+)\(([^\]]*)\)\]|\b([A-Z]\w*)\b\s*[,({]?", body):
        if token.group(1):
            if token.group(1) in ("value", "clap"):
                n = re.search(r'\bname\s*=\s*"([^"]+)"', token.group(2))
                pending_name = n.group(1) if n else pending_name
                skip = skip or bool(re.search(r"\bskip\b", token.group(2)))
            continue
        if not skip:
            roles.add(pending_name or kebab(token.group(3)))
        pending_name, skip = None, False
    return roles, f"enum {enum_name} in {os.path.relpath(CLI_MAIN, ROOT)}"


def config_key_vars() -> set[str]:
    """`HAVEN_<KEY>` / `HAVEN_<SECTION>__<KEY>` for every key in deploy/haven.example.toml, set or
    commented out: each config key path is a variable (crates/platform/src/config.rs)."""
    names: set[str] = set()
    section: list[str] = []
    for line in EXAMPLE_CONFIG.read_text().splitlines():
        header = re.match(r"^\[([a-z_.]+)\]\s*$", line)
        if header:
            section = header.group(1).split(".")
            continue
        key = re.match(r"^#?\s?([a-z_]+)\s*=", line)
        if key:
            names.add("HAVEN_" + "__".join(section + [key.group(1)]).upper())
    return names


def known_haven_vars() -> set[str]:
    names = set(DECLARED_HAVEN_VARS) | config_key_vars()
    for path in CONFIG_SOURCES:
        if path.exists():
            names |= set(re.findall(r"\b(HAVEN_[A-Z0-9_]+)\b", path.read_text()))
    return names


# -------------------------------------------------------------------------------------------- compose


def compose_image(image: str) -> str:
    """The image a compose entry resolves to by default: `${VAR:-default}` -> default."""
    m = re.fullmatch(r"\$\{\w+:?-([^}]+)\}", image)
    return m.group(1) if m else image


def check_compose(check: Check, roles: set[str], haven_vars: set[str]) -> int:
    doc = yaml.safe_load(COMPOSE.read_text())
    services: dict[str, Any] = doc.get("services") or {}
    check.rule(bool(services), f"{COMPOSE}: no services")
    served: dict[str, str] = {}
    attempted: set[str] = set()
    migrate = [n for n, s in services.items() if s.get("command") == ["migrate"]]
    check.rule(len(migrate) == 1, "compose: want exactly one one-shot service with command [\"migrate\"]")
    for name, svc in services.items():
        where = f"compose service {name}"
        image = str(svc.get("image", ""))
        check.rule(image_pinned(compose_image(image)), f"{where}: image {image!r} is not pinned to a tag")
        build = svc.get("build") or {}
        is_haven = isinstance(build, dict) and str(build.get("dockerfile", "")).endswith("deploy/Dockerfile")
        env = svc.get("environment") or {}
        env_names = set(env) if isinstance(env, dict) else {str(e).split("=", 1)[0] for e in env}
        for var in sorted(v for v in env_names if v.startswith("HAVEN_")):
            check.rule(var in haven_vars, f"{where}: {var} is not a variable Haven reads")
        if not is_haven:
            continue
        command = svc.get("command")
        if not check.rule(isinstance(command, list) and bool(command),
                          f"{where}: a Haven service needs a command list"):
            continue
        if command[0] == "serve":
            attempted.update(command[1:2])
            ok = len(command) == 2 and command[1] in roles
            check.rule(ok, f"{where}: `serve {' '.join(command[1:])}` is not a role the binary's serve "
                           f"accepts (it accepts: {', '.join(sorted(roles))})")
            if ok:
                check.rule(command[1] not in served,
                           f"{where}: serves {command[1]}, as {served.get(command[1])} already does")
                served[command[1]] = name
            deps = svc.get("depends_on") or {}
            check.rule(
                bool(migrate) and isinstance(deps, dict)
                and (deps.get(migrate[0]) or {}).get("condition") == "service_completed_successfully",
                f"{where}: does not wait for {migrate[0] if migrate else 'migrate'} to complete successfully",
            )
        elif command[0] == "migrate":
            check.rule(len(command) == 1 or (len(command) == 2 and command[1] in roles),
                       f"{where}: `migrate {' '.join(command[1:])}` names no known service")
        else:
            check.rule(command[0] in ("token",), f"{where}: unexpected command {command}")
    for role in sorted(set(COMPONENTS.values()) - set(served) - attempted):
        check.rule(False, f"compose: no service runs `serve {role}`")
    return len(services)


# ----------------------------------------------------------------------------------------------- main


def main() -> int:
    check = Check()
    roles, roles_from = serve_roles()
    haven_vars = known_haven_vars()
    production = yaml.safe_load(PRODUCTION_VALUES.read_text())
    minimal = {
        "components": {"familyTracing": {"enabled": False}, "learning": {"enabled": False},
                       "gateway": {"autoscaling": {"enabled": False}, "pdb": {"enabled": False}}},
        "migrations": {"enabled": False},
        "serviceAccount": {"create": False},
    }
    variants = [
        ("default values", None, "haven", "haven", True),
        ("values-production.yaml", production, "haven", "haven", True),
        ("minimal (two components, no hooks)", minimal, "country-office", "haven-test", False),
    ]
    manifests = 0
    default_docs: list[dict[str, Any]] = []
    for label, values, release, namespace, do_lint in variants:
        try:
            if do_lint:
                lint(values, check, label)
            docs = render(values, release, namespace)
        except helm.HelmError as e:
            check.rule(False, f"{label}: helm: {e}")
            continue
        if values is None:
            default_docs = docs
        with helm.Chart.load(CHART) as chart:
            merged = chart.merge_values(values)
        for doc in docs:
            validate_schemas(doc, check, label)
            for env in re.findall(r"name: (HAVEN_[A-Z0-9_]+)", yaml.safe_dump(doc)):
                check.rule(env in haven_vars, f"{label}: {doc['kind']}/{doc['metadata']['name']} sets "
                                              f"{env}, which Haven does not read")
        manifests += len(docs)
        check_chart(docs, merged, check, label, roles)
    if default_docs:
        self_test(default_docs, check)
    check_values_documented(check)
    services = check_compose(check, roles, haven_vars)

    if check.failures:
        print(f"check-chart: {len(check.failures)} of {check.rules} checks FAILED "
              f"(serve roles from {roles_from}: {', '.join(sorted(roles))}):", file=sys.stderr)
        for failure in check.failures:
            print(f"  - {failure}", file=sys.stderr)
        return 1
    print(f"serve roles from {roles_from}: {', '.join(sorted(roles))}; "
          f"schemas: Kubernetes {KUBE_MIN} and {KUBE_NEWEST} (strict); helm {helm.helm_sdk_version()}")
    print(f"chart: {manifests} manifests valid, {check.rules} rules checked; "
          f"compose: {services} services checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
