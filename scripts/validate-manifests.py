#!/usr/bin/env python3
"""Validates the Kubernetes manifests of deploy/kubernetes offline.

Each overlay is rendered with `kubectl kustomize` and every object is checked against the
Kubernetes API's schemas as python3-kubernetes (Debian's package) carries them, generated
from the API's OpenAPI document: every field must exist where it is written (a misspelt or
misplaced field is an error with its path and the names accepted there), every value must
have the field's type, and required fields must be present. autoscaling/v2 objects are
checked against the v2beta2 schema, which has the same fields (the package predates v2).

Then the serving Deployment is checked against the configuration it serves: the probes hit
/readyz and /healthz on the container's port, the readiness probe takes a pod out of the
Service before the preStop hook ends, and terminationGracePeriodSeconds covers preStop,
api.drain_delay_ms and api.drain_timeout_ms.

Usage: scripts/validate-manifests.py [OVERLAY_DIR...]   (default: every overlay)
Exit status 1 and one line per problem when anything is wrong.
"""
import difflib
import os
import re
import subprocess
import sys

import yaml

try:
    import kubernetes.client.models as models
except ImportError:
    sys.exit("validate-manifests: python3-kubernetes is not installed "
             "(scripts/install-deps.sh installs it)")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRIMITIVES = {"str": str, "int": int, "bool": bool, "float": (int, float)}


def model_class(api_version, kind):
    """The python3-kubernetes model of apiVersion/kind, e.g. apps/v1 Deployment -> V1Deployment."""
    version = api_version.split("/")[-1]
    if api_version == "autoscaling/v2":
        version = "v2beta2"
    name = version[0].upper() + version[1:] + kind
    return getattr(models, name, None)


def check_value(value, type_name, path, problems):
    if value is None:
        return
    if type_name in ("object", "datetime", "date"):
        return  # IntOrString, Quantity, free-form objects
    if type_name in PRIMITIVES:
        expected = PRIMITIVES[type_name]
        if isinstance(value, bool) and type_name != "bool":
            problems.append(f"{path}: expected {type_name}, got a boolean")
        elif not isinstance(value, expected):
            problems.append(f"{path}: expected {type_name}, got {type(value).__name__} {value!r}")
        return
    match = re.fullmatch(r"list\[(.+)\]", type_name)
    if match:
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list")
            return
        for i, item in enumerate(value):
            check_value(item, match.group(1), f"{path}/{i}", problems)
        return
    match = re.fullmatch(r"dict\(str, (.+)\)", type_name)
    if match:
        if not isinstance(value, dict):
            problems.append(f"{path}: expected a map")
            return
        for key, item in value.items():
            check_value(item, match.group(1), f"{path}/{key}", problems)
        return
    cls = getattr(models, type_name, None)
    if cls is None:
        problems.append(f"{path}: unknown schema type {type_name}")
        return
    check_object(value, cls, path, problems)


def check_object(value, cls, path, problems):
    if not isinstance(value, dict):
        problems.append(f"{path}: expected an object ({cls.__name__})")
        return
    by_json = {json_name: attr for attr, json_name in cls.attribute_map.items()}
    for key, item in value.items():
        if key not in by_json:
            close = difflib.get_close_matches(key, by_json, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(f"{path}/{key}: no such field in {cls.__name__}{hint}; accepted: "
                            + ", ".join(sorted(by_json)))
            continue
        check_value(item, cls.openapi_types[by_json[key]], f"{path}/{key}", problems)
    # Required fields: the model's constructor refuses None for them.
    for attr, json_name in cls.attribute_map.items():
        if json_name in value:
            continue
        try:
            instance = cls.__new__(cls)
            instance.local_vars_configuration = _CONFIGURATION
            setattr(instance, attr, None)
        except ValueError:
            problems.append(f"{path}: {cls.__name__} requires '{json_name}'")
        except (AttributeError, TypeError):
            pass


class _Configuration:
    client_side_validation = True


_CONFIGURATION = _Configuration()


SECRET_NAME = re.compile(r"(?i)(password|passwd|secret|token|access_key|private_key)")
URL_CREDENTIALS = re.compile(r"://[^/@\s:]+:[^/@\s]+@")


def check_no_secrets(obj, name, problems):
    """Secrets come from Secrets (envFrom/valueFrom), never as literal values."""
    def walk(node, path):
        if isinstance(node, dict):
            if "name" in node and "value" in node and isinstance(node["value"], str):
                if SECRET_NAME.search(node["name"]) or URL_CREDENTIALS.search(node["value"]):
                    problems.append(f"{name}: {path}: {node['name']} is given literally; "
                                    "take it from a Secret (valueFrom.secretKeyRef or envFrom)")
            for key, item in node.items():
                walk(item, f"{path}/{key}")
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{path}/{i}")
        elif isinstance(node, str) and URL_CREDENTIALS.search(node):
            problems.append(f"{name}: {path}: a URL with a password; take it from a Secret")
    if obj.get("kind") != "Secret":
        walk(obj, "")


def render(overlay):
    result = subprocess.run(["kubectl", "kustomize", overlay], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"validate-manifests: kubectl kustomize {overlay} failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def milliseconds(config_text, key, default):
    config = yaml.safe_load(config_text) or {}
    return float((config.get("api") or {}).get(key, default))


def check_serving(objects, where, problems):
    """The serving Deployment against the configuration in the ConfigMap it mounts."""
    deployment = next((o for o in objects if o["kind"] == "Deployment"), None)
    config_map = next((o for o in objects if o["kind"] == "ConfigMap"), None)
    if not deployment or not config_map:
        problems.append(f"{where}: no serving Deployment and ConfigMap")
        return
    config_text = config_map["data"]["config.yml"]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    listen = (yaml.safe_load(config_text).get("api") or {}).get("listen", "0.0.0.0:8080")
    port = int(str(listen).rsplit(":", 1)[1])
    ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    if port not in ports.values():
        problems.append(f"{where}: the container exposes {sorted(ports.values())}, "
                        f"api.listen is {listen}")

    def probe(name, path):
        p = container.get(name)
        if not p or p.get("httpGet", {}).get("path") != path:
            problems.append(f"{where}: {name} must GET {path}")
            return None
        target = p["httpGet"]["port"]
        if ports.get(target, target) != port:
            problems.append(f"{where}: {name} targets port {target}, the server listens on {port}")
        return p

    ready = probe("readinessProbe", "/readyz")
    probe("livenessProbe", "/healthz")
    probe("startupProbe", "/healthz")
    command = (container.get("lifecycle", {}).get("preStop", {}).get("exec", {}) or {}).get(
        "command", [])
    if len(command) != 2 or not command[0].endswith("sleep"):
        problems.append(f"{where}: preStop must be a sleep (the pod leaves the Service first)")
        return
    pre_stop = float(command[1])
    if ready:
        out_after = ready.get("periodSeconds", 10) * ready.get("failureThreshold", 3)
        if out_after > pre_stop + milliseconds(config_text, "drain_delay_ms", 0) / 1000:
            problems.append(f"{where}: readiness takes {out_after} s to fail, longer than preStop "
                            f"({pre_stop} s) and api.drain_delay_ms together")
    needed = (pre_stop + milliseconds(config_text, "drain_delay_ms", 0) / 1000 +
              milliseconds(config_text, "drain_timeout_ms", 10000) / 1000)
    grace = pod.get("terminationGracePeriodSeconds", 30)
    if grace <= needed:
        problems.append(f"{where}: terminationGracePeriodSeconds {grace} must exceed preStop "
                        f"+ api.drain_delay_ms + api.drain_timeout_ms = {needed} s")


def main():
    overlays = sys.argv[1:] or sorted(
        os.path.join(ROOT, "deploy/kubernetes/overlays", name)
        for name in os.listdir(os.path.join(ROOT, "deploy/kubernetes/overlays")))
    problems = []
    count = 0
    for overlay in overlays:
        objects = render(overlay)
        where = os.path.relpath(overlay, ROOT)
        for obj in objects:
            name = f"{where}: {obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
            cls = model_class(obj.get("apiVersion", ""), obj.get("kind", ""))
            if cls is None:
                problems.append(f"{name}: no schema for {obj.get('apiVersion')} {obj.get('kind')}")
                continue
            check_object(obj, cls, name, problems)
            check_no_secrets(obj, name, problems)
            count += 1
        check_serving(objects, where, problems)
    for problem in problems:
        print(problem)
    print(f"validate-manifests: {count} objects in {len(overlays)} overlays, "
          f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
